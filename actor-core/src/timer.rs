//! Timers: `send_after`, intervals and cancellation, driven by one task per node.
//!
//! All timers of a node live in one ordered map served by a single driver task, so a timer
//! costs one map entry and one boxed action, not a task. That keeps one timer per actor cheap.
//! Time comes only from `tokio::time`, so paused and simulated time work.

use crate::actor_ref::ActorRef;
use crate::error::SendError;
use crate::node::Node;
use crate::pid::Ref;
use crate::process::Process;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Identifies a timer, for [`Node::cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerRef(Ref);

type Action = Box<dyn FnMut() -> bool + Send>;

struct Entry {
    id: Ref,
    action: Action,
    period: Option<Duration>,
    /// The local process the timer is addressed to: it forgets the timer when it fires or is
    /// cancelled, and cancels it when it exits.
    owner: Option<Arc<dyn Process>>,
}

#[derive(Default)]
struct State {
    queue: BTreeMap<(Instant, Ref), Entry>,
    /// Deadline of every live timer; `None` while its action runs.
    index: HashMap<Ref, Option<Instant>>,
    driver: bool,
}

pub(crate) struct TimerService {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

impl Drop for TimerService {
    fn drop(&mut self) {
        // Wakes the driver so it sees the node is gone and ends.
        self.notify.notify_one();
    }
}

impl TimerService {
    pub(crate) fn new() -> Self {
        TimerService {
            state: Arc::new(Mutex::new(State::default())),
            notify: Arc::new(Notify::new()),
        }
    }

    fn insert(&self, rt: &tokio::runtime::Handle, id: Ref, at: Instant, entry: Entry) {
        let mut st = self.state.lock();
        let earliest = st.queue.keys().next().map(|(t, _)| *t);
        st.index.insert(id, Some(at));
        st.queue.insert((at, id), entry);
        if !st.driver {
            st.driver = true;
            rt.spawn(drive(Arc::downgrade(&self.state), self.notify.clone()));
        } else if earliest.is_none_or(|e| at < e) {
            self.notify.notify_one();
        }
    }

    /// Cancels a timer: the time that was left, if it was waiting.
    pub(crate) fn cancel(&self, id: Ref) -> Option<Duration> {
        let (left, entry) = {
            let mut st = self.state.lock();
            match st.index.remove(&id)? {
                Some(at) => {
                    let entry = st.queue.remove(&(at, id));
                    (Some(at.saturating_duration_since(Instant::now())), entry)
                }
                // Firing right now; removing it from the index stops an interval re-arming.
                None => (None, None),
            }
        };
        // Dropped outside the lock: the message it held may run user code when dropped.
        if let Some(e) = entry {
            if let Some(owner) = &e.owner {
                owner.core().remove_timer(id);
            }
        }
        left
    }

    fn pending(&self) -> usize {
        self.state.lock().index.len()
    }
}

async fn drive(state: Weak<Mutex<State>>, notify: Arc<Notify>) {
    loop {
        let Some(state) = state.upgrade() else { return };
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let mut st = state.lock();
            while let Some(entry) = st.queue.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let ((at, id), e) = entry.remove_entry();
                st.index.insert(id, None);
                due.push((at, e));
            }
        }
        for (at, mut e) in due {
            let keep = (e.action)();
            let mut st = state.lock();
            match (keep, e.period, st.index.get(&e.id)) {
                (true, Some(p), Some(None)) => {
                    let next_at = (at + p).max(now);
                    st.index.insert(e.id, Some(next_at));
                    st.queue.insert((next_at, e.id), e);
                }
                _ => {
                    st.index.remove(&e.id);
                    drop(st);
                    if let Some(owner) = &e.owner {
                        owner.core().remove_timer(e.id);
                    }
                }
            }
        }
        // The earliest deadline now, after intervals re-armed and cancels took effect.
        let next = state.lock().queue.keys().next().map(|(t, _)| *t);
        drop(state);
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notify.notified() => {}
                }
            }
            None => notify.notified().await,
        }
    }
}

impl Node {
    /// Sends `msg` to `to` after `after` (OTP `erlang:send_after/3`).
    ///
    /// A timer addressed to a local actor is cancelled when that actor exits (as OTP cancels
    /// timers whose destination is a pid), so a dead actor's cell and mailbox are freed at
    /// once, not when the timer would have fired. A timer to a remote actor fires regardless.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node, ReplyTo};
    /// # use std::time::Duration;
    /// # struct A; impl Actor for A { type Msg = u8; async fn handle(&mut self, _: u8, _: &mut Context<Self>) {} }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("t@localhost");
    /// let a = node.spawn(A).await.unwrap();
    /// let t = node.send_after(Duration::from_secs(60), &a, 1);
    /// assert!(node.cancel_timer(t).is_some());
    /// assert!(node.cancel_timer(t).is_none());
    /// # });
    /// ```
    pub fn send_after<M: Send + 'static>(
        &self,
        after: Duration,
        to: &ActorRef<M>,
        msg: M,
    ) -> TimerRef {
        let id = self.make_ref();
        let owner = to.process();
        let to = to.clone();
        let mut msg = Some(msg);
        let action: Action = Box::new(move || {
            if let Some(m) = msg.take() {
                let _ = to.tell(m);
            }
            false
        });
        let entry = Entry {
            id,
            action,
            period: None,
            owner: owner.clone(),
        };
        self.inner
            .timers
            .insert(&self.inner.rt, id, Instant::now() + after, entry);
        self.own_timer(owner, id);
        TimerRef(id)
    }

    /// Ties a timer to the local process it is addressed to. Done after the timer is queued,
    /// so either the owner's exit finds it to cancel, or the owner is already exiting and the
    /// timer is cancelled here.
    fn own_timer(&self, owner: Option<Arc<dyn Process>>, id: Ref) {
        if let Some(owner) = owner {
            if !owner.core().add_timer(id) {
                self.inner.timers.cancel(id);
            }
        }
    }

    /// Sends `make()` to `to` every `period`, until cancelled or `to` exits.
    ///
    /// A tick that finds a bounded mailbox full (or the connection to a remote actor's node
    /// busy or down) is skipped; the interval stops only when `to` is gone or the message
    /// cannot be encoded.
    pub fn send_interval<M: Send + 'static>(
        &self,
        period: Duration,
        to: &ActorRef<M>,
        mut make: impl FnMut() -> M + Send + 'static,
    ) -> TimerRef {
        let id = self.make_ref();
        let to = to.clone();
        let owner = to.process();
        let period = period.max(Duration::from_micros(1));
        let action: Action = Box::new(move || match to.tell(make()) {
            Ok(()) | Err(SendError::Full(_)) | Err(SendError::NoConnection(_)) => true,
            Err(SendError::NoProc(_)) | Err(SendError::Encode(..)) => false,
        });
        let entry = Entry {
            id,
            action,
            period: Some(period),
            owner: owner.clone(),
        };
        self.inner
            .timers
            .insert(&self.inner.rt, id, Instant::now() + period, entry);
        self.own_timer(owner, id);
        TimerRef(id)
    }

    /// Cancels a timer. Returns the time that was left, or `None` if it already fired or was
    /// cancelled (OTP `erlang:cancel_timer/1` returning `false`).
    pub fn cancel_timer(&self, timer: TimerRef) -> Option<Duration> {
        self.inner.timers.cancel(timer.0)
    }

    /// Number of timers waiting to fire.
    pub fn pending_timers(&self) -> usize {
        self.inner.timers.pending()
    }
}
