//! [`DynamicSupervisor`]: OTP's `simple_one_for_one`: children made on demand from one template.

use super::restarts::Restarts;
use super::shutdown::shutdown_child;
use super::spec::{
    child_opts, ChildCount, ChildInfo, ChildType, Restart, Shutdown, SupervisorError,
};
use crate::actor::{Actor, Context};
use crate::actor_ref::ActorRef;
use crate::error::SpawnError;
use crate::exit::ExitReason;
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use crate::reply::ReplyTo;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

type TemplateFn<Args> =
    Arc<dyn Fn(Node, Pid, Args) -> BoxFuture<'static, Result<Pid, SpawnError>> + Send + Sync>;

/// The template and flags of a [`DynamicSupervisor`]. All children share restart type and
/// shutdown policy; each is started with its own `Args`.
pub struct DynamicSupervisorSpec<Args> {
    start: TemplateFn<Args>,
    restart: Restart,
    shutdown: Shutdown,
    kind: ChildType,
    intensity: u32,
    period: Duration,
}

impl<Args> Clone for DynamicSupervisorSpec<Args> {
    fn clone(&self) -> Self {
        DynamicSupervisorSpec {
            start: self.start.clone(),
            restart: self.restart,
            shutdown: self.shutdown,
            kind: self.kind,
            intensity: self.intensity,
            period: self.period,
        }
    }
}

impl<Args: Clone + Send + 'static> DynamicSupervisorSpec<Args> {
    /// Children are the actors `factory(args)`. Defaults: permanent, shutdown after 5 s,
    /// intensity 1 in 5 s.
    pub fn worker<A: Actor>(factory: impl Fn(Args) -> A + Send + Sync + 'static) -> Self {
        let factory = Arc::new(factory);
        DynamicSupervisorSpec {
            start: Arc::new(move |node: Node, sup: Pid, args: Args| {
                let actor = factory(args);
                Box::pin(async move {
                    node.spawn_opts(actor, child_opts(sup))
                        .await
                        .map(|r| r.pid())
                }) as BoxFuture<'static, _>
            }),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
            intensity: 1,
            period: Duration::from_secs(5),
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

    /// Sets the restart intensity.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }
}

/// A supervisor whose children are started on demand from one template (simple_one_for_one).
pub struct DynamicSupervisor<Args> {
    spec: DynamicSupervisorSpec<Args>,
    restarts: Restarts,
    /// Running children by pid (pids grow with start order), with the args to restart them.
    children: BTreeMap<Pid, Args>,
}

/// Requests a [`DynamicSupervisor`] serves.
pub enum DynamicMsg<Args> {
    /// Start a child with these args.
    StartChild(Args, ReplyTo<Result<Pid, SupervisorError>>),
    /// Stop the child with this pid.
    TerminateChild(Pid, ReplyTo<Result<(), SupervisorError>>),
    /// List the children.
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    /// Count the children.
    CountChildren(ReplyTo<ChildCount>),
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

impl<Args: Clone + Send + 'static> DynamicSupervisorRef<Args> {
    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
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

    /// Starts a child from the template with `args`.
    pub async fn start_child(&self, args: Args) -> Result<Pid, SupervisorError> {
        self.ask(|r| DynamicMsg::StartChild(args, r)).await?
    }

    /// Stops the child `pid` with the template's shutdown policy; it is not restarted.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        self.ask(|r| DynamicMsg::TerminateChild(pid, r)).await?
    }

    /// The running children, in start order.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.ask(DynamicMsg::WhichChildren).await
    }

    /// Counts of running children.
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
    /// [`child_opts`] to make it the child of another supervisor.
    pub async fn start_opts(
        node: &Node,
        spec: DynamicSupervisorSpec<Args>,
        mut opts: SpawnOpts,
    ) -> Result<DynamicSupervisorRef<Args>, SpawnError> {
        opts.trap_exit = true;
        let sup = DynamicSupervisor {
            restarts: Restarts::new(spec.intensity, spec.period),
            spec,
            children: BTreeMap::new(),
        };
        let actor = node.spawn_opts(sup, opts).await?;
        Ok(DynamicSupervisorRef { actor })
    }

    async fn start_with(&mut self, ctx: &Context<Self>, args: Args) -> Result<Pid, SpawnError> {
        let pid = (self.spec.start)(ctx.node().clone(), ctx.pid(), args.clone()).await?;
        self.children.insert(pid, args);
        Ok(pid)
    }

    /// Stops all children: the exit signals go out together, then each is awaited (OTP stops
    /// simple_one_for_one children concurrently).
    async fn stop_all(&mut self, ctx: &Context<Self>) {
        let node = ctx.node().clone();
        let sup = ctx.pid();
        let policy = self.spec.shutdown;
        let stops = std::mem::take(&mut self.children).into_keys().map(|pid| {
            let node = node.clone();
            async move { shutdown_child(&node, sup, pid, policy).await }
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
                    .map_err(SupervisorError::StartFailed);
                r.send(res);
            }
            DynamicMsg::TerminateChild(pid, r) => {
                let res = if self.children.remove(&pid).is_some() {
                    shutdown_child(ctx.node(), ctx.pid(), pid, self.spec.shutdown).await;
                    Ok(())
                } else {
                    Err(SupervisorError::NotFound)
                };
                r.send(res);
            }
            DynamicMsg::WhichChildren(r) => {
                r.send(
                    self.children
                        .keys()
                        .map(|pid| ChildInfo {
                            id: pid.to_string(),
                            pid: Some(*pid),
                            kind: self.spec.kind,
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
                    active: n,
                    workers,
                    supervisors,
                });
            }
        }
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, ctx: &mut Context<Self>) {
        let Some(args) = self.children.remove(&from) else {
            return;
        };
        if !reason.is_clean() {
            tracing::error!(sup = %ctx.pid(), child = %from, %reason, "child terminated");
        }
        let restart = match self.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_clean(),
            Restart::Temporary => false,
        };
        if !restart {
            return;
        }
        loop {
            if !self.restarts.add() {
                tracing::error!(sup = %ctx.pid(), "reached maximum restart intensity; shutting down");
                self.stop_all(ctx).await;
                ctx.stop(ExitReason::Shutdown);
                return;
            }
            match self.start_with(ctx, args.clone()).await {
                Ok(_) => return,
                Err(e) => tracing::error!(sup = %ctx.pid(), error = %e, "restart failed"),
            }
        }
    }

    async fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.stop_all(ctx).await;
    }
}
