//! OTP supervisors: [`Supervisor`] (one_for_one, one_for_all, rest_for_one) and
//! [`DynamicSupervisor`] (simple_one_for_one).
//!
//! A supervisor is an actor that traps exits, starts its children in order linked to itself,
//! restarts them according to its [`Strategy`] and each child's [`Restart`] type, and stops
//! them in reverse order with their [`Shutdown`] policy.
//!
//! Restart intensity: if more than `intensity` restarts happen within `period` (OTP default 1
//! in 5 s), the supervisor terminates all its children and exits with `shutdown`, so that its
//! own supervisor sees it and can act: failures escalate up the tree.
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
//! Differences from OTP: child ids are strings; a child whose restart fails is retried at once,
//! each attempt counting towards the intensity (OTP retries through a message to itself).

mod dynamic;
mod restarts;
mod shutdown;
mod spec;

pub use dynamic::{DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec};
pub use spec::{
    child_opts, ChildCount, ChildInfo, ChildSpec, ChildType, Restart, Shutdown, StartFn, Strategy,
    SupervisorError, SupervisorSpec,
};

use crate::actor::{Actor, Context};
use crate::actor_ref::ActorRef;
use crate::error::SpawnError;
use crate::exit::ExitReason;
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use crate::reply::ReplyTo;
use restarts::Restarts;
use shutdown::shutdown_child;
use std::time::Duration;

/// How long the [`SupervisorRef`] helpers wait for the supervisor (OTP uses `infinity`).
const CALL_TIMEOUT: Duration = Duration::from_secs(3600);

struct Child {
    spec: ChildSpec,
    pid: Option<Pid>,
}

/// A supervisor for a fixed list of children (one_for_one, one_for_all, rest_for_one).
pub struct Supervisor {
    strategy: Strategy,
    restarts: Restarts,
    children: Vec<Child>,
}

/// Requests a [`Supervisor`] serves; use [`SupervisorRef`] rather than sending them by hand.
pub enum SupervisorMsg {
    /// `which_children/1`.
    WhichChildren(ReplyTo<Vec<ChildInfo>>),
    /// `count_children/1`.
    CountChildren(ReplyTo<ChildCount>),
    /// `start_child/2`.
    StartChild(ChildSpec, ReplyTo<Result<Pid, SupervisorError>>),
    /// `terminate_child/2`.
    TerminateChild(String, ReplyTo<Result<(), SupervisorError>>),
    /// `restart_child/2`.
    RestartChild(String, ReplyTo<Result<Pid, SupervisorError>>),
    /// `delete_child/2`.
    DeleteChild(String, ReplyTo<Result<(), SupervisorError>>),
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

    /// The children, in start order, with their pids (`None` when not running).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.ask(SupervisorMsg::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
    pub async fn count_children(&self) -> Result<ChildCount, SupervisorError> {
        self.ask(SupervisorMsg::CountChildren).await
    }

    /// Adds a child spec and starts it (it goes last in start order).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Pid, SupervisorError> {
        self.ask(|r| SupervisorMsg::StartChild(spec, r)).await?
    }

    /// Stops the child `id` with its shutdown policy; its spec is kept (unless temporary).
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.ask(|r| SupervisorMsg::TerminateChild(id.to_string(), r))
            .await?
    }

    /// Starts again a child that was terminated.
    pub async fn restart_child(&self, id: &str) -> Result<Pid, SupervisorError> {
        self.ask(|r| SupervisorMsg::RestartChild(id.to_string(), r))
            .await?
    }

    /// Removes the spec of a child that is not running.
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        self.ask(|r| SupervisorMsg::DeleteChild(id.to_string(), r))
            .await?
    }
}

impl Supervisor {
    /// Starts a supervisor on `node` and waits until all its children have started.
    ///
    /// If a child fails to start, the ones already started are stopped in reverse order and
    /// the error is returned (OTP `{shutdown, {failed_to_start_child, Id, Reason}}`).
    pub async fn start(node: &Node, spec: SupervisorSpec) -> Result<SupervisorRef, SpawnError> {
        Supervisor::start_opts(node, spec, SpawnOpts::default()).await
    }

    /// Starts a supervisor linked to the calling actor, which becomes its parent.
    pub async fn start_link<A: Actor>(
        ctx: &Context<A>,
        spec: SupervisorSpec,
    ) -> Result<SupervisorRef, SpawnError> {
        let opts = SpawnOpts {
            link: Some(ctx.pid()),
            parent: Some(ctx.pid()),
            ..SpawnOpts::default()
        };
        Supervisor::start_opts(ctx.node(), spec, opts).await
    }

    /// Starts a supervisor with spawn options (`trap_exit` is always on).
    pub async fn start_opts(
        node: &Node,
        spec: SupervisorSpec,
        mut opts: SpawnOpts,
    ) -> Result<SupervisorRef, SpawnError> {
        opts.trap_exit = true;
        let sup = Supervisor {
            strategy: spec.strategy,
            restarts: Restarts::new(spec.intensity, spec.period),
            children: spec
                .children
                .into_iter()
                .map(|spec| Child { spec, pid: None })
                .collect(),
        };
        let actor = node.spawn_opts(sup, opts).await?;
        Ok(SupervisorRef { actor })
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    async fn start_one(&mut self, ctx: &Context<Self>, i: usize) -> Result<Pid, SpawnError> {
        let start = self.children[i].spec.start.clone();
        let pid = start(ctx.node().clone(), ctx.pid()).await?;
        self.children[i].pid = Some(pid);
        Ok(pid)
    }

    async fn stop_one(&mut self, ctx: &Context<Self>, i: usize) {
        if let Some(pid) = self.children[i].pid.take() {
            shutdown_child(ctx.node(), ctx.pid(), pid, self.children[i].spec.shutdown).await;
        }
    }

    /// Stops children `from..` in reverse order.
    async fn stop_from(&mut self, ctx: &Context<Self>, from: usize) {
        for i in (from..self.children.len()).rev() {
            self.stop_one(ctx, i).await;
        }
    }

    /// Handles the exit of child `i` (already marked not running).
    async fn child_exited(&mut self, ctx: &mut Context<Self>, i: usize, reason: ExitReason) {
        let restart = self.children[i].spec.restart;
        if !reason.is_clean() {
            tracing::error!(sup = %ctx.pid(), child = %self.children[i].spec.id, %reason, "child terminated");
        }
        match restart {
            Restart::Temporary => {
                self.children.remove(i);
                return;
            }
            Restart::Transient if reason.is_clean() => return,
            _ => {}
        }
        let first = match self.strategy {
            Strategy::OneForOne => i,
            Strategy::OneForAll => 0,
            Strategy::RestForOne => i,
        };
        let group_end = match self.strategy {
            Strategy::OneForOne => i + 1,
            _ => self.children.len(),
        };
        // Terminate the rest of the group (reverse order), excluding the child that exited.
        for j in (first..group_end).rev() {
            if j != i {
                self.stop_one(ctx, j).await;
            }
        }
        // Temporary siblings terminated by the strategy are not restarted: drop their specs.
        let mut keep = Vec::with_capacity(self.children.len());
        let mut end = group_end;
        for (j, c) in std::mem::take(&mut self.children).into_iter().enumerate() {
            if j >= first && j < group_end && j != i && c.spec.restart == Restart::Temporary {
                end -= 1;
                continue;
            }
            keep.push(c);
        }
        self.children = keep;
        self.restart_group(ctx, first, end).await;
    }

    /// Restarts children `first..end` in order, counting towards the intensity; gives up (and
    /// stops the supervisor with `shutdown`) when the intensity is exceeded.
    async fn restart_group(&mut self, ctx: &mut Context<Self>, first: usize, end: usize) {
        'attempt: loop {
            if !self.restarts.add() {
                tracing::error!(sup = %ctx.pid(), "reached maximum restart intensity; shutting down");
                self.stop_from(ctx, 0).await;
                ctx.stop(ExitReason::Shutdown);
                return;
            }
            for j in first..end {
                if self.children[j].pid.is_some() {
                    continue;
                }
                if let Err(e) = self.start_one(ctx, j).await {
                    tracing::error!(sup = %ctx.pid(), child = %self.children[j].spec.id, error = %e, "restart failed");
                    // Undo this attempt's starts and try again (counts as another restart).
                    for k in (first..j).rev() {
                        self.stop_one(ctx, k).await;
                    }
                    continue 'attempt;
                }
            }
            return;
        }
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        for i in 0..self.children.len() {
            if let Err(e) = self.start_one(ctx, i).await {
                let id = self.children[i].spec.id.clone();
                self.stop_from(ctx, 0).await;
                return Err(ExitReason::shutdown_with(format!(
                    "failed_to_start_child {id}: {e}"
                )));
            }
        }
        Ok(())
    }

    async fn handle(&mut self, msg: SupervisorMsg, ctx: &mut Context<Self>) {
        match msg {
            SupervisorMsg::WhichChildren(r) => {
                r.send(
                    self.children
                        .iter()
                        .map(|c| ChildInfo {
                            id: c.spec.id.clone(),
                            pid: c.pid,
                            kind: c.spec.kind,
                        })
                        .collect(),
                );
            }
            SupervisorMsg::CountChildren(r) => {
                let mut n = ChildCount::default();
                for c in &self.children {
                    n.specs += 1;
                    n.active += c.pid.is_some() as usize;
                    match c.spec.kind {
                        ChildType::Worker => n.workers += 1,
                        ChildType::Supervisor => n.supervisors += 1,
                    }
                }
                r.send(n);
            }
            SupervisorMsg::StartChild(spec, r) => {
                let res = match self.position(&spec.id) {
                    Some(i) => Err(match self.children[i].pid {
                        Some(pid) => SupervisorError::AlreadyStarted(pid),
                        None => SupervisorError::AlreadyPresent,
                    }),
                    None => {
                        self.children.push(Child { spec, pid: None });
                        let i = self.children.len() - 1;
                        let res = self.start_one(ctx, i).await;
                        if res.is_err() {
                            self.children.pop();
                        }
                        res.map_err(SupervisorError::StartFailed)
                    }
                };
                r.send(res);
            }
            SupervisorMsg::TerminateChild(id, r) => {
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) => {
                        self.stop_one(ctx, i).await;
                        if self.children[i].spec.restart == Restart::Temporary {
                            self.children.remove(i);
                        }
                        Ok(())
                    }
                };
                r.send(res);
            }
            SupervisorMsg::RestartChild(id, r) => {
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) if self.children[i].pid.is_some() => Err(SupervisorError::Running),
                    Some(i) => self
                        .start_one(ctx, i)
                        .await
                        .map_err(SupervisorError::StartFailed),
                };
                r.send(res);
            }
            SupervisorMsg::DeleteChild(id, r) => {
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) if self.children[i].pid.is_some() => Err(SupervisorError::Running),
                    Some(i) => {
                        self.children.remove(i);
                        Ok(())
                    }
                };
                r.send(res);
            }
        }
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, ctx: &mut Context<Self>) {
        let Some(i) = self.children.iter().position(|c| c.pid == Some(from)) else {
            return; // Not (or no longer) one of ours: e.g. a child we already shut down.
        };
        self.children[i].pid = None;
        self.child_exited(ctx, i, reason).await;
    }

    async fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.stop_from(ctx, 0).await;
    }
}
