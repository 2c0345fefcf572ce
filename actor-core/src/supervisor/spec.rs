//! Child specifications and supervisor flags, as in OTP's `supervisor` module.

use crate::actor::Actor;
use crate::error::SpawnError;
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use futures::future::BoxFuture;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How a supervisor reacts when a child exits and must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Terminate all other children, then restart all of them.
    OneForAll,
    /// Terminate the children started after the one that exited, then restart it and them.
    RestForOne,
}

/// When a child is restarted (OTP restart types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit: any reason other than `normal`, `shutdown` or
    /// `{shutdown, _}`.
    Transient,
    /// Never restarted; its spec is removed when it exits, and it is not restarted when a
    /// sibling's exit makes the supervisor terminate it.
    Temporary,
}

/// How a child is stopped by its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Shutdown {
    /// `exit(child, kill)`: ends at once, no `stopped` hook.
    BrutalKill,
    /// `exit(child, shutdown)`, then `kill` if it has not exited within the time.
    Timeout(Duration),
    /// `exit(child, shutdown)` and wait as long as it takes (the default for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor (for `count_children` and default shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChildType {
    /// A worker.
    Worker,
    /// A supervisor.
    Supervisor,
}

/// When a supervisor shuts itself down because *significant* children ended by themselves
/// (OTP 24's `auto_shutdown` flag; see [`ChildSpec::significant`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AutoShutdown {
    /// Never (the default); no child may be significant.
    #[default]
    Never,
    /// As soon as any significant child has terminated by itself without being restarted.
    AnySignificant,
    /// When every significant child has so terminated (the last active one ends).
    AllSignificant,
}

/// What a start function did: OTP's `{ok, Pid}` or `ignore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Started {
    /// The child runs as this process, linked to the supervisor.
    Pid(Pid),
    /// The child chose not to run (OTP `ignore`): no process is left. A static supervisor
    /// keeps the spec (unless the child is temporary) with no process, and
    /// [`restart_child`](super::SupervisorRef::restart_child) tries it again; a dynamic
    /// supervisor keeps nothing.
    Ignore,
}

impl Started {
    /// The pid, if the child runs.
    pub fn pid(self) -> Option<Pid> {
        match self {
            Started::Pid(pid) => Some(pid),
            Started::Ignore => None,
        }
    }
}

impl From<Pid> for Started {
    fn from(pid: Pid) -> Started {
        Started::Pid(pid)
    }
}

/// Starts a child linked to the supervisor `sup`, with `sup` as its parent.
pub type StartFn =
    Arc<dyn Fn(Node, Pid) -> BoxFuture<'static, Result<Started, SpawnError>> + Send + Sync>;

/// How to start, restart and stop one child.
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    pub(crate) significant: bool,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildType,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("significant", &self.significant)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish()
    }
}

/// The options a supervisor gives every child it starts.
pub fn child_opts(sup: Pid) -> SpawnOpts {
    SpawnOpts {
        link: Some(sup),
        parent: Some(sup),
        ..SpawnOpts::default()
    }
}

impl ChildSpec {
    /// A worker made fresh by `factory` at every (re)start. Defaults: permanent, shutdown
    /// after 5 s (OTP's defaults for workers).
    pub fn worker<A: Actor>(
        id: impl Into<String>,
        factory: impl Fn() -> A + Send + Sync + 'static,
    ) -> ChildSpec {
        ChildSpec::worker_or_ignore(id, move || Some(factory()))
    }

    /// A worker whose `factory` may decline to start it: `None` is OTP's `ignore` (no process
    /// is spawned; see [`Started::Ignore`]). Defaults as [`worker`](ChildSpec::worker).
    ///
    /// ```
    /// use actor_core::{Actor, Context, Node};
    /// use actor_core::supervisor::{ChildSpec, ChildState, Strategy, Supervisor, SupervisorSpec};
    ///
    /// struct Cache;
    /// impl Actor for Cache {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("ignore@localhost");
    /// let enabled = false;
    /// let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///     .child(ChildSpec::worker_or_ignore("cache", move || enabled.then_some(Cache)));
    /// let sup = Supervisor::start(&node, spec).await.unwrap();
    /// let kids = sup.which_children().await.unwrap();
    /// assert_eq!(kids[0].state, ChildState::Undefined);
    /// assert_eq!(sup.count_children().await.unwrap().active, 0);
    /// # });
    /// ```
    pub fn worker_or_ignore<A: Actor>(
        id: impl Into<String>,
        factory: impl Fn() -> Option<A> + Send + Sync + 'static,
    ) -> ChildSpec {
        let factory = Arc::new(factory);
        ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let actor = factory();
            Box::pin(async move {
                match actor {
                    None => Ok(Started::Ignore),
                    Some(actor) => node
                        .spawn_opts(actor, child_opts(sup))
                        .await
                        .map(|r| Started::Pid(r.pid())),
                }
            }) as BoxFuture<'static, _>
        })
    }

    /// A child started by any function that links the new process to `sup` and makes `sup` its
    /// parent (use [`child_opts`]). The function answers a [`Pid`] or a [`Started`] (which can
    /// be [`Started::Ignore`]). Defaults: permanent worker, shutdown after 5 s.
    ///
    /// ```
    /// use actor_core::{Node, Pid, SpawnError};
    /// use actor_core::supervisor::{ChildSpec, Started, Strategy, Supervisor, SupervisorSpec};
    /// use futures::future::BoxFuture;
    ///
    /// let optional = ChildSpec::from_fn("feature", |_node: Node, _sup: Pid| {
    ///     Box::pin(async { Ok(Started::Ignore) }) as BoxFuture<'static, Result<Started, SpawnError>>
    /// });
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("from-fn@localhost");
    /// let sup = Supervisor::start(&node, SupervisorSpec::new(Strategy::OneForOne).child(optional))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sup.restart_child("feature").await, Ok(Started::Ignore));
    /// # });
    /// ```
    pub fn from_fn<R: Into<Started> + 'static>(
        id: impl Into<String>,
        start: impl Fn(Node, Pid) -> BoxFuture<'static, Result<R, SpawnError>> + Send + Sync + 'static,
    ) -> ChildSpec {
        ChildSpec {
            id: id.into(),
            start: Arc::new(move |node, sup| {
                let started = start(node, sup);
                Box::pin(async move { started.await.map(Into::into) })
            }),
            restart: Restart::Permanent,
            significant: false,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
        }
    }

    /// A child supervisor built from `spec`. Defaults: permanent, shutdown `infinity`.
    pub fn supervisor(id: impl Into<String>, spec: super::SupervisorSpec) -> ChildSpec {
        ChildSpec::supervisor_with(id, move || Some(spec.clone()))
    }

    /// A child supervisor whose `init` runs at every (re)start and may answer `None`, OTP's
    /// `init/1` returning `ignore`: no process is started and the child is ignored (see
    /// [`Started::Ignore`]). Defaults: permanent, shutdown `infinity`.
    pub fn supervisor_with(
        id: impl Into<String>,
        init: impl Fn() -> Option<super::SupervisorSpec> + Send + Sync + 'static,
    ) -> ChildSpec {
        let init = Arc::new(init);
        let mut child = ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let spec = init();
            Box::pin(async move {
                match spec {
                    None => Ok(Started::Ignore),
                    Some(spec) => super::Supervisor::start_opts(&node, spec, child_opts(sup))
                        .await
                        .map(|s| Started::Pid(s.pid())),
                }
            }) as BoxFuture<'static, _>
        });
        child.kind = ChildType::Supervisor;
        child.shutdown = Shutdown::Infinity;
        child
    }

    /// A child [`DynamicSupervisor`](super::DynamicSupervisor) built from `spec`, in one call.
    /// Defaults: permanent, shutdown `infinity`, kind supervisor. Reach it through
    /// [`DynamicSupervisorRef::from_pid`](super::DynamicSupervisorRef::from_pid).
    ///
    /// ```
    /// use actor_core::{Actor, Context, Node};
    /// use actor_core::supervisor::{
    ///     ChildSpec, DynamicSupervisorRef, DynamicSupervisorSpec, Strategy, Supervisor,
    ///     SupervisorSpec,
    /// };
    ///
    /// struct Session(u64);
    /// impl Actor for Session {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("pool@localhost");
    /// let sessions = DynamicSupervisorSpec::worker(Session);
    /// let top = Supervisor::start(
    ///     &node,
    ///     SupervisorSpec::new(Strategy::OneForOne)
    ///         .child(ChildSpec::dynamic_supervisor("sessions", sessions)),
    /// )
    /// .await
    /// .unwrap();
    /// let pid = top.which_children().await.unwrap()[0].pid.unwrap();
    /// let sessions = DynamicSupervisorRef::<u64>::from_pid(&node, pid).unwrap();
    /// sessions.start_child(7).await.unwrap();
    /// assert_eq!(sessions.count_children().await.unwrap().active, 1);
    /// # });
    /// ```
    pub fn dynamic_supervisor<Args: Clone + Send + 'static>(
        id: impl Into<String>,
        spec: super::DynamicSupervisorSpec<Args>,
    ) -> ChildSpec {
        let mut child = ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let spec = spec.clone();
            Box::pin(async move {
                super::DynamicSupervisor::start_opts(&node, spec, child_opts(sup))
                    .await
                    .map(|s| s.pid())
            }) as BoxFuture<'static, _>
        });
        child.kind = ChildType::Supervisor;
        child.shutdown = Shutdown::Infinity;
        child
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Marks the child significant for the supervisor's [`AutoShutdown`]: its ending by
    /// itself (a temporary child's any exit, a transient child's clean exit) can shut the
    /// supervisor down. A permanent child cannot be significant, and a significant child needs
    /// an `auto_shutdown` other than [`AutoShutdown::Never`]: the supervisor refuses the spec
    /// ([`SpecError`]).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Runs `after` with the new child's pid each time the child has started (at every
    /// restart too), before the supervisor records it: the place to tie the child to a name
    /// (as `start_link({via, Module, Name}, ...)` does in OTP). If `after` fails, the new child
    /// is unlinked and killed, and the start fails with [`SpawnError::Init`] and that reason,
    /// as if the child's own init had failed.
    ///
    /// ```
    /// use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
    /// use actor_core::{Actor, Context, Node, Pid};
    /// use std::sync::{Arc, Mutex};
    ///
    /// struct W;
    /// impl Actor for W {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("after@localhost");
    /// let seen: Arc<Mutex<Vec<Pid>>> = Arc::default();
    /// let s = seen.clone();
    /// let spec = SupervisorSpec::new(Strategy::OneForOne).child(
    ///     ChildSpec::worker("w", || W).after_start(move |_node, pid| {
    ///         s.lock().unwrap().push(pid);
    ///         Ok(())
    ///     }),
    /// );
    /// let sup = Supervisor::start(&node, spec).await.unwrap();
    /// assert_eq!(sup.which_children().await.unwrap()[0].pid, Some(seen.lock().unwrap()[0]));
    /// # });
    /// ```
    pub fn after_start(
        mut self,
        after: impl Fn(&Node, Pid) -> Result<(), crate::ExitReason> + Send + Sync + 'static,
    ) -> Self {
        let inner = self.start.clone();
        let after = Arc::new(after);
        self.start = Arc::new(move |node: Node, sup: Pid| {
            let started = inner(node.clone(), sup);
            let after = after.clone();
            Box::pin(async move {
                let started = started.await?;
                if let Started::Pid(pid) = started {
                    if let Err(reason) = after(&node, pid) {
                        let exit = node.wait_exit(pid);
                        node.unlink(sup, pid);
                        node.exit(pid, crate::ExitReason::Kill);
                        exit.await;
                        return Err(SpawnError::Init(reason));
                    }
                }
                Ok(started)
            }) as BoxFuture<'static, _>
        });
        self
    }

    /// Sets the shutdown policy.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child as a supervisor or a worker.
    pub fn kind(mut self, kind: ChildType) -> Self {
        self.kind = kind;
        self
    }

    /// The child's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// Whether the child is significant for auto shutdown.
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// The shutdown policy.
    pub fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
    }

    /// Worker or supervisor.
    pub fn child_type(&self) -> ChildType {
        self.kind
    }
}

/// A supervisor's flags and children.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) auto_shutdown: AutoShutdown,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with `strategy` and OTP's default intensity: at most 1 restart in 5 seconds.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
            children: Vec::new(),
        }
    }

    /// At most `intensity` restarts within `period`; one more and the supervisor terminates
    /// its children and exits with `shutdown`. As in OTP the period is whole seconds (a
    /// fraction is rounded up; a zero period is refused with [`SpecError::ZeroPeriod`]); see
    /// the [module docs](super#restart-intensity) for how restarts are counted.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Sets the auto shutdown flag (default [`AutoShutdown::Never`]).
    ///
    /// ```
    /// use actor_core::{Actor, Context, ExitReason, Node};
    /// use actor_core::supervisor::{
    ///     AutoShutdown, ChildSpec, Restart, Strategy, Supervisor, SupervisorSpec,
    /// };
    ///
    /// struct Job;
    /// impl Actor for Job {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
    ///         ctx.stop(ExitReason::Normal); // done
    ///     }
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("auto@localhost");
    /// let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///     .auto_shutdown(AutoShutdown::AnySignificant)
    ///     .child(ChildSpec::worker("job", || Job).restart(Restart::Transient).significant(true));
    /// let sup = Supervisor::start(&node, spec).await.unwrap();
    /// let down = node.wait_exit(sup.pid());
    /// let job = sup.which_children().await.unwrap()[0].pid.unwrap();
    /// node.actor_ref::<()>(job).unwrap().tell(()).unwrap();
    /// assert_eq!(down.await, ExitReason::Shutdown);
    /// # });
    /// ```
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Adds a child; children start in the order added and stop in reverse.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Checks the flags and every child as OTP's `check_startspec` does.
    pub(crate) fn check(&self) -> Result<(), SpecError> {
        check_period(self.period)?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.children {
            check_child(c, self.auto_shutdown)?;
            if !seen.insert(c.id.as_str()) {
                return Err(SpecError::DuplicateChildId(c.id.clone()));
            }
        }
        Ok(())
    }
}

pub(crate) fn check_period(period: Duration) -> Result<(), SpecError> {
    if period.is_zero() {
        Err(SpecError::ZeroPeriod)
    } else {
        Ok(())
    }
}

/// OTP's `validSignificant`.
pub(crate) fn check_significant(
    id: &str,
    significant: bool,
    restart: Restart,
    auto_shutdown: AutoShutdown,
) -> Result<(), SpecError> {
    if !significant {
        Ok(())
    } else if auto_shutdown == AutoShutdown::Never {
        Err(SpecError::SignificantWithoutAutoShutdown(id.to_string()))
    } else if restart == Restart::Permanent {
        Err(SpecError::SignificantPermanent(id.to_string()))
    } else {
        Ok(())
    }
}

pub(crate) fn check_child(c: &ChildSpec, auto_shutdown: AutoShutdown) -> Result<(), SpecError> {
    check_significant(&c.id, c.significant, c.restart, auto_shutdown)
}

/// Why a supervisor spec or child spec is refused (OTP `check_childspecs` errors). A refused
/// spec starts nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SpecError {
    /// Two children have this id (OTP `{duplicate_child_name, Id}`).
    #[error("duplicate child id {0:?}")]
    DuplicateChildId(String),
    /// This child is significant but the supervisor's auto shutdown is `never` (OTP
    /// `{bad_combination, [{auto_shutdown, never}, {significant, true}]}`).
    #[error("child {0:?} is significant but auto_shutdown is never")]
    SignificantWithoutAutoShutdown(String),
    /// This child is significant and permanent (OTP
    /// `{bad_combination, [{restart, permanent}, {significant, true}]}`).
    #[error("child {0:?} is significant and permanent")]
    SignificantPermanent(String),
    /// The intensity period is zero (OTP `{invalid_period, 0}`).
    #[error("the restart intensity period must be at least one second")]
    ZeroPeriod,
}

/// Where a child stands (OTP's `Child` in `which_children`: a pid, `restarting` or
/// `undefined`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ChildState {
    /// Running as this process.
    Running(Pid),
    /// Its restart failed; the supervisor tries again through its mailbox.
    Restarting,
    /// Not running: terminated, ended without being restarted, or ignored at start.
    Undefined,
}

impl ChildState {
    /// The pid, if running.
    pub fn pid(self) -> Option<Pid> {
        match self {
            ChildState::Running(pid) => Some(pid),
            _ => None,
        }
    }
}

/// One row of [`which_children`](super::SupervisorRef::which_children).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChildInfo {
    /// The child's id (for dynamic supervisors, its pid as text).
    pub id: String,
    /// Its pid when running; `None` when restarting or undefined (the same as
    /// `state.pid()`, kept for convenience).
    pub pid: Option<Pid>,
    /// Running, restarting or undefined.
    pub state: ChildState,
    /// Worker or supervisor.
    pub kind: ChildType,
}

/// The answer of [`count_children`](super::SupervisorRef::count_children).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChildCount {
    /// Child specs held.
    pub specs: usize,
    /// Children running (not restarting, not undefined).
    pub active: usize,
    /// Specs of supervisor type.
    pub supervisors: usize,
    /// Specs of worker type.
    pub workers: usize,
}

/// Why a supervisor operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SupervisorError {
    /// No child with that id (or pid).
    #[error("no such child")]
    NotFound,
    /// A child with that id is already running (its pid).
    #[error("child already started as {0}")]
    AlreadyStarted(Pid),
    /// A spec with that id exists but its child is not running.
    #[error("child spec already present")]
    AlreadyPresent,
    /// The child is running; terminate it first.
    #[error("child is running")]
    Running,
    /// The child is being restarted by the supervisor (OTP `{error, restarting}`).
    #[error("child is restarting")]
    Restarting,
    /// The child's start function failed. `id` is the child's id (`None` for a dynamic
    /// supervisor's children, which have none).
    #[error("child {id:?} failed to start: {reason}")]
    StartFailed {
        /// The child's id.
        id: Option<String>,
        /// Why it failed.
        reason: SpawnError,
    },
    /// The child spec is refused.
    #[error("invalid child spec: {0}")]
    InvalidSpec(SpecError),
    /// The supervisor could not be reached.
    #[error("supervisor unreachable: {0}")]
    Call(crate::error::CallError),
}
