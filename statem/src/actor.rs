//! The machine as an actor-core actor: [`Statem`], its messages ([`StatemMsg`]) and the
//! typed handle [`StatemRef`].

use crate::ctx::{Buffers, Ctx, Mode, TimerKind};
use crate::engine::Core;
use crate::machine::{Event, Info, Observed, StateMachine, Transition};
use actor_core::supervisor::{child_opts, ChildSpec};
use actor_core::{
    Actor, ActorRef, CallError, Context, Down, ExitReason, Node, Pid, ReplyTo, SendError,
    SpawnError, SpawnOpts,
};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The messages a [`Statem`] actor takes. Use [`StatemRef`] rather than sending them by hand.
///
/// Serialisable when the machine's types are, so that a call or cast can cross nodes (the
/// reply handle travels as a reference, see [`ReplyTo`]). The internal variant never leaves
/// the node.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "M::Call: Serialize, M::Msg: Serialize, M::Reply: Serialize + DeserializeOwned",
    deserialize = "M::Call: Deserialize<'de>, M::Msg: Deserialize<'de>, \
                   M::Reply: Serialize + DeserializeOwned"
))]
pub enum StatemMsg<M: StateMachine> {
    /// A call: arrives as [`Event::Call`].
    Call(M::Call, ReplyTo<M::Reply>),
    /// A cast: arrives as [`Event::Cast`].
    Cast(M::Msg),
    /// An info message: arrives as [`Event::Info`] with [`Info::Msg`].
    Info(M::Msg),
    /// The runtime's own messages (fired timers); never serialised.
    #[serde(skip)]
    #[doc(hidden)]
    Sys(Sys<M::Timer>),
}

/// A machine that can be called and cast to from other nodes: it names its message type on
/// the wire (see [`actor_core::Message`]), so that `StatemMsg<M>` can cross nodes.
///
/// ```
/// # use statem::*; use actor_core::ExitReason;
/// struct Door;
/// impl StateMachine for Door {
///     type State = bool; type Call = (); type Reply = bool; type Msg = (); type Timer = ();
///     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> { Ok(false) }
///     async fn handle_event(&mut self, s: &bool, _: Event<Self>, _: &mut Ctx<'_, Self>) -> Transition<Self> {
///         Transition::NextState(!*s)
///     }
/// }
/// impl RemoteMachine for Door { const NAME: &'static str = "demo.Door"; }
/// ```
pub trait RemoteMachine: StateMachine {
    /// Stable name of the machine's wire type.
    const NAME: &'static str;
    /// Schema version; bump when `Call`, `Reply` or `Msg` change their encoding.
    const VERSION: u32 = 1;
}

impl<M> actor_core::Message for StatemMsg<M>
where
    M: RemoteMachine,
    M::Call: Serialize + DeserializeOwned,
    M::Msg: Serialize + DeserializeOwned,
    M::Reply: Serialize + DeserializeOwned,
{
    const NAME: &'static str = M::NAME;
    const VERSION: u32 = M::VERSION;
}

impl<M: StateMachine> StatemMsg<M> {
    /// A message that asks the machine's [`Persist`] hook whether to stop
    /// ([`Persist::check`]), in order with the machine's events; ignored by machines without
    /// a hook. Never crosses nodes.
    pub fn check() -> Self {
        StatemMsg::Sys(Sys(SysKind::Check))
    }
}

/// The runtime's own messages to a machine.
#[doc(hidden)]
pub struct Sys<N>(pub(crate) SysKind<N>);

pub(crate) enum SysKind<N> {
    /// A timer fired; stale if `gen` is not the running timer's.
    Fire { kind: TimerKind<N>, gen: u64 },
    /// Handle the events `init` queued.
    Kick,
    /// Ask the [`Persist`] hook whether to stop now ([`Persist::check`]).
    Check,
}

/// Runs a [`StateMachine`] as an actor-core actor.
///
/// Start it with [`Statem::start`] (or put it under a supervisor with
/// [`Statem::child_spec`]); [`Statem::new`] makes the actor value for actor-core's own spawn
/// functions (e.g. [`Context::spawn_link`]), whose `ActorRef` converts into a
/// [`StatemRef`].
pub struct Statem<M: StateMachine> {
    machine: M,
    state: Option<M::State>,
    core: Core<M>,
    buf: Buffers<M>,
    persist: Option<Box<dyn Persist<M>>>,
}

/// What became of a transition with a [`Persist`] hook.
enum Durable {
    /// Durable (or nothing to write): its replies were sent.
    Yes,
    /// Refused and undone ([`Persist::undo`]): the machine runs on in the state before.
    Undone,
    /// Refused: the machine stops with this reason.
    Stop(ExitReason),
}

/// A hook that makes a machine's transitions durable before anything of them is seen: the
/// entity layer's journal plugs in here. Install it with [`Statem::persisted`].
///
/// After every event the machine handled without stopping, the runtime calls
/// [`persist`](Persist::persist) with the machine and the transition, and waits for it. The
/// replies the event gave ([`Ctx::reply`]) are held until it resolves `Ok`, so a caller learns
/// of a change only once it is durable. An `Err(reason)` stops the machine with that reason
/// before the new state takes effect; the held replies are dropped, so their callers see the
/// reason. The hook decides what is worth writing (e.g. only when the state or the data
/// changed); what a state enter call changes is seen by the hook at the next event.
pub trait Persist<M: StateMachine>: Send + 'static {
    /// The machine's `init` returned `state`: what the hook compares the first event's
    /// outcome with (nothing is written for the initial state itself).
    fn started(&mut self, machine: &M, state: &M::State) {
        let _ = (machine, state);
    }

    /// Asked, in order with the machine's events, when a [`StatemMsg::check`] message
    /// arrives: `Some(reason)` stops the machine now (e.g. passivation of an idle entity,
    /// decided where no event can slip in between the decision and the stop).
    fn check(&mut self, machine: &M, state: &M::State) -> Option<ExitReason> {
        let _ = (machine, state);
        None
    }

    /// [`persist`](Persist::persist) refused the transition with `reason`: return a machine
    /// to **undo** the event instead of stopping (default `None`: the machine stops with
    /// `reason`). The returned machine replaces the current one (typically rebuilt from the
    /// last durable state, so that what the event changed in the machine is gone), the state
    /// stays the one before the event, the event's other actions (timeouts, inserted or
    /// postponed events) are dropped, and the callers of its held replies fail with `reason`
    /// ([`ReplyTo::abandon`](actor_core::ReplyTo::abandon)). The machine keeps running.
    ///
    /// An entity on the minority side of a partition refuses writes this way and keeps
    /// serving reads.
    fn undo(&mut self, reason: &ExitReason) -> Option<M> {
        let _ = reason;
        None
    }

    /// Makes the transition durable (or decides there is nothing to write).
    fn persist<'a>(
        &'a mut self,
        machine: &'a M,
        transition: &'a Observed<'a, M>,
    ) -> BoxFuture<'a, Result<(), ExitReason>>;
}

impl<M: StateMachine> fmt::Debug for Statem<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statem")
            .field("state", &self.state)
            .field("queued", &self.core.queue.len())
            .field("postponed", &self.core.postponed.len())
            .finish()
    }
}

impl<M: StateMachine> Statem<M> {
    /// The actor that runs `machine`, for actor-core's spawn functions.
    pub fn new(machine: M) -> Self {
        Statem {
            machine,
            state: None,
            core: Core::new(),
            buf: Buffers::new(),
            persist: None,
        }
    }

    /// The actor that runs `machine` with a [`Persist`] hook: every transition is made
    /// durable before its replies are sent.
    pub fn persisted(machine: M, persist: Box<dyn Persist<M>>) -> Self {
        let mut s = Statem::new(machine);
        s.buf.held = Some(Vec::new());
        s.persist = Some(persist);
        s
    }

    /// Starts `machine` on `node` and returns once its `init` (and initial enter call) has
    /// run (OTP `gen_statem:start/3`). An `Err` from `init` is the spawn error.
    ///
    /// ```
    /// use actor_core::{ExitReason, Node};
    /// use statem::{Ctx, Event, StateMachine, Statem, Transition};
    /// use std::time::Duration;
    ///
    /// /// Counts casts while `Counting`; a call reads the count, `Stop` stops.
    /// struct Counter(u32);
    ///
    /// impl StateMachine for Counter {
    ///     type State = &'static str;
    ///     type Call = ();
    ///     type Reply = u32;
    ///     type Msg = &'static str;
    ///     type Timer = ();
    ///
    ///     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<&'static str, ExitReason> {
    ///         Ok("counting")
    ///     }
    ///
    ///     async fn handle_event(
    ///         &mut self,
    ///         _state: &&'static str,
    ///         event: Event<Self>,
    ///         ctx: &mut Ctx<'_, Self>,
    ///     ) -> Transition<Self> {
    ///         match event {
    ///             Event::Cast("stop") => Transition::Stop(ExitReason::Normal),
    ///             Event::Cast(_) => { self.0 += 1; Transition::KeepState }
    ///             Event::Call((), from) => { ctx.reply(from, self.0); Transition::KeepState }
    ///             _ => Transition::KeepState,
    ///         }
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("counter@localhost");
    /// let counter = Statem::start(&node, Counter(0)).await.unwrap();
    /// counter.cast("one").unwrap();
    /// counter.cast("two").unwrap();
    /// assert_eq!(counter.call((), Duration::from_secs(1)).await, Ok(2));
    ///
    /// let exit = node.wait_exit(counter.pid());
    /// counter.cast("stop").unwrap();
    /// assert_eq!(exit.await, ExitReason::Normal);
    /// assert!(counter.call((), Duration::from_secs(1)).await.unwrap_err().is_noproc());
    /// # });
    /// ```
    pub async fn start(node: &Node, machine: M) -> Result<StatemRef<M>, SpawnError> {
        Statem::start_opts(node, machine, SpawnOpts::default()).await
    }

    /// Starts `machine` with spawn options: link, parent, `trap_exit`, mailbox bound.
    pub async fn start_opts(
        node: &Node,
        machine: M,
        opts: SpawnOpts,
    ) -> Result<StatemRef<M>, SpawnError> {
        node.spawn_opts(Statem::new(machine), opts)
            .await
            .map(StatemRef::from)
    }

    /// A child spec that starts a fresh machine from `factory` at every (re)start: a
    /// permanent worker with a 5 s shutdown, as [`ChildSpec::worker`]. Change those with the
    /// spec's builder methods.
    ///
    /// ```
    /// use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
    /// use actor_core::{ExitReason, Node};
    /// use statem::{Ctx, Event, StateMachine, Statem, StatemRef, Transition};
    /// use std::time::Duration;
    ///
    /// struct Light;
    /// impl StateMachine for Light {
    ///     type State = bool;
    ///     type Call = ();
    ///     type Reply = bool;
    ///     type Msg = ();
    ///     type Timer = ();
    ///     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> {
    ///         Ok(false)
    ///     }
    ///     async fn handle_event(&mut self, on: &bool, ev: Event<Self>, ctx: &mut Ctx<'_, Self>)
    ///         -> Transition<Self>
    ///     {
    ///         match ev {
    ///             Event::Call((), from) => { ctx.reply(from, !on); Transition::NextState(!on) }
    ///             _ => panic!("unexpected event"),
    ///         }
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("lights@localhost");
    /// let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///     .child(Statem::child_spec("hall", || Light));
    /// let sup = Supervisor::start(&node, spec).await.unwrap();
    /// let pid = sup.which_children().await.unwrap()[0].pid.unwrap();
    /// let hall: StatemRef<Light> = StatemRef::from_pid(&node, pid).unwrap();
    /// assert_eq!(hall.call((), Duration::from_secs(1)).await, Ok(true));
    /// # });
    /// ```
    pub fn child_spec(
        id: impl Into<String>,
        factory: impl Fn() -> M + Send + Sync + 'static,
    ) -> ChildSpec {
        Statem::child_spec_opts(id, SpawnOpts::default(), factory)
    }

    /// As [`child_spec`](Statem::child_spec), with spawn options (e.g. `trap_exit: true`,
    /// so that the supervisor's shutdown runs [`StateMachine::terminate`]). The link and
    /// parent are the supervisor's.
    pub fn child_spec_opts(
        id: impl Into<String>,
        opts: SpawnOpts,
        factory: impl Fn() -> M + Send + Sync + 'static,
    ) -> ChildSpec {
        let factory = Arc::new(factory);
        ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let machine = factory();
            // The supervisor's link and parent, the caller's mailbox and trap_exit.
            let opts = SpawnOpts {
                mailbox: opts.mailbox,
                trap_exit: opts.trap_exit,
                ..child_opts(sup)
            };
            Box::pin(async move {
                Statem::start_opts(&node, machine, opts)
                    .await
                    .map(|r| r.pid())
            }) as BoxFuture<'static, _>
        })
    }

    /// Handles one event and the transition it asks for. Returns `true` if the machine stops.
    async fn dispatch(&mut self, event: Event<M>, actor: &mut Context<Self>) -> bool {
        let kind = event.kind();
        let Statem {
            machine,
            state,
            buf,
            ..
        } = self;
        let pre = state.as_ref().expect("statem: the state is set by init");
        buf.mode = Mode::Event;
        let result = {
            let mut ctx = Ctx { actor, buf };
            machine.handle_event(pre, event, &mut ctx).await
        };
        let (next, enter) = match result {
            Transition::NextState(s) if s != *pre => (Some(s), true),
            Transition::NextState(_) | Transition::KeepState => (None, false),
            Transition::RepeatState => (None, true),
            Transition::Stop(reason) => return self.stop(reason, None, actor),
            Transition::StopAndReply(reason, replies) => {
                for (to, reply) in replies {
                    to.send(reply);
                }
                return self.stop(reason, None, actor);
            }
        };
        if let Some(err) = self.buf.error.take() {
            return self.stop(ExitReason::error(err), next, actor);
        }
        if self.persist.is_some() {
            match self.make_durable(kind, next.as_ref()).await {
                Durable::Yes => {}
                Durable::Undone => {
                    self.apply(None, actor);
                    return false;
                }
                Durable::Stop(reason) => return self.stop(reason, None, actor),
            }
        }
        self.observe(kind, next.as_ref());
        if M::STATE_ENTER && enter {
            return self.finish(next, actor).await;
        }
        self.apply(next, actor);
        false
    }

    /// Runs the [`Persist`] hook for a transition, then releases (or dooms, or refuses) its
    /// replies.
    async fn make_durable(
        &mut self,
        kind: crate::machine::EventKind,
        next: Option<&M::State>,
    ) -> Durable {
        let Statem {
            machine,
            state,
            persist,
            buf,
            ..
        } = self;
        let Some(persist) = persist.as_mut() else {
            return Durable::Yes;
        };
        let pre = state.as_ref().expect("statem: the state is set by init");
        let t = Observed {
            from: pre,
            to: next.unwrap_or(pre),
            kind,
        };
        let res = persist.persist(machine, &t).await;
        let held = buf.held.get_or_insert_with(Vec::new);
        match res {
            Ok(()) => {
                for (to, reply) in held.drain(..) {
                    to.send(reply);
                }
                Durable::Yes
            }
            Err(reason) => match persist.undo(&reason) {
                Some(restored) => {
                    *machine = restored;
                    for (to, _) in held.drain(..) {
                        to.abandon(reason.clone());
                    }
                    if let Some(Event::Call(_, to)) = buf.postpone.take() {
                        to.abandon(reason.clone());
                    }
                    buf.next_events.clear();
                    buf.timeouts.clear();
                    buf.hibernate = false;
                    Durable::Undone
                }
                None => {
                    buf.doomed.append(held);
                    Durable::Stop(reason)
                }
            },
        }
    }

    fn observe(&mut self, kind: crate::machine::EventKind, next: Option<&M::State>) {
        let Statem { machine, state, .. } = self;
        let pre = state.as_ref().expect("statem: the state is set by init");
        machine.on_transition(&Observed {
            from: pre,
            to: next.unwrap_or(pre),
            kind,
        });
    }

    /// The rest of a transition that makes enter calls: the enter calls, then the queue and
    /// timers. Also the initial transition after `init` (`next == None`).
    async fn finish(&mut self, next: Option<M::State>, actor: &mut Context<Self>) -> bool {
        if M::STATE_ENTER {
            let Statem {
                machine,
                state,
                buf,
                ..
            } = self;
            let pre = state.as_ref().expect("statem: the state is set by init");
            let cur = next.as_ref().unwrap_or(pre);
            let outcome = loop {
                buf.mode = Mode::Enter;
                let result = {
                    let mut ctx = Ctx {
                        actor: &mut *actor,
                        buf: &mut *buf,
                    };
                    machine.state_enter(pre, cur, &mut ctx).await
                };
                buf.mode = Mode::Event;
                if let Some(err) = buf.error.take() {
                    break Some(ExitReason::error(err));
                }
                match result {
                    Transition::KeepState => break None,
                    Transition::NextState(s) if s == *cur => break None,
                    Transition::NextState(s) => {
                        break Some(ExitReason::error(format!(
                            "statem: a state enter call may not change the state \
                             ({cur:?} -> {s:?})"
                        )))
                    }
                    Transition::RepeatState => continue,
                    Transition::Stop(reason) => break Some(reason),
                    Transition::StopAndReply(reason, replies) => {
                        for (to, reply) in replies {
                            to.send(reply);
                        }
                        break Some(reason);
                    }
                }
            };
            if let Some(reason) = outcome {
                return self.stop(reason, next, actor);
            }
        }
        self.apply(next, actor);
        false
    }

    /// The transition proper: the new state, the queue and the timers.
    #[inline]
    fn apply(&mut self, next: Option<M::State>, actor: &mut Context<Self>) {
        if let Some(held) = &mut self.buf.held {
            // Replies given by an enter call (or init): the event before was made durable.
            for (to, reply) in held.drain(..) {
                to.send(reply);
            }
        }
        let changed = next.is_some();
        if let Some(s) = next {
            self.state = Some(s);
        }
        self.core.transition(changed, &mut self.buf, actor);
    }

    /// Stops the machine: `terminate` runs once the current handler returns. The state is
    /// the new one if the stop came after the state changed (an enter call). Events the
    /// transition would have kept are kept until the machine exits, so that callers in them
    /// learn the exit reason.
    fn stop(
        &mut self,
        reason: ExitReason,
        next: Option<M::State>,
        actor: &mut Context<Self>,
    ) -> bool {
        if let Some(s) = next {
            self.state = Some(s);
        }
        let buf = &mut self.buf;
        self.core.queue.extend(buf.postpone.take());
        self.core.queue.extend(buf.next_events.drain(..));
        buf.timeouts.clear();
        buf.error = None;
        actor.stop(reason);
        true
    }

    /// Handles the events that must go before the next external one. `true` if the machine
    /// stopped.
    async fn drain(&mut self, actor: &mut Context<Self>) -> bool {
        let mut handled: u32 = 0;
        while let Some(event) = self.core.next_pending() {
            if self.dispatch(event, actor).await {
                return true;
            }
            handled = handled.wrapping_add(1);
            if handled & 63 == 0 {
                // A long run of inserted events must not starve the other tasks of this
                // worker (as actor-core does for a long batch of messages).
                tokio::task::consume_budget().await;
            }
        }
        if self.core.hibernate {
            self.hibernate();
        }
        false
    }

    /// Handles one external event, after any pending internal ones, then the events it
    /// queued.
    async fn external(&mut self, event: Event<M>, actor: &mut Context<Self>) {
        if self.core.has_pending() && self.drain(actor).await {
            return;
        }
        if self.dispatch(event, actor).await {
            return;
        }
        if self.core.has_pending() {
            self.drain(actor).await;
        } else if self.core.hibernate {
            self.hibernate();
        }
    }

    fn hibernate(&mut self) {
        self.core.shrink();
        self.buf.shrink();
    }
}

impl<M: StateMachine> Actor for Statem<M> {
    type Msg = StatemMsg<M>;

    async fn started(&mut self, actor: &mut Context<Self>) -> Result<(), ExitReason> {
        self.buf.mode = Mode::Init;
        let state = {
            let mut ctx = Ctx {
                actor: &mut *actor,
                buf: &mut self.buf,
            };
            self.machine.init(&mut ctx).await?
        };
        self.buf.mode = Mode::Event;
        if let Some(err) = self.buf.error.take() {
            return Err(ExitReason::error(err));
        }
        if let Some(p) = self.persist.as_mut() {
            p.started(&self.machine, &state);
        }
        self.state = Some(state);
        // OTP: the initial state gets an enter call (with itself as the old state) and the
        // init actions apply as for a keep_state transition.
        self.finish(None, actor).await;
        if self.core.has_pending() {
            // Inserted events and zero timeouts run before any external event: the first
            // message (this one, or any other) handles them first.
            let _ = actor.myself().tell(StatemMsg::Sys(Sys(SysKind::Kick)));
        }
        Ok(())
    }

    async fn handle(&mut self, msg: StatemMsg<M>, actor: &mut Context<Self>) {
        let event = match msg {
            StatemMsg::Call(req, to) => Event::Call(req, to),
            StatemMsg::Cast(m) => Event::Cast(m),
            StatemMsg::Info(m) => Event::Info(Info::Msg(m)),
            StatemMsg::Sys(Sys(SysKind::Fire { kind, gen })) => match self.core.fired(kind, gen) {
                Some(ev) => ev,
                // Stale: cancelled or restarted after it fired. OTP flushes such a message
                // when it cancels the timer, so it is never seen.
                None => return,
            },
            StatemMsg::Sys(Sys(SysKind::Kick)) => {
                self.drain(actor).await;
                return;
            }
            StatemMsg::Sys(Sys(SysKind::Check)) => {
                if let (Some(p), Some(state)) = (self.persist.as_mut(), self.state.as_ref()) {
                    if let Some(reason) = p.check(&self.machine, state) {
                        actor.stop(reason);
                    }
                }
                return;
            }
        };
        self.external(event, actor).await;
    }

    fn describe(&self) -> actor_core::ActorState {
        actor_core::ActorState {
            state: self.state.as_ref().map(M::state_name),
            summary: self.machine.format_status(),
        }
    }

    async fn handle_down(&mut self, down: Down, actor: &mut Context<Self>) {
        self.external(Event::Info(Info::Down(down)), actor).await;
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, actor: &mut Context<Self>) {
        self.external(Event::Info(Info::Exit { from, reason }), actor)
            .await;
    }

    async fn stopped(&mut self, reason: &ExitReason, _actor: &mut Context<Self>) {
        if let Some(state) = &self.state {
            self.machine.terminate(reason, state).await;
        }
    }
}

/// A typed handle to a running state machine (OTP's server reference).
///
/// Cheap to clone. Converts from and into the [`ActorRef`] underneath, so it can be built
/// from a pid found in a registry or a remote route.
pub struct StatemRef<M: StateMachine> {
    actor: ActorRef<StatemMsg<M>>,
}

impl<M: StateMachine> Clone for StatemRef<M> {
    fn clone(&self) -> Self {
        StatemRef {
            actor: self.actor.clone(),
        }
    }
}

impl<M: StateMachine> fmt::Debug for StatemRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatemRef({})", self.actor.pid())
    }
}

impl<M: StateMachine> PartialEq for StatemRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.actor == other.actor
    }
}
impl<M: StateMachine> Eq for StatemRef<M> {}
impl<M: StateMachine> std::hash::Hash for StatemRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.actor.hash(state)
    }
}

impl<M: StateMachine> From<ActorRef<StatemMsg<M>>> for StatemRef<M> {
    fn from(actor: ActorRef<StatemMsg<M>>) -> Self {
        StatemRef { actor }
    }
}

impl<M: StateMachine> From<StatemRef<M>> for ActorRef<StatemMsg<M>> {
    fn from(r: StatemRef<M>) -> Self {
        r.actor
    }
}

impl<M: StateMachine> StatemRef<M> {
    /// A handle to the machine `pid` on `node`; fails if it is not a live machine of type
    /// `M`.
    pub fn from_pid(node: &Node, pid: Pid) -> Result<Self, actor_core::RefError> {
        node.actor_ref(pid).map(StatemRef::from)
    }

    /// The machine's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// The actor reference underneath.
    pub fn actor_ref(&self) -> &ActorRef<StatemMsg<M>> {
        &self.actor
    }

    /// Whether the machine is alive, as far as this node knows.
    pub fn is_alive(&self) -> bool {
        self.actor.is_alive()
    }

    /// Calls the machine and waits for the reply (OTP `gen_statem:call/3`). The request
    /// arrives as [`Event::Call`]. Fails fast with the machine's exit reason if it is dead
    /// or dies before replying, and with [`CallError::Timeout`] after `timeout`.
    #[inline]
    pub async fn call(&self, request: M::Call, timeout: Duration) -> Result<M::Reply, CallError> {
        self.actor
            .call(move |to| StatemMsg::Call(request, to), timeout)
            .await
    }

    /// Casts `msg` to the machine (OTP `gen_statem:cast/2`); it arrives as [`Event::Cast`].
    /// Fails, handing `msg` back, if the machine is not alive or its bounded mailbox is full.
    pub fn cast(&self, msg: M::Msg) -> Result<(), SendError<M::Msg>> {
        self.actor.tell(StatemMsg::Cast(msg)).map_err(unwrap_send)
    }

    /// Sends `msg` as a plain message (OTP `Pid ! Msg`); it arrives as [`Event::Info`] with
    /// [`Info::Msg`].
    pub fn info(&self, msg: M::Msg) -> Result<(), SendError<M::Msg>> {
        self.actor.tell(StatemMsg::Info(msg)).map_err(unwrap_send)
    }

    /// Asks the machine to stop with `reason` after the messages already queued;
    /// [`StateMachine::terminate`] runs (OTP `gen_statem:stop/3` without the wait: await
    /// [`Node::wait_exit`] for that). `false` if it is not alive.
    pub fn stop(&self, reason: ExitReason) -> bool {
        self.actor.stop(reason)
    }
}

fn unwrap_send<M: StateMachine>(e: SendError<StatemMsg<M>>) -> SendError<M::Msg> {
    let inner = |m: StatemMsg<M>| match m {
        StatemMsg::Cast(m) | StatemMsg::Info(m) => m,
        _ => unreachable!("only casts and infos are handed back here"),
    };
    match e {
        SendError::NoProc(m) => SendError::NoProc(inner(m)),
        SendError::Full(m) => SendError::Full(inner(m)),
        SendError::NoConnection(m) => SendError::NoConnection(inner(m)),
        SendError::Encode(m, why) => SendError::Encode(inner(m), why),
    }
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
