//! Call timeouts without a timer per call.
//!
//! A local [`call`](crate::ActorRef::call) used to wrap its reply receiver in
//! `tokio::time::timeout`: every call put an entry into tokio's timer wheel on its first
//! pending poll and took it out again when the reply came, under the wheel's lock. That was
//! about a quarter of the instructions of a whole call (see `BENCHMARKS.md`), for a timer that
//! almost never fires.
//!
//! Instead, each node keeps one table of *waiting* calls (deadline and waker, in a slab
//! whose free slots are reused) and one watchdog task that sleeps until the earliest deadline
//! it knows of. A call registers only when its first poll finds no reply, and leaves the table
//! when it completes or is dropped. The watchdog is told about a new call only when that call's
//! deadline is earlier than the one it sleeps until (or it sleeps with nothing to wait for),
//! so a stream of calls with the same timeout never wakes it. When it wakes it marks the calls
//! whose deadline has passed as expired, wakes them, and sleeps until the next deadline.
//!
//! Semantics are those of `tokio::time::timeout`: a call fails with `Timeout` once its
//! deadline (from `tokio::time::Instant`, so paused time works) has passed and no reply has
//! arrived; a reply that is already there wins. The table holds at most one entry per call
//! in progress (its size is bounded by the callers waiting at once), and shrinks back when
//! they are gone.

use parking_lot::Mutex;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use tokio::sync::Notify;
use tokio::time::Instant;

/// One waiting call.
struct Slot {
    deadline: Instant,
    waker: Option<Waker>,
    expired: bool,
}

#[derive(Default)]
struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    waiting: usize,
    /// What the watchdog sleeps until; `None` when it waits to be told (or is not started).
    armed: Option<Instant>,
    started: bool,
}

/// A node's waiting calls and the watchdog that times them out.
pub(crate) struct CallDeadlines {
    table: Mutex<Table>,
    notify: Arc<Notify>,
    rt: tokio::runtime::Handle,
}

impl Drop for CallDeadlines {
    fn drop(&mut self) {
        // The watchdog holds only a weak reference: let it see that the node is gone.
        self.notify.notify_one();
    }
}

impl CallDeadlines {
    pub(crate) fn new(rt: tokio::runtime::Handle) -> Self {
        CallDeadlines {
            table: Mutex::new(Table::default()),
            notify: Arc::new(Notify::new()),
            rt,
        }
    }

    /// Registers a waiting call; returns its slot.
    pub(crate) fn register(self: &Arc<Self>, deadline: Instant, waker: &Waker) -> usize {
        let (idx, tell, start) = {
            let mut t = self.table.lock();
            let slot = Some(Slot {
                deadline,
                waker: Some(waker.clone()),
                expired: false,
            });
            let idx = match t.free.pop() {
                Some(i) => {
                    t.slots[i] = slot;
                    i
                }
                None => {
                    t.slots.push(slot);
                    t.slots.len() - 1
                }
            };
            t.waiting += 1;
            let tell = t.armed.is_none_or(|a| deadline < a);
            if tell {
                // Told now: it will sleep until this deadline at the latest.
                t.armed = Some(deadline);
            }
            let start = !std::mem::replace(&mut t.started, true);
            (idx, tell, start)
        };
        if start {
            self.rt
                .spawn(watchdog(Arc::downgrade(self), self.notify.clone()));
        } else if tell {
            self.notify.notify_one();
        }
        idx
    }

    /// Whether the call in `idx` has expired; otherwise keeps `waker` as the one to wake.
    pub(crate) fn poll_expired(&self, idx: usize, cx: &mut Context<'_>) -> Poll<()> {
        let mut t = self.table.lock();
        let Some(slot) = t.slots[idx].as_mut() else {
            return Poll::Ready(());
        };
        if slot.expired {
            return Poll::Ready(());
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The call in `idx` is over (answered, expired or dropped).
    pub(crate) fn release(&self, idx: usize) {
        let slot = {
            let mut t = self.table.lock();
            let slot = t.slots[idx].take();
            t.waiting -= 1;
            if t.waiting == 0 && t.slots.len() > 64 {
                // A burst of callers is over: give the memory back.
                t.slots = Vec::new();
                t.free = Vec::new();
            } else {
                t.free.push(idx);
            }
            slot
        };
        // The waker is dropped outside the lock.
        drop(slot);
    }

    /// Marks expired calls and wakes them; the earliest deadline still waiting, if any.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut wake = Vec::new();
        let next = {
            let mut t = self.table.lock();
            let mut next: Option<Instant> = None;
            for slot in t.slots.iter_mut().flatten() {
                if slot.expired {
                    continue;
                }
                if slot.deadline <= now {
                    slot.expired = true;
                    wake.extend(slot.waker.take());
                } else {
                    next = Some(next.map_or(slot.deadline, |n| n.min(slot.deadline)));
                }
            }
            t.armed = next;
            next
        };
        wake.into_iter().for_each(Waker::wake);
        next
    }
}

/// Sleeps until the earliest deadline, expires what is due, and again; waits for a
/// notification when nothing waits. Ends when the node's table is gone.
async fn watchdog(table: Weak<CallDeadlines>, notify: Arc<Notify>) {
    loop {
        let next = match table.upgrade() {
            Some(t) => t.expire(Instant::now()),
            None => return,
        };
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

/// A call's place in the table, released when the call ends however it ends.
pub(crate) struct Waiting<'a> {
    pub(crate) table: &'a Arc<CallDeadlines>,
    pub(crate) idx: Option<usize>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.idx.take() {
            self.table.release(i);
        }
    }
}

#[cfg(test)]
impl CallDeadlines {
    /// Calls waiting, and slots allocated.
    fn sizes(&self) -> (usize, usize) {
        let t = self.table.lock();
        (t.waiting, t.slots.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Actor, CallError, Context, Node, ReplyTo};
    use std::time::Duration;

    /// Keeps every request unanswered.
    struct Hoarder(Vec<ReplyTo<u8>>);

    impl Actor for Hoarder {
        type Msg = ReplyTo<u8>;
        async fn handle(&mut self, r: ReplyTo<u8>, _ctx: &mut Context<Self>) {
            self.0.push(r);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_timed_out_calls_leaves_an_empty_table() {
        let node = Node::new("deadline@localhost");
        let h = node.spawn(Hoarder(Vec::new())).await.unwrap();
        let calls: Vec<_> = (0..200u64)
            .map(|i| {
                let h = h.clone();
                tokio::spawn(async move {
                    let t = tokio::time::Instant::now();
                    let r = h.call(|r| r, Duration::from_millis(10 + i % 7)).await;
                    (r, t.elapsed())
                })
            })
            .collect();
        for c in calls {
            let (r, took) = c.await.unwrap();
            assert_eq!(r, Err(CallError::Timeout));
            assert!(took >= Duration::from_millis(10) && took < Duration::from_millis(20));
        }
        let cell = h.process().unwrap().into_any();
        let cell = cell
            .downcast::<crate::process::Cell<ReplyTo<u8>>>()
            .ok()
            .unwrap();
        // Every call left the table, and the burst's memory was given back.
        assert_eq!(cell.deadlines().sizes(), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_is_not_held_up_by_a_later_one() {
        let node = Node::new("deadline@localhost");
        let h = node.spawn(Hoarder(Vec::new())).await.unwrap();
        let h2 = h.clone();
        let long = tokio::spawn(async move { h2.call(|r| r, Duration::from_secs(60)).await });
        tokio::task::yield_now().await;
        let t = tokio::time::Instant::now();
        assert_eq!(
            h.call(|r| r, Duration::from_millis(5)).await,
            Err(CallError::Timeout)
        );
        assert_eq!(t.elapsed(), Duration::from_millis(5));
        assert_eq!(long.await.unwrap(), Err(CallError::Timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_call_leaves_the_table_and_answered_calls_never_wait() {
        let node = Node::new("deadline@localhost");
        let h = node.spawn(Hoarder(Vec::new())).await.unwrap();
        let call = h.call(|r| r, Duration::from_secs(1));
        // Dropped while waiting (e.g. lost a select).
        assert!(tokio::time::timeout(Duration::from_millis(1), call)
            .await
            .is_err());
        let cell = h.process().unwrap().into_any();
        let cell = cell
            .downcast::<crate::process::Cell<ReplyTo<u8>>>()
            .ok()
            .unwrap();
        assert_eq!(cell.deadlines().sizes().0, 0);

        struct Echo;
        impl Actor for Echo {
            type Msg = (u8, ReplyTo<u8>);
            async fn handle(&mut self, (n, r): (u8, ReplyTo<u8>), _ctx: &mut Context<Self>) {
                r.send(n);
            }
        }
        let e = node.spawn(Echo).await.unwrap();
        for n in 0..100 {
            assert_eq!(e.call(|r| (n, r), Duration::from_millis(1)).await, Ok(n));
        }
        assert_eq!(
            h.call(|r| r, Duration::ZERO).await,
            Err(CallError::Timeout),
            "a zero timeout fails at once, as tokio::time::timeout does"
        );
        assert_eq!(cell.deadlines().sizes().0, 0);
    }
}
