//! The [`StateMachine`] trait and the values its callbacks take and return: [`Event`],
//! [`Info`], [`EventKind`], [`Transition`] and [`Observed`].

use crate::ctx::Ctx;
use actor_core::{Down, ExitReason, Pid, ReplyTo};
use std::fmt;
use std::future::Future;
use std::hash::Hash;

/// A state machine with gen_statem semantics, in OTP's `handle_event_function` callback mode:
/// any type can be the state, and one callback handles every event in every state.
///
/// `Self` is the machine's *data* (OTP's `Data`); the *state* is kept by the runtime and
/// passed in by reference. Actions (postpone, next_event, timeouts, hibernate, reply) are given
/// through the [`Ctx`]; the callback's return value is the [`Transition`] (OTP's
/// `next_state` / `keep_state` / `repeat_state` / `stop` / `stop_and_reply`).
///
/// Callbacks are `async`, as [`actor_core::Actor`]'s are: while one runs, the machine takes no
/// other event. A panic in a callback ends the machine with
/// [`ExitReason::Panic`](actor_core::ExitReason::Panic), like any actor.
///
/// ```
/// use statem::{Ctx, Event, StateMachine, Statem, Transition};
/// use std::time::Duration;
///
/// /// A switch: every call flips it and replies with the new position.
/// struct Switch;
///
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// enum Pos { Off, On }
///
/// impl StateMachine for Switch {
///     type State = Pos;
///     type Call = ();
///     type Reply = Pos;
///     type Msg = ();
///     type Timer = ();
///
///     async fn init(&mut self, _ctx: &mut Ctx<'_, Self>) -> Result<Pos, actor_core::ExitReason> {
///         Ok(Pos::Off)
///     }
///
///     async fn handle_event(
///         &mut self,
///         state: &Pos,
///         event: Event<Self>,
///         ctx: &mut Ctx<'_, Self>,
///     ) -> Transition<Self> {
///         match event {
///             Event::Call((), from) => {
///                 let next = if *state == Pos::Off { Pos::On } else { Pos::Off };
///                 ctx.reply(from, next);
///                 Transition::NextState(next)
///             }
///             _ => Transition::KeepState,
///         }
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let node = actor_core::Node::new("switch@localhost");
/// let switch = Statem::start(&node, Switch).await.unwrap();
/// assert_eq!(switch.call((), Duration::from_secs(1)).await, Ok(Pos::On));
/// assert_eq!(switch.call((), Duration::from_secs(1)).await, Ok(Pos::Off));
/// # });
/// ```
pub trait StateMachine: Sized + Send + 'static {
    /// The state (OTP's `State` in `handle_event_function` mode). A change of state is
    /// detected with `!=`; it retries postponed events, cancels the state timeout and runs the
    /// state enter call.
    type State: Clone + PartialEq + fmt::Debug + Send + Sync + 'static;
    /// The request of a call (`{call, From}` events).
    type Call: Send + 'static;
    /// The reply to a call.
    type Reply: Send + 'static;
    /// The content of casts, internal events, info messages and timeouts.
    type Msg: Send + 'static;
    /// Names of generic timeouts (OTP's `{timeout, Name}`). Use `()` if there is only one
    /// or none.
    type Timer: Clone + Eq + Hash + fmt::Debug + Send + 'static;

    /// Whether state enter calls are made (OTP's `state_enter` callback mode). Default: no.
    const STATE_ENTER: bool = false;

    /// Starts the machine and returns its initial state (OTP `init/1`). Actions given here
    /// (`next_event`, timeouts, hibernate) apply to the initial state; postpone is an error.
    /// An `Err` makes the start fail with that reason.
    fn init(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
    ) -> impl Future<Output = Result<Self::State, ExitReason>> + Send;

    /// Handles one event in `state` (OTP `handle_event/4`).
    fn handle_event(
        &mut self,
        state: &Self::State,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> impl Future<Output = Transition<Self>> + Send;

    /// The state enter call (OTP `handle_event(enter, OldState, State, Data)`), made only
    /// when [`STATE_ENTER`](StateMachine::STATE_ENTER) is `true`: after `init` (with
    /// `old == state`), after every change of state, and after
    /// [`Transition::RepeatState`].
    ///
    /// It may return [`KeepState`](Transition::KeepState), `NextState` of the *same* state,
    /// [`RepeatState`](Transition::RepeatState) (the enter call runs again), `Stop` or
    /// `StopAndReply`. Changing the state, postponing or inserting events is an error that
    /// stops the machine. Timeouts, hibernate and replies are allowed.
    fn state_enter(
        &mut self,
        old: &Self::State,
        state: &Self::State,
        ctx: &mut Ctx<'_, Self>,
    ) -> impl Future<Output = Transition<Self>> + Send {
        let _ = (old, state, ctx);
        async { Transition::KeepState }
    }

    /// Runs when the machine stops in an orderly way (OTP `terminate/3`): after
    /// [`Transition::Stop`] or [`Transition::StopAndReply`], a bad return or action, a
    /// [`stop`](crate::StatemRef::stop) request, or an exit signal from its parent
    /// (supervisor) while it traps exits. Not after a panic or a kill, as for any actor.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        state: &Self::State,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, state);
        async {}
    }

    /// The state's name as operators see it (`actorctl ps`, `sys:get_state`). The default
    /// is its `Debug` form, cut to 80 characters; override it when the state carries data
    /// that should not be shown.
    fn state_name(state: &Self::State) -> String {
        let mut s = format!("{state:?}");
        if s.len() > 80 {
            let mut cut = 77;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push_str("...");
        }
        s
    }

    /// A short summary of the machine's data for operators (OTP `format_status/1`). The
    /// default shows nothing: data may hold what operators should not see.
    fn format_status(&self) -> Option<String> {
        None
    }

    /// The transition observer: called after every event the machine handled without
    /// stopping, with the state before and after it and the kind of the event, before the
    /// state enter call. The machine's own data (`self`) is what the application adds, e.g.
    /// the amount a transition charged, to emit a receipt.
    ///
    /// It is synchronous and should be quick (send the receipt on a channel or to an actor).
    fn on_transition(&mut self, transition: &Observed<'_, Self>) {
        let _ = transition;
    }
}

/// One event, as the machine's callback sees it (OTP's `EventType` and `EventContent`).
pub enum Event<M: StateMachine> {
    /// A call; reply through [`Ctx::reply`] (or
    /// [`Transition::StopAndReply`]), now or later: the handle can be kept.
    Call(M::Call, ReplyTo<M::Reply>),
    /// A cast.
    Cast(M::Msg),
    /// Anything else that reached the machine: an info message, a monitor `Down`, a trapped
    /// exit signal.
    Info(Info<M::Msg>),
    /// An event inserted with [`Ctx::next_event`]; never from outside.
    Internal(M::Msg),
    /// The state timeout fired.
    StateTimeout(M::Msg),
    /// The event timeout fired (no event arrived for its time).
    EventTimeout(M::Msg),
    /// The generic timeout with this name fired.
    GenericTimeout(M::Timer, M::Msg),
}

impl<M: StateMachine> Event<M> {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Call(..) => EventKind::Call,
            Event::Cast(_) => EventKind::Cast,
            Event::Info(_) => EventKind::Info,
            Event::Internal(_) => EventKind::Internal,
            Event::StateTimeout(_) => EventKind::StateTimeout,
            Event::EventTimeout(_) => EventKind::EventTimeout,
            Event::GenericTimeout(..) => EventKind::GenericTimeout,
        }
    }
}

impl<M: StateMachine> fmt::Debug for Event<M>
where
    M::Call: fmt::Debug,
    M::Msg: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Call(c, r) => f.debug_tuple("Call").field(c).field(r).finish(),
            Event::Cast(m) => f.debug_tuple("Cast").field(m).finish(),
            Event::Info(i) => f.debug_tuple("Info").field(i).finish(),
            Event::Internal(m) => f.debug_tuple("Internal").field(m).finish(),
            Event::StateTimeout(m) => f.debug_tuple("StateTimeout").field(m).finish(),
            Event::EventTimeout(m) => f.debug_tuple("EventTimeout").field(m).finish(),
            Event::GenericTimeout(n, m) => {
                f.debug_tuple("GenericTimeout").field(n).field(m).finish()
            }
        }
    }
}

/// What an `info` event carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Info<T> {
    /// A message sent with [`StatemRef::info`](crate::StatemRef::info) (OTP: any plain
    /// message).
    Msg(T),
    /// A monitor set with [`Ctx::monitor`] fired.
    Down(Down),
    /// An exit signal from a linked process, received because the machine traps exits
    /// (OTP `{'EXIT', Pid, Reason}`). Exit signals from the parent stop the machine instead.
    Exit {
        /// The process the signal came from.
        from: Pid,
        /// Its reason.
        reason: ExitReason,
    },
}

/// The kind of an event (OTP's event type), as the transition observer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `{call, From}`.
    Call,
    /// `cast`.
    Cast,
    /// `info`.
    Info,
    /// `internal`.
    Internal,
    /// `state_timeout`.
    StateTimeout,
    /// `timeout` (the event timeout).
    EventTimeout,
    /// `{timeout, Name}`.
    GenericTimeout,
}

/// What a callback returns: the transition to make (OTP's callback results).
pub enum Transition<M: StateMachine> {
    /// `next_state`: go to this state. Going to a state equal (`==`) to the current one is
    /// the same as [`KeepState`](Transition::KeepState).
    NextState(M::State),
    /// `keep_state`: stay in the current state. Postponed events are not retried, the state
    /// timeout keeps running, no enter call is made.
    KeepState,
    /// `repeat_state`: stay in the current state but make the state enter call again (as
    /// `keep_state` if state enter calls are off).
    RepeatState,
    /// `stop`: stop the machine with this reason; [`StateMachine::terminate`] runs.
    Stop(ExitReason),
    /// `stop_and_reply`: send these replies, then stop with the reason.
    ///
    /// ```
    /// # use actor_core::{ExitReason, Node};
    /// # use statem::{Ctx, Event, StateMachine, Statem, Transition};
    /// # use std::time::Duration;
    /// struct Session;
    /// impl StateMachine for Session {
    ///     type State = ();
    ///     type Call = &'static str;
    ///     type Reply = &'static str;
    ///     type Msg = ();
    ///     type Timer = ();
    ///     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<(), ExitReason> { Ok(()) }
    ///     async fn handle_event(&mut self, _: &(), ev: Event<Self>, _: &mut Ctx<'_, Self>)
    ///         -> Transition<Self>
    ///     {
    ///         match ev {
    ///             Event::Call("logout", from) => {
    ///                 Transition::StopAndReply(ExitReason::Normal, vec![(from, "bye")])
    ///             }
    ///             _ => Transition::KeepState,
    ///         }
    ///     }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("session@localhost");
    /// let session = Statem::start(&node, Session).await.unwrap();
    /// let exit = node.wait_exit(session.pid());
    /// assert_eq!(session.call("logout", Duration::from_secs(1)).await, Ok("bye"));
    /// assert_eq!(exit.await, ExitReason::Normal);
    /// # });
    /// ```
    StopAndReply(ExitReason, Vec<(ReplyTo<M::Reply>, M::Reply)>),
}

impl<M: StateMachine> fmt::Debug for Transition<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transition::NextState(s) => f.debug_tuple("NextState").field(s).finish(),
            Transition::KeepState => f.write_str("KeepState"),
            Transition::RepeatState => f.write_str("RepeatState"),
            Transition::Stop(r) => f.debug_tuple("Stop").field(r).finish(),
            Transition::StopAndReply(r, replies) => f
                .debug_tuple("StopAndReply")
                .field(r)
                .field(&replies.len())
                .finish(),
        }
    }
}

/// A transition, as the observer ([`StateMachine::on_transition`]) sees it.
pub struct Observed<'a, M: StateMachine> {
    /// The state the event was handled in.
    pub from: &'a M::State,
    /// The state after it (equal to `from` for keep_state, repeat_state, and postponing
    /// without a change).
    pub to: &'a M::State,
    /// The kind of the event.
    pub kind: EventKind,
}

impl<M: StateMachine> Observed<'_, M> {
    /// Whether the state changed (`from != to`).
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

impl<M: StateMachine> fmt::Debug for Observed<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observed")
            .field("from", self.from)
            .field("to", self.to)
            .field("kind", &self.kind)
            .finish()
    }
}
