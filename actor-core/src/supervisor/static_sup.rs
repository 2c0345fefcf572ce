//! [`Supervisor`]: one_for_one, one_for_all and rest_for_one over a list of child specs.

use super::report;
use super::restarts::Restarts;
use super::shutdown::{shutdown_child, Stopping};
use super::spec::{
    check_child, AutoShutdown, ChildCount, ChildInfo, ChildSpec, ChildState, ChildType, Restart,
    Started, Strategy, SupervisorError, SupervisorSpec,
};
use super::{SupervisorMsg, SupervisorRef, TryAgain};
use crate::actor::{Actor, Context};
use crate::error::{SendError, SpawnError};
use crate::exit::{ExitReason, Term};
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use parking_lot::Mutex;
use std::sync::Arc;

struct Child {
    spec: ChildSpec,
    state: ChildState,
}

/// Where `started` leaves the id and error of the child that failed to start, for
/// [`Supervisor::start_opts`] to return as a typed error.
type InitFailure = Arc<Mutex<Option<(String, SpawnError)>>>;

/// A supervisor for a list of children (one_for_one, one_for_all, rest_for_one).
pub struct Supervisor {
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    restarts: Restarts,
    /// In start order (OTP keeps the reverse; `which_children` answers in OTP's order).
    children: Vec<Child>,
    init_failure: InitFailure,
}

impl Supervisor {
    /// Starts a supervisor on `node` and waits until all its children have started.
    ///
    /// A refused spec fails with [`SpawnError::InvalidSpec`] before anything starts. If a
    /// child fails to start, the ones already started are stopped in reverse order and
    /// [`SpawnError::FailedToStartChild`] names the child and its error (OTP
    /// `{shutdown, {failed_to_start_child, Id, Reason}}`).
    pub async fn start(node: &Node, spec: SupervisorSpec) -> Result<SupervisorRef, SpawnError> {
        Supervisor::start_opts(node, spec, SpawnOpts::default()).await
    }

    /// Starts a supervisor whose `init` decides its spec, or answers `None` (OTP `init/1`
    /// returning `ignore`): then nothing is started and this returns `Ok(None)`.
    ///
    /// ```
    /// use actor_core::Node;
    /// use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("ignored@localhost");
    /// let configured = false;
    /// let sup = Supervisor::start_with(&node, || {
    ///     configured.then(|| SupervisorSpec::new(Strategy::OneForOne))
    /// })
    /// .await
    /// .unwrap();
    /// assert!(sup.is_none());
    /// assert_eq!(node.process_count(), 0);
    /// # });
    /// ```
    pub async fn start_with(
        node: &Node,
        init: impl FnOnce() -> Option<SupervisorSpec>,
    ) -> Result<Option<SupervisorRef>, SpawnError> {
        match init() {
            None => Ok(None),
            Some(spec) => Supervisor::start(node, spec).await.map(Some),
        }
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
        spec.check().map_err(SpawnError::InvalidSpec)?;
        opts.trap_exit = true;
        let init_failure = InitFailure::default();
        let sup = Supervisor {
            strategy: spec.strategy,
            auto_shutdown: spec.auto_shutdown,
            restarts: Restarts::new(spec.intensity, spec.period),
            children: spec
                .children
                .into_iter()
                .map(|spec| Child {
                    spec,
                    state: ChildState::Undefined,
                })
                .collect(),
            init_failure: init_failure.clone(),
        };
        match node.spawn_opts(sup, opts).await {
            Ok(actor) => Ok(SupervisorRef { actor }),
            Err(e) => Err(match init_failure.lock().take() {
                Some((id, reason)) => SpawnError::FailedToStartChild {
                    id,
                    reason: Box::new(reason),
                },
                None => e,
            }),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    /// Runs child `i`'s start function; on success records its new state (a pid, or
    /// undefined for an ignore). On failure the state is left to the caller.
    async fn start_at(&mut self, ctx: &Context<Self>, i: usize) -> Result<Started, SpawnError> {
        let start = self.children[i].spec.start.clone();
        let started = start(ctx.node().clone(), ctx.pid()).await?;
        self.children[i].state = match started {
            Started::Pid(pid) => {
                report::started(ctx.pid(), &self.children[i].spec.id, pid);
                ChildState::Running(pid)
            }
            Started::Ignore => ChildState::Undefined,
        };
        Ok(started)
    }

    /// Stops child `i` if it runs; afterwards it is undefined (OTP `do_terminate`).
    async fn terminate_at(&mut self, ctx: &Context<Self>, i: usize) {
        let child = &mut self.children[i];
        if let ChildState::Running(pid) = child.state {
            let stopping = Stopping {
                id: &child.spec.id,
                pid,
                policy: child.spec.shutdown,
                restart: child.spec.restart,
            };
            shutdown_child(ctx.node(), ctx.pid(), stopping).await;
        }
        child.state = ChildState::Undefined;
    }

    /// Child `i` is no longer running and will not be restarted: a temporary child's spec
    /// goes, another's stays undefined (OTP `del_child`).
    fn del_child(&mut self, i: usize) {
        if self.children[i].spec.restart == Restart::Temporary {
            self.children.remove(i);
        } else {
            self.children[i].state = ChildState::Undefined;
        }
    }

    /// Stops children `from..` in reverse start order, dropping the temporary ones' specs
    /// (OTP `terminate_children`).
    async fn terminate_from(&mut self, ctx: &Context<Self>, from: usize) {
        for i in (from..self.children.len()).rev() {
            self.terminate_at(ctx, i).await;
            if self.children[i].spec.restart == Restart::Temporary {
                self.children.remove(i);
            }
        }
    }

    /// Starts children `from..` in order (OTP `start_children`); an ignoring temporary child
    /// loses its spec. On failure, reports it and returns the failed child's index and error;
    /// the children started before it keep running.
    async fn start_from(
        &mut self,
        ctx: &Context<Self>,
        from: usize,
    ) -> Result<(), (usize, SpawnError)> {
        let mut i = from;
        while i < self.children.len() {
            match self.start_at(ctx, i).await {
                Ok(Started::Ignore) if self.children[i].spec.restart == Restart::Temporary => {
                    self.children.remove(i);
                }
                Ok(_) => i += 1,
                Err(e) => {
                    report::start_error(ctx.pid(), &self.children[i].spec.id, &e);
                    return Err((i, e));
                }
            }
        }
        Ok(())
    }

    /// Child `i` must be restarted (OTP `restart/2`): counts towards the intensity, then
    /// applies the strategy. A failed start marks the failed child restarting and queues a
    /// retry behind the requests already in the mailbox.
    async fn restart(&mut self, ctx: &mut Context<Self>, i: usize) {
        if !self.restarts.add() {
            report::intensity_reached(ctx.pid(), &self.children[i].spec.id);
            self.del_child(i);
            // `stopped` terminates the children.
            ctx.stop(ExitReason::Shutdown);
            return;
        }
        let failed = match self.strategy {
            Strategy::OneForOne => match self.start_at(ctx, i).await {
                Ok(_) => None,
                Err(e) => {
                    report::start_error(ctx.pid(), &self.children[i].spec.id, &e);
                    Some(i)
                }
            },
            Strategy::RestForOne => {
                self.children[i].state = ChildState::Undefined;
                self.terminate_from(ctx, i).await;
                self.start_from(ctx, i).await.err().map(|(j, _)| j)
            }
            Strategy::OneForAll => {
                self.children[i].state = ChildState::Undefined;
                self.terminate_from(ctx, 0).await;
                self.start_from(ctx, 0).await.err().map(|(j, _)| j)
            }
        };
        if let Some(j) = failed {
            self.children[j].state = ChildState::Restarting;
            let retry = SupervisorMsg::TryAgainRestart(TryAgain(self.children[j].spec.id.clone()));
            try_again(ctx, retry);
        }
    }

    /// OTP `do_auto_shutdown`: `child` (significant or not) has ended by itself and is not
    /// restarted.
    fn auto_shutdown(&mut self, ctx: &mut Context<Self>, id: &str, significant: bool) {
        let shut = match self.auto_shutdown {
            AutoShutdown::Never => false,
            _ if !significant => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && c.state != ChildState::Undefined),
        };
        if shut {
            report::auto_shutdown(ctx.pid(), id);
            ctx.stop(ExitReason::Shutdown);
        }
    }

    fn info(&self) -> Vec<ChildInfo> {
        // OTP lists the children in reverse start order (its `Ids` list is newest first).
        self.children
            .iter()
            .rev()
            .map(|c| ChildInfo {
                id: c.spec.id.clone(),
                pid: c.state.pid(),
                state: c.state,
                kind: c.spec.kind,
            })
            .collect()
    }

    fn count(&self, node: &Node) -> ChildCount {
        let mut n = ChildCount::default();
        for c in &self.children {
            n.specs += 1;
            // OTP: `is_pid(Pid) andalso is_process_alive(Pid)`.
            n.active += matches!(c.state, ChildState::Running(pid) if node.is_alive(pid)) as usize;
            match c.spec.kind {
                ChildType::Worker => n.workers += 1,
                ChildType::Supervisor => n.supervisors += 1,
            }
        }
        n
    }

    async fn start_child(
        &mut self,
        ctx: &Context<Self>,
        spec: ChildSpec,
    ) -> Result<Started, SupervisorError> {
        check_child(&spec, self.auto_shutdown).map_err(SupervisorError::InvalidSpec)?;
        if let Some(i) = self.position(&spec.id) {
            return Err(match self.children[i].state {
                ChildState::Running(pid) => SupervisorError::AlreadyStarted(pid),
                _ => SupervisorError::AlreadyPresent,
            });
        }
        let id = spec.id.clone();
        self.children.push(Child {
            spec,
            state: ChildState::Undefined,
        });
        let i = self.children.len() - 1;
        match self.start_at(ctx, i).await {
            Ok(Started::Ignore) if self.children[i].spec.restart == Restart::Temporary => {
                self.children.pop();
                Ok(Started::Ignore)
            }
            Ok(started) => Ok(started),
            Err(reason) => {
                self.children.pop();
                Err(SupervisorError::StartFailed {
                    id: Some(id),
                    reason,
                })
            }
        }
    }

    async fn restart_child(
        &mut self,
        ctx: &Context<Self>,
        id: String,
    ) -> Result<Started, SupervisorError> {
        let i = self.position(&id).ok_or(SupervisorError::NotFound)?;
        match self.children[i].state {
            ChildState::Running(_) => Err(SupervisorError::Running),
            ChildState::Restarting => Err(SupervisorError::Restarting),
            ChildState::Undefined => {
                self.start_at(ctx, i)
                    .await
                    .map_err(|reason| SupervisorError::StartFailed {
                        id: Some(id),
                        reason,
                    })
            }
        }
    }
}

/// Queues `msg` to the supervisor itself, behind what is already in its mailbox (OTP's
/// `gen_server:cast(self(), {try_again_restart, Id})`).
pub(super) fn try_again<A: Actor>(ctx: &Context<A>, msg: A::Msg) {
    let me = ctx.myself();
    if let Err(SendError::Full(msg)) = me.tell(msg) {
        // A bounded mailbox that is full: wait for room rather than lose the retry.
        ctx.node().inner.rt.spawn(async move {
            let _ = me.send(msg).await;
        });
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Err((i, e)) = self.start_from(ctx, 0).await {
            let id = self.children[i].spec.id.clone();
            self.terminate_from(ctx, 0).await;
            // OTP's `{shutdown, {failed_to_start_child, Id, Reason}}`.
            let reason = Term::tuple([
                Term::atom("failed_to_start_child"),
                Term::Str(id.clone()),
                Term::Str(e.to_string()),
            ]);
            *self.init_failure.lock() = Some((id, e));
            return Err(ExitReason::ShutdownWith(reason));
        }
        Ok(())
    }

    async fn handle(&mut self, msg: SupervisorMsg, ctx: &mut Context<Self>) {
        match msg {
            SupervisorMsg::WhichChildren(r) => {
                r.send(self.info());
            }
            SupervisorMsg::CountChildren(r) => {
                r.send(self.count(ctx.node()));
            }
            SupervisorMsg::StartChild(spec, r) => {
                let res = self.start_child(ctx, spec).await;
                r.send(res);
            }
            SupervisorMsg::TerminateChild(id, r) => {
                // OTP: a child that is not running (or already dead) terminates fine.
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) => {
                        self.terminate_at(ctx, i).await;
                        self.del_child(i);
                        Ok(())
                    }
                };
                r.send(res);
            }
            SupervisorMsg::RestartChild(id, r) => {
                let res = self.restart_child(ctx, id).await;
                r.send(res);
            }
            SupervisorMsg::DeleteChild(id, r) => {
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) => match self.children[i].state {
                        ChildState::Running(_) => Err(SupervisorError::Running),
                        ChildState::Restarting => Err(SupervisorError::Restarting),
                        ChildState::Undefined => {
                            self.children.remove(i);
                            Ok(())
                        }
                    },
                };
                r.send(res);
            }
            SupervisorMsg::GetChildspec(id, r) => {
                let res = match self.position(&id) {
                    None => Err(SupervisorError::NotFound),
                    Some(i) => Ok(self.children[i].spec.clone()),
                };
                r.send(res);
            }
            SupervisorMsg::TryAgainRestart(TryAgain(id)) => {
                if let Some(i) = self.position(&id) {
                    if self.children[i].state == ChildState::Restarting {
                        self.restart(ctx, i).await;
                    }
                }
            }
        }
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, ctx: &mut Context<Self>) {
        let Some(i) = self
            .children
            .iter()
            .position(|c| c.state == ChildState::Running(from))
        else {
            return; // Not (or no longer) one of ours: e.g. a child we already shut down.
        };
        let sup = ctx.pid();
        let spec = &self.children[i].spec;
        let (restart, significant) = (spec.restart, spec.significant);
        // OTP `do_restart`.
        match restart {
            Restart::Permanent => {
                report::child_terminated(sup, &spec.id, from, &reason);
                self.children[i].state = ChildState::Undefined;
                self.restart(ctx, i).await;
            }
            _ if reason.is_clean() => {
                let id = spec.id.clone();
                self.del_child(i);
                self.auto_shutdown(ctx, &id, significant);
            }
            Restart::Transient => {
                report::child_terminated(sup, &spec.id, from, &reason);
                self.children[i].state = ChildState::Undefined;
                self.restart(ctx, i).await;
            }
            Restart::Temporary => {
                report::child_terminated(sup, &spec.id, from, &reason);
                let id = spec.id.clone();
                self.del_child(i);
                self.auto_shutdown(ctx, &id, significant);
            }
        }
    }

    async fn stopped(&mut self, _reason: &ExitReason, ctx: &mut Context<Self>) {
        self.terminate_from(ctx, 0).await;
    }
}
