//! [`DynamicSupervisor`]: OTP's `simple_one_for_one`: children made on demand from one template.

use super::report;
use super::restarts::Restarts;
use super::shutdown::{shutdown_child, Stopping};
use super::spec::{
    check_period, check_significant, child_opts, AutoShutdown, ChildCount, ChildInfo, ChildState,
    ChildType, Restart, Shutdown, Started, SupervisorError,
};
use super::static_sup::try_again;
use super::TryAgain;
use crate::actor::{Actor, Context};
use crate::actor_ref::ActorRef;
use crate::error::{RefError, SpawnError};
use crate::exit::ExitReason;
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use crate::reply::ReplyTo;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

type TemplateFn<Args> =
    Arc<dyn Fn(Node, Pid, Args) -> BoxFuture<'static, Result<Started, SpawnError>> + Send + Sync>;

/// The template and flags of a [`DynamicSupervisor`]. All children share restart type and
/// shutdown policy; each is started with its own `Args`.
pub struct DynamicSupervisorSpec<Args> {
    start: TemplateFn<Args>,
    restart: Restart,
    significant: bool,
    shutdown: Shutdown,
    kind: ChildType,
    intensity: u32,
    period: Duration,
    auto_shutdown: AutoShutdown,
}

impl<Args> Clone for DynamicSupervisorSpec<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisorSpec {
            start: self.start.clone(),
            restart: self.restart,
            significant: self.significant,
            shutdown: self.shutdown,
            kind: self.kind,
            intensity: self.intensity,
            period: self.period,
            auto_shutdown: self.auto_shutdown,
        }
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisorSpec<Args> {
    /// Children are the actors `factory(args)`. Defaults: permanent workers, shutdown after
    /// 5 s, intensity 1 in 5 s.
    pub fn worker<A: Actor>(factory: impl Fn(Args) -> A + Send + Sync + 'static) -> Self {
        let factory = Arc::new(factory);
        DynamicSupervisorSpec::from_fn(move |node: Node, sup: Pid, args: Args| {
            let actor = factory(args);
            Box::pin(async move {
                node.spawn_opts(actor, child_opts(sup))
                    .await
                    .map(|r| r.pid())
            }) as BoxFuture<'static, _>
        })
    }

    /// Children are started by `start(node, sup, args)`, which must link the new process to
    /// `sup` and make `sup` its parent (use [`child_opts`]), and answers a [`Pid`] or a
    /// [`Started`]: it can fail, or answer [`Started::Ignore`], without spawning anything.
    /// Defaults as [`worker`](DynamicSupervisorSpec::worker).
    ///
    /// ```
    /// use actor_core::{Actor, Context, Node, Pid, SpawnError};
    /// use actor_core::supervisor::{child_opts, DynamicSupervisor, DynamicSupervisorSpec, Started};
    /// use futures::future::BoxFuture;
    ///
    /// struct Conn;
    /// impl Actor for Conn {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("dyn-fn@localhost");
    /// // Port 0 means "not configured": ignore.
    /// let spec = DynamicSupervisorSpec::from_fn(|node: Node, sup: Pid, port: u16| {
    ///     Box::pin(async move {
    ///         if port == 0 {
    ///             return Ok(Started::Ignore);
    ///         }
    ///         let conn = node.spawn_opts(Conn, child_opts(sup)).await?;
    ///         Ok(Started::Pid(conn.pid()))
    ///     }) as BoxFuture<'static, Result<Started, SpawnError>>
    /// });
    /// let sup = DynamicSupervisor::start(&node, spec).await.unwrap();
    /// assert_eq!(sup.start_child(0).await, Ok(Started::Ignore));
    /// assert!(sup.start_child(80).await.unwrap().pid().is_some());
    /// assert_eq!(sup.count_children().await.unwrap().active, 1);
    /// # });
    /// ```
    pub fn from_fn<R: Into<Started> + 'static>(
        start: impl Fn(Node, Pid, Args) -> BoxFuture<'static, Result<R, SpawnError>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        DynamicSupervisorSpec {
            start: Arc::new(move |node, sup, args| {
                let started = start(node, sup, args);
                Box::pin(async move { started.await.map(Into::into) })
            }),
            restart: Restart::Permanent,
            significant: false,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
            intensity: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
        }
    }

    /// Sets the children's restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the children's shutdown policy.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the children as supervisors or workers (for `count_children`).
    pub fn kind(mut self, kind: ChildType) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the restart intensity (counted as for [`SupervisorSpec::intensity`](
    /// super::SupervisorSpec::intensity)).
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Marks the children significant for auto shutdown (see [`ChildSpec::significant`](
    /// super::ChildSpec::significant)). With [`AutoShutdown::AllSignificant`] the supervisor
    /// shuts down when its last child has ended by itself.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Sets the auto shutdown flag (default [`AutoShutdown::Never`]).
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }
}

/// One child: the args to restart it with (none for temporary children, which are never
/// restarted), and whether its restart failed and is being retried (then it is keyed by its
/// old pid, as OTP's `{restarting, OldPid}`).
struct DynChild<Args> {
    args: Option<Args>,
    restarting: bool,
}

/// A supervisor whose children are started on demand from one template (simple_one_for_one).
pub struct DynamicSupervisor<Args> {
    spec: DynamicSupervisorSpec<Args>,
    restarts: Restarts,
    /// Children by pid (pids grow with start order): `O(log n)` per start, exit or stop.
    children: BTreeMap<Pid, DynChild<Args>>,
    /// How many children are restarting.
    restarting: usize,
}

/// Requests a [`DynamicSupervisor`] serves; use [`DynamicSupervisorRef`] rather than sending
/// them by hand.
pub enum DynamicMsg<Args> {
    /// Start a child with these args.
    StartChild(Args, ReplyTo<Result<Started, SupervisorError>>),
    /// Stop the child with this pid.
    TerminateChild(Pid, ReplyTo<Result<(), SupervisorError>>),
    /// List the children.
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    /// Count the children.
    CountChildren(ReplyTo<ChildCount>),
    /// The supervisor's own retry of a failed restart (OTP `try_again_restart`).
    #[doc(hidden)]
    TryAgainRestart(TryAgain<Pid>),
}

/// A handle to a running [`DynamicSupervisor`].
pub struct DynamicSupervisorRef<Args> {
    actor: ActorRef<DynamicMsg<Args>>,
}

impl<Args> Clone for DynamicSupervisorRef<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisorRef {
            actor: self.actor.clone(),
        }
    }
}

impl<Args: Send + 'static> std::fmt::Debug for DynamicSupervisorRef<Args> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DynamicSupervisorRef")
            .field(&self.actor.pid())
            .finish()
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisorRef<Args> {
    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// A handle to the dynamic supervisor `pid` on `node` (e.g. found through a parent's
    /// `which_children`); fails if `pid` is not a live `DynamicSupervisor<Args>`.
    pub fn from_pid(node: &Node, pid: Pid) -> Result<Self, RefError> {
        node.actor_ref(pid)
            .map(|actor| DynamicSupervisorRef { actor })
    }

    /// The underlying actor reference.
    pub fn actor_ref(&self) -> &ActorRef<DynamicMsg<Args>> {
        &self.actor
    }

    async fn ask<R: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> DynamicMsg<Args>,
    ) -> Result<R, SupervisorError> {
        self.actor
            .call(make, super::CALL_TIMEOUT)
            .await
            .map_err(SupervisorError::Call)
    }

    /// Starts a child from the template with `args`. An ignoring child is not kept.
    pub async fn start_child(&self, args: Args) -> Result<Started, SupervisorError> {
        self.ask(|r| DynamicMsg::StartChild(args, r)).await?
    }

    /// Stops the child `pid` with the template's shutdown policy; it is not restarted. As in
    /// OTP, a `pid` that is not alive answers `Ok`, a live process that is not a child
    /// [`SupervisorError::NotFound`].
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        self.ask(|r| DynamicMsg::TerminateChild(pid, r)).await?
    }

    /// The children, in start order (restarting ones under their old pid).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.ask(DynamicMsg::WhichChildren).await
    }

    /// Counts of children: `specs` is 1 (the template), `active` the running ones.
    pub async fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.ask(DynamicMsg::CountChildren).await
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisor<Args> {
    /// Starts a dynamic supervisor with no children.
    pub async fn start(
        node: &Node,
        spec: DynamicSupervisorSpec<Args>,
    ) -> Result<DynamicSupervisorRef<Args>, SpawnError> {
        DynamicSupervisor::start_opts(node, spec, SpawnOpts::default()).await
    }

    /// Starts a dynamic supervisor with spawn options (`trap_exit` is always on); use
    /// [`child_opts`] to make it the child of another supervisor, or
    /// [`ChildSpec::dynamic_supervisor`](super::ChildSpec::dynamic_supervisor).
    pub async fn start_opts(
        node: &Node,
        spec: DynamicSupervisorSpec<Args>,
        mut opts: SpawnOpts,
    ) -> Result<DynamicSupervisorRef<Args>, SpawnError> {
        check_period(spec.period).map_err(SpawnError::InvalidSpec)?;
        check_significant("", spec.significant, spec.restart, spec.auto_shutdown)
            .map_err(SpawnError::InvalidSpec)?;
        opts.trap_exit = true;
        let sup = DynamicSupervisor {
            restarts: Restarts::new(spec.intensity, spec.period),
            spec,
            children: BTreeMap::new(),
            restarting: 0,
        };
        let actor = node.spawn_opts(sup, opts).await?;
        Ok(DynamicSupervisorRef { actor })
    }

    fn child(&self, args: Args) -> DynChild<Args> {
        DynChild {
            args: (self.spec.restart != Restart::Temporary).then_some(args),
            restarting: false,
        }
    }

    async fn start_with(&mut self, ctx: &Context<Self>, args: Args) -> Result<Started, SpawnError> {
        let started = (self.spec.start)(ctx.node().clone(), ctx.pid(), args.clone()).await?;
        if let Started::Pid(pid) = started {
            self.children.insert(pid, self.child(args));
        }
        Ok(started)
    }

    /// OTP `restart/2` for simple_one_for_one: the child `old` must be restarted.
    async fn restart(&mut self, ctx: &mut Context<Self>, old: Pid) {
        let sup = ctx.pid();
        let Some(child) = self.children.remove(&old) else {
            return;
        };
        if child.restarting {
            self.restarting -= 1;
        }
        if !self.restarts.add() {
            report::intensity_reached(sup, &old.to_string());
            ctx.stop(ExitReason::Shutdown);
            return;
        }
        let Some(args) = child.args else { return };
        match (self.spec.start)(ctx.node().clone(), sup, args.clone()).await {
            Ok(Started::Pid(pid)) => {
                report::started(sup, &pid.to_string(), pid);
                self.children.insert(pid, self.child(args));
            }
            Ok(Started::Ignore) => {}
            Err(e) => {
                report::start_error(sup, &old.to_string(), &e);
                self.children.insert(
                    old,
                    DynChild {
                        args: Some(args),
                        restarting: true,
                    },
                );
                self.restarting += 1;
                try_again(ctx, DynamicMsg::TryAgainRestart(TryAgain(old)));
            }
        }
    }

    /// OTP `do_auto_shutdown` for simple_one_for_one.
    fn auto_shutdown(&self, ctx: &mut Context<Self>, pid: Pid) {
        let shut = match self.spec.auto_shutdown {
            _ if !self.spec.significant => false,
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => self.children.is_empty(),
        };
        if shut {
            report::auto_shutdown(ctx.pid(), &pid.to_string());
            ctx.stop(ExitReason::Shutdown);
        }
    }

    /// Stops all children: the exit signals go out together, then each is awaited (OTP stops
    /// simple_one_for_one children concurrently).
    async fn stop_all(&mut self, ctx: &Context<Self>) {
        let node = ctx.node().clone();
        let sup = ctx.pid();
        let (policy, restart) = (self.spec.shutdown, self.spec.restart);
        self.restarting = 0;
        let stops = std::mem::take(&mut self.children)
            .into_iter()
            .filter(|(_, c)| !c.restarting)
            .map(|(pid, _)| {
                let node = node.clone();
                async move {
                    let id = pid.to_string();
                    let stopping = Stopping {
                        id: &id,
                        pid,
                        policy,
                        restart,
                    };
                    shutdown_child(&node, sup, stopping).await
                }
            });
        futures::future::join_all(stops).await;
    }
}

impl<Args: Clone + Send + 'static> Actor for DynamicSupervisor<Args> {
    type Msg = DynamicMsg<Args>;

    async fn handle(&mut self, msg: DynamicMsg<Args>, ctx: &mut Context<Self>) {
        match msg {
            DynamicMsg::StartChild(args, r) => {
                let res = self
                    .start_with(ctx, args)
                    .await
                    .map_err(|reason| SupervisorError::StartFailed { id: None, reason });
                r.send(res);
            }
            DynamicMsg::TerminateChild(pid, r) => {
                let res = match self.children.remove(&pid) {
                    Some(c) if c.restarting => {
                        self.restarting -= 1;
                        Ok(())
                    }
                    Some(_) => {
                        let id = pid.to_string();
                        let stopping = Stopping {
                            id: &id,
                            pid,
                            policy: self.spec.shutdown,
                            restart: self.spec.restart,
                        };
                        shutdown_child(ctx.node(), ctx.pid(), stopping).await;
                        Ok(())
                    }
                    // OTP `find_child/2`: a dead pid is fine, a live stranger is not found.
                    None if ctx.node().is_alive(pid) => Err(SupervisorError::NotFound),
                    None => Ok(()),
                };
                r.send(res);
            }
            DynamicMsg::WhichChildren(r) => {
                r.send(
                    self.children
                        .iter()
                        .map(|(pid, c)| {
                            let state = if c.restarting {
                                ChildState::Restarting
                            } else {
                                ChildState::Running(*pid)
                            };
                            ChildInfo {
                                id: pid.to_string(),
                                pid: state.pid(),
                                state,
                                kind: self.spec.kind,
                            }
                        })
                        .collect(),
                );
            }
            DynamicMsg::CountChildren(r) => {
                let n = self.children.len();
                let (workers, supervisors) = match self.spec.kind {
                    ChildType::Worker => (n, 0),
                    ChildType::Supervisor => (0, n),
                };
                r.send(ChildCount {
                    specs: 1,
                    active: n - self.restarting,
                    workers,
                    supervisors,
                });
            }
            DynamicMsg::TryAgainRestart(TryAgain(old)) => {
                if self.children.get(&old).is_some_and(|c| c.restarting) {
                    self.restart(ctx, old).await;
                }
            }
        }
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, ctx: &mut Context<Self>) {
        match self.children.get(&from) {
            Some(c) if !c.restarting => {}
            _ => return,
        }
        let sup = ctx.pid();
        // OTP `do_restart`.
        match self.spec.restart {
            Restart::Permanent => {
                report::child_terminated(sup, &from.to_string(), from, &reason);
                self.restart(ctx, from).await;
            }
            _ if reason.is_clean() => {
                self.children.remove(&from);
                self.auto_shutdown(ctx, from);
            }
            Restart::Transient => {
                report::child_terminated(sup, &from.to_string(), from, &reason);
                self.restart(ctx, from).await;
            }
            Restart::Temporary => {
                report::child_terminated(sup, &from.to_string(), from, &reason);
                self.children.remove(&from);
                self.auto_shutdown(ctx, from);
            }
        }
    }

    async fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.stop_all(ctx).await;
    }
}
