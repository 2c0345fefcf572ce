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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Terminate all other children, then restart all of them.
    OneForAll,
    /// Terminate the children started after the one that exited, then restart it and them.
    RestForOne,
}

/// When a child is restarted (OTP restart types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `exit(child, kill)`: ends at once, no `stopped` hook.
    BrutalKill,
    /// `exit(child, shutdown)`, then `kill` if it has not exited within the time.
    Timeout(Duration),
    /// `exit(child, shutdown)` and wait as long as it takes (the default for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor (for `count_children` and default shutdown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildType {
    /// A worker.
    Worker,
    /// A supervisor.
    Supervisor,
}

/// Starts a child linked to the supervisor `sup`, with `sup` as its parent, and returns its pid.
pub type StartFn =
    Arc<dyn Fn(Node, Pid) -> BoxFuture<'static, Result<Pid, SpawnError>> + Send + Sync>;

/// How to start, restart and stop one child.
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    pub(crate) start: StartFn,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) kind: ChildType,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
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
        let factory = Arc::new(factory);
        ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let actor = factory();
            Box::pin(async move {
                node.spawn_opts(actor, child_opts(sup))
                    .await
                    .map(|r| r.pid())
            }) as BoxFuture<'static, _>
        })
    }

    /// A child started by any function that links the new process to `sup` and makes `sup` its
    /// parent (use [`child_opts`]). Defaults: permanent worker, shutdown after 5 s.
    pub fn from_fn(
        id: impl Into<String>,
        start: impl Fn(Node, Pid) -> BoxFuture<'static, Result<Pid, SpawnError>> + Send + Sync + 'static,
    ) -> ChildSpec {
        ChildSpec {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            kind: ChildType::Worker,
        }
    }

    /// A child supervisor built from `spec`. Defaults: permanent, shutdown `infinity`.
    pub fn supervisor(id: impl Into<String>, spec: super::SupervisorSpec) -> ChildSpec {
        let mut child = ChildSpec::from_fn(id, move |node: Node, sup: Pid| {
            let spec = spec.clone();
            Box::pin(async move {
                super::Supervisor::start_opts(&node, spec, child_opts(sup))
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
}

/// A supervisor's flags and children.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with `strategy` and OTP's default intensity: at most 1 restart in 5 seconds.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: 1,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }

    /// At most `intensity` restarts within `period`; one more and the supervisor terminates
    /// its children and exits with `shutdown`.
    pub fn intensity(mut self, intensity: u32, period: Duration) -> Self {
        self.intensity = intensity;
        self.period = period;
        self
    }

    /// Adds a child; children start in the order added and stop in reverse.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// One row of [`which_children`](super::SupervisorRef::which_children).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// The child's id (for dynamic supervisors, its pid as text).
    pub id: String,
    /// Its pid, or `None` if it is not running (OTP `undefined`).
    pub pid: Option<Pid>,
    /// Worker or supervisor.
    pub kind: ChildType,
}

/// The answer of [`count_children`](super::SupervisorRef::count_children).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCount {
    /// Child specs held.
    pub specs: usize,
    /// Children running.
    pub active: usize,
    /// Specs of supervisor type.
    pub supervisors: usize,
    /// Specs of worker type.
    pub workers: usize,
}

/// Why a supervisor operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// No child with that id.
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
    /// The child's start function failed.
    #[error("child failed to start: {0}")]
    StartFailed(SpawnError),
    /// The supervisor could not be reached.
    #[error("supervisor unreachable: {0}")]
    Call(crate::error::CallError),
}
