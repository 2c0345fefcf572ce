//! [`Ctx`]: what a callback can do, and the [`Action`]s it gives (OTP's action list).

use crate::actor::{Statem, StatemRef};
use crate::machine::{Event, StateMachine};
use actor_core::{Context, LinkError, MonitorRef, Node, Pid, ReplyTo};
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// A timeout action's time, for any of the three timeout types (OTP's `Time` and the
/// `update` / `cancel` forms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timeout<T> {
    /// Fire after this time, with this content. Starts the timer, or restarts it if it is
    /// running. `Duration::ZERO` is OTP's zero timeout: the event is queued after the events
    /// already queued, before any new external event.
    After(Duration, T),
    /// Fire at this (tokio) instant, with this content (OTP `{abs, true}`). An instant in
    /// the past fires at once, through the timer service (not as a zero timeout).
    At(Instant, T),
    /// Change the content of the running timer and keep its time. If it is not running, the
    /// timeout fires at once, as a zero timeout (OTP `update`).
    Update(T),
    /// Stop the timer; its timeout does not fire (OTP `cancel`, or a time of `infinity`).
    Cancel,
}

/// An action a callback gives (OTP's `action()`). Usually given with the methods of [`Ctx`];
/// [`Ctx::push`] takes them as values, e.g. from a list built elsewhere:
///
/// ```
/// # use statem::{Action, Ctx, StateMachine, Timeout};
/// # use std::time::Duration;
/// fn arm<M: StateMachine<Timer = &'static str>>(ctx: &mut Ctx<'_, M>, ping: M::Msg, pong: M::Msg) {
///     for action in [
///         Action::GenericTimeout("ping", Timeout::After(Duration::from_secs(1), ping)),
///         Action::GenericTimeout("pong", Timeout::After(Duration::ZERO, pong)),
///         Action::StateTimeout(Timeout::Cancel),
///     ] {
///         ctx.push(action);
///     }
/// }
/// ```
pub enum Action<M: StateMachine> {
    /// `{reply, From, Reply}`: sent at once, when the action is given.
    Reply(ReplyTo<M::Reply>, M::Reply),
    /// `postpone`: the event (given back by value) is kept and retried after the next change
    /// of state.
    Postpone(Event<M>),
    /// `{next_event, Type, Content}`: handle this event next, before the queued ones.
    NextEvent(Event<M>),
    /// `{state_timeout, Time, Content}`, `{state_timeout, update, Content}`,
    /// `{state_timeout, cancel}`.
    StateTimeout(Timeout<M::Msg>),
    /// `{timeout, Time, Content}` (the event timeout).
    EventTimeout(Timeout<M::Msg>),
    /// `{{timeout, Name}, Time, Content}` (a generic timeout).
    GenericTimeout(M::Timer, Timeout<M::Msg>),
    /// `{hibernate, Bool}`.
    Hibernate(bool),
}

/// Which timer a timeout action or a fired timer is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TimerKind<N> {
    State,
    Event,
    Generic(N),
}

/// Which callback is running: it decides which actions are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Init,
    Event,
    Enter,
}

/// A timeout action, as collected: which timer, and what to do with it.
pub(crate) type TimeoutAction<M> = (
    TimerKind<<M as StateMachine>::Timer>,
    Timeout<<M as StateMachine>::Msg>,
);

/// A reply waiting for its transition to be durable.
pub(crate) type HeldReply<M> = (
    ReplyTo<<M as StateMachine>::Reply>,
    <M as StateMachine>::Reply,
);

/// The actions of one callback, collected until it returns. Reused from event to event, so
/// an event without actions allocates nothing.
pub(crate) struct Buffers<M: StateMachine> {
    pub(crate) mode: Mode,
    pub(crate) postpone: Option<Event<M>>,
    pub(crate) next_events: Vec<Event<M>>,
    pub(crate) timeouts: Vec<TimeoutAction<M>>,
    pub(crate) hibernate: bool,
    /// The first bad action (an enter call postponing or inserting an event, ...).
    pub(crate) error: Option<String>,
    /// Events given with bad actions: kept (not dropped) until the machine exits, so that a
    /// caller in them sees the exit reason rather than a dropped reply handle.
    pub(crate) rejected: Vec<Event<M>>,
    /// With a [`Persist`](crate::Persist) hook: the replies given during the current event,
    /// released once the transition is durable. `None`: replies go at once.
    pub(crate) held: Option<Vec<HeldReply<M>>>,
    /// Replies of a transition that could not be made durable: kept until the machine exits,
    /// so that their callers see its exit reason.
    pub(crate) doomed: Vec<HeldReply<M>>,
}

impl<M: StateMachine> Buffers<M> {
    pub(crate) fn new() -> Self {
        Buffers {
            mode: Mode::Init,
            postpone: None,
            next_events: Vec::new(),
            timeouts: Vec::new(),
            hibernate: false,
            error: None,
            rejected: Vec::new(),
            held: None,
            doomed: Vec::new(),
        }
    }

    fn bad(&mut self, what: &str) {
        if self.error.is_none() {
            let during = match self.mode {
                Mode::Init => "init",
                Mode::Enter => "a state enter call",
                Mode::Event => "an event callback",
            };
            self.error = Some(format!("statem: {during} may not {what}"));
        }
    }

    pub(crate) fn shrink(&mut self) {
        self.next_events.shrink_to_fit();
        self.timeouts.shrink_to_fit();
    }
}

/// What a callback can do: give actions, and reach the actor underneath.
///
/// Replies are sent at once. Every other action takes effect when the callback returns, in
/// OTP's order (see the [crate docs](crate#transition-order)); for each kind of action (each
/// timeout type, each generic timeout name, hibernate) the last one given wins, and
/// `next_event`s are all kept, in the order given.
///
/// A door that stays open for a second, keeps the knocks that come meanwhile for when it is
/// closed again, and logs each knock with an internal event:
///
/// ```
/// use actor_core::{ExitReason, Node};
/// use statem::{Ctx, Event, StateMachine, Statem, Transition};
/// use std::time::Duration;
///
/// struct Door { log: Vec<String> }
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum S { Closed, Open }
///
/// enum Msg { Open, Knock, Close, Log(&'static str) }
///
/// impl StateMachine for Door {
///     type State = S;
///     type Call = ();
///     type Reply = Vec<String>;
///     type Msg = Msg;
///     type Timer = ();
///
///     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<S, ExitReason> {
///         Ok(S::Closed)
///     }
///
///     async fn handle_event(&mut self, s: &S, ev: Event<Self>, ctx: &mut Ctx<'_, Self>)
///         -> Transition<Self>
///     {
///         match (s, ev) {
///             (S::Closed, Event::Cast(Msg::Open)) => {
///                 ctx.state_timeout(Duration::from_secs(1), Msg::Close);
///                 Transition::NextState(S::Open)
///             }
///             (S::Open, ev @ Event::Cast(Msg::Knock)) => {
///                 ctx.postpone(ev);
///                 Transition::KeepState
///             }
///             (S::Open, Event::StateTimeout(Msg::Close)) => Transition::NextState(S::Closed),
///             (S::Closed, Event::Cast(Msg::Knock)) => {
///                 ctx.next_internal(Msg::Log("knock"));
///                 Transition::KeepState
///             }
///             (_, Event::Internal(Msg::Log(what))) => {
///                 self.log.push(what.to_string());
///                 Transition::KeepState
///             }
///             (_, Event::Call((), from)) => {
///                 ctx.reply(from, self.log.clone());
///                 Transition::KeepState
///             }
///             _ => Transition::KeepState,
///         }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true)
/// #     .build().unwrap().block_on(async {
/// let node = Node::new("door@localhost");
/// let door = Statem::start(&node, Door { log: vec![] }).await.unwrap();
/// door.cast(Msg::Open).unwrap();
/// door.cast(Msg::Knock).unwrap();
/// let t = Duration::from_secs(5);
/// assert!(door.call((), t).await.unwrap().is_empty()); // the knock waits
/// tokio::time::sleep(Duration::from_millis(1001)).await; // the door closes
/// assert_eq!(door.call((), t).await.unwrap(), ["knock"]);
/// # });
/// ```
pub struct Ctx<'a, M: StateMachine> {
    pub(crate) actor: &'a mut Context<Statem<M>>,
    pub(crate) buf: &'a mut Buffers<M>,
}

impl<M: StateMachine> fmt::Debug for Ctx<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("pid", &self.actor.pid())
            .field("mode", &self.buf.mode)
            .finish()
    }
}

impl<'a, M: StateMachine> Ctx<'a, M> {
    /// Gives an action as a value; the same as the method of that name.
    pub fn push(&mut self, action: Action<M>) {
        match action {
            Action::Reply(to, v) => {
                self.reply(to, v);
            }
            Action::Postpone(ev) => self.postpone(ev),
            Action::NextEvent(ev) => self.next_event(ev),
            Action::StateTimeout(t) => self.timeout(TimerKind::State, t),
            Action::EventTimeout(t) => self.timeout(TimerKind::Event, t),
            Action::GenericTimeout(name, t) => self.timeout(TimerKind::Generic(name), t),
            Action::Hibernate(h) => self.buf.hibernate = h,
        }
    }

    /// Replies to a call, at once (OTP `{reply, From, Reply}` or `gen_statem:reply/2`).
    /// `false` if the caller has gone (timed out or exited); the reply is then dropped.
    ///
    /// A machine started with a [`Persist`](crate::Persist) hook holds the reply until the
    /// event's transition is durable, and drops it if it cannot be made durable (the caller
    /// then sees the machine's exit reason).
    #[inline]
    pub fn reply(&mut self, to: ReplyTo<M::Reply>, reply: M::Reply) -> bool {
        match &mut self.buf.held {
            None => to.send(reply),
            Some(held) => {
                let open = !to.is_closed();
                held.push((to, reply));
                open
            }
        }
    }

    /// Postpones the current event, given back by value: it is kept and retried after the
    /// next change of state, oldest first (OTP `postpone`). Only an event callback may
    /// postpone, and only the event it is handling: an enter call or `init` that postpones
    /// stops the machine.
    pub fn postpone(&mut self, event: Event<M>) {
        if self.buf.mode != Mode::Event {
            self.buf.bad("postpone an event");
            self.buf.rejected.push(event);
            return;
        }
        if let Some(earlier) = self.buf.postpone.replace(event) {
            // Only one event is current; keep the other one's reply handle alive anyway.
            self.buf.bad("postpone two events");
            self.buf.rejected.push(earlier);
        }
    }

    /// Inserts `event` to be handled next, before the events already queued; several are
    /// handled in the order given (OTP `{next_event, Type, Content}`). Not allowed in an enter
    /// call.
    pub fn next_event(&mut self, event: Event<M>) {
        if self.buf.mode == Mode::Enter {
            self.buf.bad("insert events (next_event)");
            self.buf.rejected.push(event);
            return;
        }
        self.buf.next_events.push(event);
    }

    /// Inserts an internal event (`next_event(Event::Internal(msg))`).
    pub fn next_internal(&mut self, msg: M::Msg) {
        self.next_event(Event::Internal(msg));
    }

    fn timeout(&mut self, kind: TimerKind<M::Timer>, t: Timeout<M::Msg>) {
        self.buf.timeouts.push((kind, t));
    }

    /// Starts (or restarts) the state timeout: it fires after `after` unless the state
    /// changes first.
    pub fn state_timeout(&mut self, after: Duration, msg: M::Msg) {
        self.timeout(TimerKind::State, Timeout::After(after, msg));
    }

    /// Starts (or restarts) the state timeout to fire at the instant `at`.
    pub fn state_timeout_at(&mut self, at: Instant, msg: M::Msg) {
        self.timeout(TimerKind::State, Timeout::At(at, msg));
    }

    /// Changes the content of the running state timeout; fires it at once if none runs.
    pub fn update_state_timeout(&mut self, msg: M::Msg) {
        self.timeout(TimerKind::State, Timeout::Update(msg));
    }

    /// Cancels the state timeout.
    pub fn cancel_state_timeout(&mut self) {
        self.timeout(TimerKind::State, Timeout::Cancel);
    }

    /// Starts (or restarts) the event timeout: it fires after `after` unless an event
    /// arrives first. Any event cancels it; a zero one fires only if no event is queued.
    pub fn event_timeout(&mut self, after: Duration, msg: M::Msg) {
        self.timeout(TimerKind::Event, Timeout::After(after, msg));
    }

    /// Starts (or restarts) the event timeout to fire at the instant `at`.
    pub fn event_timeout_at(&mut self, at: Instant, msg: M::Msg) {
        self.timeout(TimerKind::Event, Timeout::At(at, msg));
    }

    /// Updates the event timeout. Since the event being handled has already cancelled it,
    /// this fires it at once (as a zero timeout), as in OTP.
    pub fn update_event_timeout(&mut self, msg: M::Msg) {
        self.timeout(TimerKind::Event, Timeout::Update(msg));
    }

    /// Cancels the event timeout (a later event timeout action of this callback can start it
    /// again).
    pub fn cancel_event_timeout(&mut self) {
        self.timeout(TimerKind::Event, Timeout::Cancel);
    }

    /// Starts (or restarts) the generic timeout `name`. Generic timeouts are never cancelled
    /// automatically.
    pub fn generic_timeout(&mut self, name: M::Timer, after: Duration, msg: M::Msg) {
        self.timeout(TimerKind::Generic(name), Timeout::After(after, msg));
    }

    /// Starts (or restarts) the generic timeout `name` to fire at the instant `at`.
    pub fn generic_timeout_at(&mut self, name: M::Timer, at: Instant, msg: M::Msg) {
        self.timeout(TimerKind::Generic(name), Timeout::At(at, msg));
    }

    /// Changes the content of the generic timeout `name`; fires it at once if it is not
    /// running.
    pub fn update_generic_timeout(&mut self, name: M::Timer, msg: M::Msg) {
        self.timeout(TimerKind::Generic(name), Timeout::Update(msg));
    }

    /// Cancels the generic timeout `name`.
    pub fn cancel_generic_timeout(&mut self, name: M::Timer) {
        self.timeout(TimerKind::Generic(name), Timeout::Cancel);
    }

    /// Hibernates when the machine next waits for an event: its internal buffers are
    /// released (OTP `hibernate`).
    pub fn hibernate(&mut self) {
        self.buf.hibernate = true;
    }

    /// This machine's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// A handle to this machine.
    pub fn myself(&self) -> StatemRef<M> {
        StatemRef::from(self.actor.myself())
    }

    /// The node the machine runs on.
    pub fn node(&self) -> &Node {
        self.actor.node()
    }

    /// Monitors `pid`; its `Down` arrives as [`Info::Down`](crate::Info::Down).
    pub fn monitor(&mut self, pid: Pid) -> MonitorRef {
        self.actor.monitor(pid)
    }

    /// Removes a monitor; no `Down` for it arrives afterwards.
    pub fn demonitor(&mut self, mref: MonitorRef) -> bool {
        self.actor.demonitor(mref)
    }

    /// Links the machine to `pid`.
    pub fn link(&self, pid: Pid) -> Result<(), LinkError> {
        self.actor.link(pid)
    }

    /// Removes the link to `pid`.
    pub fn unlink(&self, pid: Pid) {
        self.actor.unlink(pid)
    }

    /// Turns exit trapping on or off (trapped exits arrive as
    /// [`Info::Exit`](crate::Info::Exit)); returns the previous setting.
    pub fn trap_exit(&self, on: bool) -> bool {
        self.actor.trap_exit(on)
    }

    /// The actor-core context underneath, for everything else (spawning, exit signals, ...).
    ///
    /// To stop, return [`Transition::Stop`](crate::Transition::Stop): a stop requested here
    /// with [`Context::stop`] takes effect only once the events the machine has queued
    /// (inserted, retried and zero-timeout events) have been handled.
    pub fn actor(&mut self) -> &mut Context<Statem<M>> {
        self.actor
    }
}
