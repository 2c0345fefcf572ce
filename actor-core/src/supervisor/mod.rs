//! OTP supervisors: [`Supervisor`] (one_for_one, one_for_all, rest_for_one) and
//! [`DynamicSupervisor`] (simple_one_for_one). OTP's `supervisor` reference page is the
//! contract; the differences that remain are listed at the end.
//!
//! A supervisor is an actor that traps exits, starts its children in order linked to itself,
//! restarts them according to its [`Strategy`] and each child's [`Restart`] type, and stops
//! them in reverse order with their [`Shutdown`] policy.
//!
//! ```
//! use actor_core::{Actor, Context, Node};
//! use actor_core::supervisor::{ChildSpec, Restart, Strategy, Supervisor, SupervisorSpec};
//!
//! struct Worker;
//! impl Actor for Worker {
//!     type Msg = ();
//!     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let node = Node::new("sup@localhost");
//! let spec = SupervisorSpec::new(Strategy::OneForOne)
//!     .child(ChildSpec::worker("a", || Worker))
//!     .child(ChildSpec::worker("b", || Worker).restart(Restart::Transient));
//! let sup = Supervisor::start(&node, spec).await.unwrap();
//! assert_eq!(sup.count_children().await.unwrap().active, 2);
//! # });
//! ```
//!
//! # Starting, ignoring, failing
//!
//! A start function answers a pid ([`Started::Pid`]), OTP's `ignore` ([`Started::Ignore`]:
//! no process; the spec is kept as `undefined` unless temporary, and
//! [`restart_child`](SupervisorRef::restart_child) tries it again), or an error. Workers that
//! may decline use [`ChildSpec::worker_or_ignore`] or [`ChildSpec::from_fn`]; a supervisor
//! whose own `init` may answer `ignore` starts with [`Supervisor::start_with`] (or
//! [`ChildSpec::supervisor_with`] as a child). A child failing at the supervisor's start
//! stops the children already started (reverse order) and the start fails with
//! [`SpawnError::FailedToStartChild`] naming it (the supervisor's own exit reason is
//! `{shutdown, failed_to_start_child ...}` as text). A refused spec (duplicate ids, a
//! significant child that is permanent or under `auto_shutdown` never, a zero period) fails
//! with [`SpawnError::InvalidSpec`] before any child starts.
//!
//! # Restarting
//!
//! A restart that fails does not loop: as OTP does, the failed child is marked
//! [`ChildState::Restarting`] (shown by `which_children`, not counted active by
//! `count_children`) and the supervisor sends itself a retry, queued behind the requests
//! already in its mailbox, so they are answered in between. Every attempt counts towards the
//! intensity. For one_for_all and rest_for_one a restart that fails part-way leaves the
//! children already restarted running and is retried as a whole: the retry applies the
//! strategy again from the child that failed (one_for_all: all children; rest_for_one: that
//! child and the ones after it). `terminate_child` on a restarting child stops the retries.
//!
//! # Restart intensity
//!
//! If more than `intensity` restarts happen within `period` (OTP default 1 in 5 s), the
//! supervisor terminates all its children and exits with `shutdown`, so that its own
//! supervisor sees it and can act: failures escalate up the tree. Restarts are counted as OTP
//! counts them, in whole seconds: each restart is stamped with the whole seconds since the
//! supervisor started (rounded down) and the ones whose age in whole seconds is at most the
//! period are kept. Two restarts up to `period + 1` seconds apart can therefore count
//! together, and two a little more than `period` apart across a second boundary may not. A
//! fractional period is rounded up to whole seconds.
//!
//! # Auto shutdown
//!
//! [`SupervisorSpec::auto_shutdown`] and [`ChildSpec::significant`] are OTP 24's: when a
//! significant child ends by itself and is not restarted (a temporary child's any exit, a
//! transient child's `normal`, `shutdown` or `{shutdown, _}`), the supervisor stops all its
//! children (reverse order) and exits with `shutdown`: at once with
//! [`AutoShutdown::AnySignificant`], or when no significant child is left running or
//! restarting with [`AutoShutdown::AllSignificant`]. Terminating a child through
//! `terminate_child` (or a sibling's restart) never triggers it.
//!
//! # Managing children
//!
//! [`SupervisorRef`] offers `which_children` (in OTP's order: **reverse start order**, the
//! most recently started child first, as OTP's `Ids` list is kept newest first),
//! `count_children`, `start_child`, `terminate_child` (a child that is not running, or has
//! already died, terminates with `Ok` as in OTP), `restart_child`, `delete_child` (both
//! refuse a restarting child with [`SupervisorError::Restarting`]) and `get_childspec`.
//!
//! [`DynamicSupervisor`] is OTP's simple_one_for_one: children from one template, terminated
//! by pid ([`DynamicSupervisorRef::terminate_child`]; a pid that is not alive answers `Ok` as
//! in OTP). OTP's `restart_child` and `delete_child` answer `{error, simple_one_for_one}` for
//! such a supervisor; here [`DynamicSupervisorRef`] simply has no such methods. Its children
//! are kept in a map by pid, so starting and stopping a child costs `O(log n)`.
//!
//! # Reports
//!
//! A supervisor reports through [`tracing`](https://docs.rs/tracing) events with target
//! `actor_core::supervisor`, as OTP's supervisor reports (`report = "supervisor_report"`,
//! level ERROR, with the OTP `errorContext` in the field `error_context`):
//!
//! | `error_context`    | when                                                         |
//! |--------------------|--------------------------------------------------------------|
//! | `child_terminated` | a child exited by itself (any reason if permanent, else abnormal) |
//! | `start_error`      | a child failed to start or restart                           |
//! | `shutdown`         | `reason = "reached_max_restart_intensity"`: the supervisor gives up |
//! | `shutdown_error`   | a child being stopped ended with an unexpected reason, e.g. `killed` after its shutdown timeout (then with a `shutdown_timeout` field) |
//!
//! Fields: `sup` (the supervisor's pid), `child_id` (for a dynamic supervisor's child, its
//! pid), `child_pid` when there is one, and `reason`. Besides, a progress report
//! (`report = "progress"`, level DEBUG) for every child started, and `report =
//! "auto_shutdown"` (level INFO) when a significant child's end shuts the supervisor down.
//!
//! Without a subscriber nothing is printed. To see the reports, install one, for example with
//! the `tracing-subscriber` crate: `tracing_subscriber::fmt().init()` shows INFO and above
//! (the error reports included); with its `env-filter` feature,
//! `tracing_subscriber::fmt().with_env_filter(EnvFilter::from_default_env()).init()` and
//! `RUST_LOG=actor_core::supervisor=debug` show every supervisor event, progress reports too.
//!
//! # Differences from OTP
//!
//! - Child ids are strings; a dynamic supervisor's children are named by their pid as text in
//!   `which_children` (OTP: `undefined`).
//! - A start function is a Rust function returning [`Started`], not an `{M, F, A}`; the extra
//!   `Info` of `{ok, Pid, Info}` does not exist. A worker declines to start through its
//!   factory ([`ChildSpec::worker_or_ignore`]), not from [`Actor::started`]: that hook's error
//!   is an [`ExitReason`], and no exit reason is a clean stand-in for `ignore`.
//! - `start_child` returns `Started` and a failure carries the child's id
//!   ([`SupervisorError::StartFailed`]) rather than OTP's child record.
//! - The intensity period counts whole seconds from the supervisor's start rather than from
//!   the VM's monotonic epoch (equally arbitrary); a fractional [`Duration`] is rounded up.
//! - A dynamic supervisor's child whose restart answers `ignore` is forgotten (OTP stores it
//!   under the key `undefined`).
//! - When a child already dead is terminated, its real exit reason is not checked (OTP
//!   flushes it from the mailbox and may report a `shutdown_error`).
//! - `count_children` counts a child as active only while its process is alive (as OTP's
//!   `is_process_alive`), so a child that just died can show as running in
//!   `which_children` but not be counted active until the supervisor handles its exit.
//!
//! [`Actor::started`]: crate::Actor::started
//! [`ExitReason`]: crate::ExitReason
//! [`SpawnError::FailedToStartChild`]: crate::SpawnError::FailedToStartChild
//! [`SpawnError::InvalidSpec`]: crate::SpawnError::InvalidSpec

mod dynamic;
mod report;
mod restarts;
mod shutdown;
mod spec;
mod static_sup;

pub use dynamic::{DynamicMsg, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec};
pub use spec::{
    child_opts, AutoShutdown, ChildCount, ChildInfo, ChildSpec, ChildState, ChildType, Restart,
    Shutdown, SpecError, StartFn, Started, Strategy, SupervisorError, SupervisorSpec,
};
pub use static_sup::Supervisor;

use crate::actor_ref::ActorRef;
use crate::node::Node;
use crate::pid::Pid;
use crate::reply::ReplyTo;
use std::time::Duration;

/// How long the [`SupervisorRef`] helpers wait for the supervisor (OTP uses `infinity`).
const CALL_TIMEOUT: Duration = Duration::from_secs(3600);

/// A retry the supervisor sends itself after a failed restart; only a supervisor can make one.
#[doc(hidden)]
pub struct TryAgain<K>(pub(crate) K);

/// Requests a [`Supervisor`] serves; use [`SupervisorRef`] rather than sending them by hand.
pub enum SupervisorMsg {
    /// `which_children/1`.
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    /// `count_children/1`.
    CountChildren(ReplyTo<ChildCount>),
    /// `start_child/2`.
    StartChild(ChildSpec, ReplyTo<Result<Started, SupervisorError>>),
    /// `terminate_child/2`.
    TerminateChild(String, ReplyTo<Result<(), SupervisorError>>),
    /// `restart_child/2`.
    RestartChild(String, ReplyTo<Result<Started, SupervisorError>>),
    /// `delete_child/2`.
    DeleteChild(String, ReplyTo<Result<(), SupervisorError>>),
    /// `get_childspec/2`.
    GetChildspec(String, ReplyTo<Result<ChildSpec, SupervisorError>>),
    /// The supervisor's own retry of a failed restart (OTP `try_again_restart`).
    #[doc(hidden)]
    TryAgainRestart(TryAgain<String>),
}

/// A handle to a running [`Supervisor`].
#[derive(Clone, Debug)]
pub struct SupervisorRef {
    actor: ActorRef<SupervisorMsg>,
}

impl SupervisorRef {
    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// A handle to the supervisor `pid` on `node` (e.g. a child supervisor found through
    /// `which_children`); fails if `pid` is not a live [`Supervisor`].
    pub fn from_pid(node: &Node, pid: Pid) -> Result<SupervisorRef, crate::error::RefError> {
        node.actor_ref(pid).map(|actor| SupervisorRef { actor })
    }

    /// The underlying actor reference.
    pub fn actor_ref(&self) -> &ActorRef<SupervisorMsg> {
        &self.actor
    }

    async fn ask<R: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> SupervisorMsg,
    ) -> Result<R, SupervisorError> {
        self.actor
            .call(make, CALL_TIMEOUT)
            .await
            .map_err(SupervisorError::Call)
    }

    /// The children in OTP's order, **most recently started first**, each running (with its
    /// pid), restarting or undefined.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.ask(SupervisorMsg::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
    pub async fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.ask(SupervisorMsg::CountChildren).await
    }

    /// Adds a child spec and starts it (it goes last in start order). A child that answers
    /// ignore is kept, undefined, unless it is temporary.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Started, SupervisorError> {
        self.ask(|r| SupervisorMsg::StartChild(spec, r)).await?
    }

    /// Stops the child `id` with its shutdown policy; its spec is kept (unless temporary).
    /// `Ok` also when the child is not running or has already died, as in OTP.
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.ask(|r| SupervisorMsg::TerminateChild(id.to_string(), r))
            .await?
    }

    /// Starts again a child that is not running (terminated, or ignored at start).
    pub async fn restart_child(&self, id: &str) -> Result<Started, SupervisorError> {
        self.ask(|r| SupervisorMsg::RestartChild(id.to_string(), r))
            .await?
    }

    /// Removes the spec of a child that is not running.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.ask(|r| SupervisorMsg::DeleteChild(id.to_string(), r))
            .await?
    }

    /// The spec of the child `id` (OTP `get_childspec/2`).
    ///
    /// ```
    /// use actor_core::{Actor, Context, Node};
    /// use actor_core::supervisor::{ChildSpec, Restart, Strategy, Supervisor, SupervisorSpec};
    ///
    /// struct W;
    /// impl Actor for W {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("spec@localhost");
    /// let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///     .child(ChildSpec::worker("w", || W).restart(Restart::Transient));
    /// let sup = Supervisor::start(&node, spec).await.unwrap();
    /// let w = sup.get_childspec("w").await.unwrap();
    /// assert_eq!((w.id(), w.restart_type()), ("w", Restart::Transient));
    /// # });
    /// ```
    pub async fn get_childspec(&self, id: &str) -> Result<ChildSpec, SupervisorError> {
        self.ask(|r| SupervisorMsg::GetChildspec(id.to_string(), r))
            .await?
    }
}
