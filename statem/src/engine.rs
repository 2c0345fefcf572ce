//! The event queue and the timers of one machine: the part of OTP's transition that runs
//! after the callbacks (postpone, state change, timeouts, inserted events).

use crate::actor::{Statem, StatemMsg, Sys, SysKind};
use crate::ctx::{Buffers, Timeout, TimerKind};
use crate::machine::{Event, StateMachine};
use actor_core::{Context, TimerRef};
use std::collections::{HashMap, VecDeque};
use tokio::time::Instant;

/// A running timeout.
pub(crate) struct Running<T> {
    /// Unique per start: a fired timer whose generation is not the running one's is stale
    /// (cancelled or restarted after its message was queued) and is ignored.
    gen: u64,
    /// The timer service entry; `None` for a zero timeout, which waits in `t0q` instead.
    timer: Option<TimerRef>,
    content: T,
}

pub(crate) struct Core<M: StateMachine> {
    /// Events to handle before the next external one: inserted and retried (postponed) ones.
    pub(crate) queue: VecDeque<Event<M>>,
    /// Postponed events, oldest first.
    pub(crate) postponed: VecDeque<Event<M>>,
    /// Zero timeouts that have not fired yet, in order; they fire when `queue` is empty,
    /// before the next external event.
    pub(crate) t0q: VecDeque<TimerKind<M::Timer>>,
    state_timer: Option<Running<M::Msg>>,
    event_timer: Option<Running<M::Msg>>,
    generic: HashMap<M::Timer, Running<M::Msg>>,
    next_gen: u64,
    pub(crate) hibernate: bool,
    /// Scratch space for one transition's timeouts.
    seen: Vec<M::Timer>,
    zeros: Vec<TimerKind<M::Timer>>,
}

impl<M: StateMachine> Core<M> {
    pub(crate) fn new() -> Self {
        Core {
            queue: VecDeque::new(),
            postponed: VecDeque::new(),
            t0q: VecDeque::new(),
            state_timer: None,
            event_timer: None,
            generic: HashMap::new(),
            next_gen: 0,
            hibernate: false,
            seen: Vec::new(),
            zeros: Vec::new(),
        }
    }

    /// Whether events wait to be handled before the next external one.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        !self.queue.is_empty() || !self.t0q.is_empty()
    }

    /// The next event to handle before any external one: a queued event, else a zero timeout.
    pub(crate) fn next_pending(&mut self) -> Option<Event<M>> {
        if let Some(ev) = self.queue.pop_front() {
            return Some(ev);
        }
        while let Some(kind) = self.t0q.pop_front() {
            let running = match &kind {
                TimerKind::State => self.state_timer.take(),
                TimerKind::Event => self.event_timer.take(),
                TimerKind::Generic(name) => self.generic.remove(name),
            };
            if let Some(r) = running {
                debug_assert!(r.timer.is_none(), "a zero timeout has no timer");
                return Some(timeout_event(kind, r.content));
            }
        }
        None
    }

    /// The event of a fired timer, or `None` if the timer is stale.
    pub(crate) fn fired(&mut self, kind: TimerKind<M::Timer>, gen: u64) -> Option<Event<M>> {
        let slot = match &kind {
            TimerKind::State => &mut self.state_timer,
            TimerKind::Event => &mut self.event_timer,
            TimerKind::Generic(name) => {
                return match self.generic.get(name) {
                    Some(r) if r.gen == gen && r.timer.is_some() => {
                        let r = self.generic.remove(name).expect("present");
                        Some(timeout_event(kind, r.content))
                    }
                    _ => None,
                };
            }
        };
        match slot {
            Some(r) if r.gen == gen && r.timer.is_some() => {
                let r = slot.take().expect("present");
                Some(timeout_event(kind, r.content))
            }
            _ => None,
        }
    }

    /// The transition proper, after the callbacks of one event (and its enter calls) have
    /// returned: OTP's steps in OTP's order.
    pub(crate) fn transition(
        &mut self,
        changed: bool,
        buf: &mut Buffers<M>,
        actor: &Context<Statem<M>>,
    ) {
        // 1. The current event is postponed if asked.
        if let Some(ev) = buf.postpone.take() {
            self.postponed.push_back(ev);
        }
        if changed {
            // 2. A change of state retries the postponed events, oldest first, before the
            //    events already queued.
            while let Some(ev) = self.postponed.pop_back() {
                self.queue.push_front(ev);
            }
            // 5. A change of state cancels the state timeout.
            if let Some(r) = self.state_timer.take() {
                self.stop_running(&TimerKind::State, r, actor);
            }
        }
        // 5. Any event cancels the event timeout.
        if let Some(r) = self.event_timer.take() {
            self.stop_running(&TimerKind::Event, r, actor);
        }
        // 4. Timers are started, restarted, updated or cancelled (the last action of each
        //    timer wins).
        if !buf.timeouts.is_empty() {
            self.timeouts(buf, actor);
        }
        // 3. Inserted events go first, in the order given.
        for ev in buf.next_events.drain(..).rev() {
            self.queue.push_front(ev);
        }
        // 6. For options, the last one wins.
        self.hibernate = std::mem::take(&mut buf.hibernate);
    }

    /// Applies one transition's timeout actions: for each timer the last action wins, so they
    /// are read from the last one back and earlier ones of a timer already seen are skipped.
    /// Zero timeouts go to the end of `t0q` in the order their actions were given.
    fn timeouts(&mut self, buf: &mut Buffers<M>, actor: &Context<Statem<M>>) {
        let (mut state_seen, mut event_seen) = (false, false);
        self.seen.clear();
        self.zeros.clear();
        while let Some((kind, t)) = buf.timeouts.pop() {
            let first = match &kind {
                TimerKind::State => !std::mem::replace(&mut state_seen, true),
                TimerKind::Event => !std::mem::replace(&mut event_seen, true),
                TimerKind::Generic(name) => {
                    if self.seen.contains(name) {
                        false
                    } else {
                        self.seen.push(name.clone());
                        true
                    }
                }
            };
            if first {
                self.apply_timeout(kind, t, actor);
            }
        }
        while let Some(kind) = self.zeros.pop() {
            self.t0q.push_back(kind);
        }
    }

    fn slot(&mut self, kind: &TimerKind<M::Timer>) -> Option<&mut Running<M::Msg>> {
        match kind {
            TimerKind::State => self.state_timer.as_mut(),
            TimerKind::Event => self.event_timer.as_mut(),
            TimerKind::Generic(name) => self.generic.get_mut(name),
        }
    }

    fn take(&mut self, kind: &TimerKind<M::Timer>) -> Option<Running<M::Msg>> {
        match kind {
            TimerKind::State => self.state_timer.take(),
            TimerKind::Event => self.event_timer.take(),
            TimerKind::Generic(name) => self.generic.remove(name),
        }
    }

    fn put(&mut self, kind: TimerKind<M::Timer>, r: Running<M::Msg>) {
        match kind {
            TimerKind::State => self.state_timer = Some(r),
            TimerKind::Event => self.event_timer = Some(r),
            TimerKind::Generic(name) => {
                self.generic.insert(name, r);
            }
        }
    }

    /// Stops a running timer that has been taken out of its slot.
    fn stop_running(
        &mut self,
        kind: &TimerKind<M::Timer>,
        r: Running<M::Msg>,
        actor: &Context<Statem<M>>,
    ) {
        match r.timer {
            // If it already fired, its message is stale now and will be ignored.
            Some(t) => {
                actor.cancel_timer(t);
            }
            None => {
                if let Some(i) = self.t0q.iter().position(|k| k == kind) {
                    self.t0q.remove(i);
                }
            }
        }
    }

    fn apply_timeout(
        &mut self,
        kind: TimerKind<M::Timer>,
        t: Timeout<M::Msg>,
        actor: &Context<Statem<M>>,
    ) {
        let (after, zero, content) = match t {
            Timeout::Cancel => {
                if let Some(r) = self.take(&kind) {
                    self.stop_running(&kind, r, actor);
                }
                return;
            }
            Timeout::Update(content) => {
                if let Some(r) = self.slot(&kind) {
                    r.content = content;
                } else {
                    // Not running: fires at once, as a zero timeout.
                    let gen = self.gen();
                    self.zeros.push(kind.clone());
                    let r = Running {
                        gen,
                        timer: None,
                        content,
                    };
                    self.put(kind, r);
                }
                return;
            }
            // Only a relative zero is a zero timeout, as in OTP; an instant that is already
            // due goes through the timer service.
            Timeout::After(after, content) => (after, after.is_zero(), content),
            Timeout::At(at, content) => {
                (at.saturating_duration_since(Instant::now()), false, content)
            }
        };
        // Setting a running timer restarts it.
        if let Some(r) = self.take(&kind) {
            self.stop_running(&kind, r, actor);
        }
        let gen = self.gen();
        let timer = if zero {
            self.zeros.push(kind.clone());
            None
        } else {
            let fire = StatemMsg::Sys(Sys(SysKind::Fire {
                kind: kind.clone(),
                gen,
            }));
            Some(actor.send_after(after, fire))
        };
        self.put(
            kind,
            Running {
                gen,
                timer,
                content,
            },
        );
    }

    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Releases the memory of empty buffers (hibernation).
    pub(crate) fn shrink(&mut self) {
        self.queue.shrink_to_fit();
        self.postponed.shrink_to_fit();
        self.t0q.shrink_to_fit();
        self.generic.shrink_to_fit();
        self.seen = Vec::new();
        self.zeros = Vec::new();
    }
}

fn timeout_event<M: StateMachine>(kind: TimerKind<M::Timer>, content: M::Msg) -> Event<M> {
    match kind {
        TimerKind::State => Event::StateTimeout(content),
        TimerKind::Event => Event::EventTimeout(content),
        TimerKind::Generic(name) => Event::GenericTimeout(name, content),
    }
}
