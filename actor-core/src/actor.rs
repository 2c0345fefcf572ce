//! The [`Actor`] trait, its [`Context`], and the loop that runs an actor.

use crate::actor_ref::ActorRef;
use crate::error::{LinkError, SpawnError};
use crate::exit::{panic_message, Down, ExitReason};
use crate::mailbox::{Envelope, SysMsg};
use crate::node::{Node, SpawnOpts};
use crate::pid::{MonitorRef, Pid};
use crate::process::{Cell, Process};
use crate::reply::{DeferredList, DEFERRED};
use crate::timer::TimerRef;
use futures::FutureExt;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// An actor: state plus handlers, run one message at a time.
///
/// Only [`handle`](Actor::handle) is required. Handlers are `async`; while one runs, the
/// actor takes no other message. A panic in any handler ends the actor with
/// [`ExitReason::Panic`]; the runtime and every other actor keep running.
///
/// When `stopped` runs (as OTP's `terminate/2`): after the actor stops itself with
/// [`Context::stop`], after a [`stop`](ActorRef::stop) request, and when it traps exits and
/// its parent (e.g. its supervisor) sends it an exit signal. It does not run when the actor is
/// killed, ended by an exit signal it does not trap, or panics.
///
/// ```
/// use actor_core::{Actor, Context, ExitReason};
///
/// struct Greeter { greeted: usize }
///
/// impl Actor for Greeter {
///     type Msg = String;
///     async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
///         tracing::info!(pid = %ctx.pid(), "greeter up");
///         Ok(())
///     }
///     async fn handle(&mut self, name: String, ctx: &mut Context<Self>) {
///         self.greeted += 1;
///         if name == "bye" { ctx.stop(ExitReason::Normal); }
///     }
/// }
/// ```
pub trait Actor: Sized + Send + 'static {
    /// The message type this actor takes.
    type Msg: Send + 'static;

    /// Runs before the first message. [`Node::spawn`] returns once it has. An `Err` stops
    /// the actor with that reason and makes the spawn fail (OTP `init/1` returning `stop`).
    fn started(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ExitReason>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Handles one message.
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send;

    /// An exit signal from a linked process (or an `exit` call), received because this actor
    /// traps exits. The default ignores it; exit signals from the parent never get here, they
    /// stop the actor.
    fn handle_exit(
        &mut self,
        from: Pid,
        reason: ExitReason,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (from, reason, ctx);
        async {}
    }

    /// A monitor set with [`Context::monitor`] fired. The default ignores it.
    fn handle_down(
        &mut self,
        down: Down,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (down, ctx);
        async {}
    }

    /// A node this actor monitors went down (OTP's `{nodedown, Node}` message after
    /// `monitor_node(Node, true)`; set up with the distribution layer's `monitor_node`). The
    /// default ignores it.
    fn handle_nodedown(
        &mut self,
        node: String,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (node, ctx);
        async {}
    }

    /// What this actor says about itself to operators ([`Node::describe`], OTP
    /// `sys:get_state` / `format_status`): a state machine's state name, a short summary
    /// of its data. Called between messages, only when asked. The default says nothing.
    /// Never put secrets in it.
    fn describe(&self) -> crate::info::ActorState {
        crate::info::ActorState::default()
    }

    /// Runs when the actor stops in an orderly way (see the trait docs for when).
    fn stopped(
        &mut self,
        reason: &ExitReason,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }
}

/// What a running actor knows about itself and can do to the rest of the node.
pub struct Context<A: Actor> {
    node: Node,
    cell: Arc<Cell<A::Msg>>,
    parent: Option<Pid>,
    stop: Option<ExitReason>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(node: Node, cell: Arc<Cell<A::Msg>>, parent: Option<Pid>) -> Self {
        Context {
            node,
            cell,
            parent,
            stop: None,
        }
    }

    /// This actor's pid.
    pub fn pid(&self) -> Pid {
        self.cell.core.pid
    }

    /// A typed reference to this actor.
    pub fn myself(&self) -> ActorRef<A::Msg> {
        ActorRef::local(self.cell.clone())
    }

    /// The node this actor runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The parent given at spawn (a supervisor, or the spawner for `spawn_link`).
    pub fn parent(&self) -> Option<Pid> {
        self.parent
    }

    /// Sets a label for this process, shown by operator tools
    /// ([`Node::process_info`](crate::Node::process_info)); OTP 27's `proc_lib:set_label/1`.
    /// Costs one allocation when set, nothing otherwise.
    pub fn set_label(&self, label: impl Into<String>) {
        self.cell.core.state.lock().extra().label = Some(label.into());
    }

    /// Stops the actor with `reason` once the current handler returns; `stopped` runs.
    pub fn stop(&mut self, reason: ExitReason) {
        self.stop = Some(reason);
    }

    /// Turns exit trapping on or off; returns the previous setting (OTP
    /// `process_flag(trap_exit, Flag)`).
    pub fn trap_exit(&self, on: bool) -> bool {
        self.cell.core.trap_exit.swap(on, Ordering::AcqRel)
    }

    /// Links this actor to `pid`. A dead `pid` gives `Err(NoProc)` and no link.
    pub fn link(&self, pid: Pid) -> Result<(), LinkError> {
        self.node.link(self.pid(), pid)
    }

    /// Removes the link to `pid`, if any.
    pub fn unlink(&self, pid: Pid) {
        self.node.unlink(self.pid(), pid)
    }

    /// Monitors `pid`: when it exits, [`Actor::handle_down`] gets a [`Down`] with the returned
    /// reference. A dead `pid` gives a `Down` with `noproc`.
    ///
    /// The monitor is removed from `pid` when this actor exits, so a short-lived watcher
    /// leaves nothing behind on a long-lived target (across nodes too).
    pub fn monitor(&mut self, pid: Pid) -> MonitorRef {
        let mref = self.node.make_ref();
        self.cell.core.add_watching(mref, pid);
        self.node.monitor_for(self.pid(), pid, mref);
        mref
    }

    /// Records a monitor this actor holds (its `Down` is then handled, not dropped).
    pub(crate) fn watching_insert(&self, mref: MonitorRef, target: Pid) {
        self.cell.core.add_watching(mref, target);
    }

    /// Removes a monitor. No `Down` for it is delivered afterwards, even one already queued
    /// (OTP `demonitor(Ref, [flush])`). Returns whether the monitor was active.
    pub fn demonitor(&mut self, mref: MonitorRef) -> bool {
        match self.cell.core.remove_watching(mref) {
            Some(target) => {
                self.node.demonitor_pid(self.pid(), target, mref);
                true
            }
            None => false,
        }
    }

    /// Sends an exit signal to `pid` from this actor (OTP `exit(Pid, Reason)`).
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.node.signal(
            pid,
            crate::dist::Signal::Exit {
                from: self.pid(),
                reason,
                link: false,
            },
        );
    }

    /// Spawns an actor linked to this one, with this one as its parent.
    pub async fn spawn_link<B: Actor>(&self, actor: B) -> Result<ActorRef<B::Msg>, SpawnError> {
        let opts = SpawnOpts {
            link: Some(self.pid()),
            parent: Some(self.pid()),
            ..SpawnOpts::default()
        };
        self.node.spawn_opts(actor, opts).await
    }

    /// Spawns an actor monitored by this one.
    pub async fn spawn_monitor<B: Actor>(
        &mut self,
        actor: B,
    ) -> Result<(ActorRef<B::Msg>, MonitorRef), SpawnError> {
        self.spawn_monitor_opts(actor, SpawnOpts::default()).await
    }

    /// Spawns an actor with options, monitored by this one. The monitor is in place before the
    /// new actor runs, so its `Down` arrives whenever it exits, even at once. If `started`
    /// fails, the spawn returns the reason and no `Down` is delivered for it.
    pub async fn spawn_monitor_opts<B: Actor>(
        &mut self,
        actor: B,
        opts: SpawnOpts,
    ) -> Result<(ActorRef<B::Msg>, MonitorRef), SpawnError> {
        let mref = self.node.make_ref();
        // `spawn_monitored` records the monitor on both sides before the new actor runs.
        match self
            .node
            .spawn_monitored(actor, opts, Some((mref, self.pid())))
            .await
        {
            Ok(r) => Ok((r, mref)),
            Err(e) => {
                self.cell.core.remove_watching(mref);
                Err(e)
            }
        }
    }

    /// Spawns an actor with options.
    pub async fn spawn_opts<B: Actor>(
        &self,
        actor: B,
        opts: SpawnOpts,
    ) -> Result<ActorRef<B::Msg>, SpawnError> {
        self.node.spawn_opts(actor, opts).await
    }

    /// Sends `msg` to this actor after `after` (OTP `erlang:send_after`).
    pub fn send_after(&self, after: Duration, msg: A::Msg) -> TimerRef {
        self.node.send_after(after, &self.myself(), msg)
    }

    /// Sends `make()` to this actor every `period`, until cancelled or the actor exits.
    pub fn send_interval(
        &self,
        period: Duration,
        make: impl FnMut() -> A::Msg + Send + 'static,
    ) -> TimerRef {
        self.node.send_interval(period, &self.myself(), make)
    }

    /// Cancels a timer; the time that was left, or `None` if it already fired or was cancelled.
    pub fn cancel_timer(&self, timer: TimerRef) -> Option<Duration> {
        self.node.cancel_timer(timer)
    }
}

/// Runs `started` in the spawner's task. On success the actor, its context and the guard
/// that will clean up after it go to [`run`]; on failure the actor has already been cleaned
/// up (its links and monitors fired) and the reason is returned.
pub(crate) async fn start<A: Actor>(
    mut actor: A,
    mut ctx: Context<A>,
) -> Result<(A, Context<A>, ExitGuard), ExitReason> {
    // Cleans up even if the spawner's future is dropped while `started` runs.
    let guard = ExitGuard {
        node: ctx.node.clone(),
        cell: ctx.cell.clone() as Arc<dyn Process>,
        done: false,
    };
    let outcome = AssertUnwindSafe(actor.started(&mut ctx))
        .catch_unwind()
        .await;
    let failed = match outcome {
        Ok(Ok(())) => ctx.cell.core.exit_reason(),
        Ok(Err(reason)) => Some(reason),
        Err(payload) => Some(panicked(&ctx, &*payload)),
    };
    match failed {
        None => Ok((actor, ctx, guard)),
        Some(reason) => {
            let (reason, _) = ctx.cell.core.decide_exit(reason, false);
            drop(actor);
            guard.finish(reason.clone());
            Err(reason)
        }
    }
}

fn panicked<A: Actor>(ctx: &Context<A>, payload: &(dyn std::any::Any + Send)) -> ExitReason {
    let msg = panic_message(payload);
    tracing::error!(pid = %ctx.pid(), panic = %msg, "actor panicked");
    ExitReason::Panic(msg)
}

/// Runs a started actor's message loop until it ends, then cleans up. The one place an
/// actor's life is driven.
pub(crate) async fn run<A: Actor>(mut actor: A, mut ctx: Context<A>, guard: ExitGuard) {
    // Held outside the unwind boundary so that queued requests are dropped only after the
    // exit reason is recorded: their callers then see the reason, not a bare drop.
    let mut batch: VecDeque<Envelope<A::Msg>> = VecDeque::new();
    // Reply handles dropped unanswered while the actor runs wait here for its outcome (a
    // panicking handler's callers learn the panic reason).
    let deferred = DeferredList::default();
    let outcome = deferring(
        AssertUnwindSafe(drive(&mut actor, &mut ctx, &mut batch, &deferred)).catch_unwind(),
        &deferred,
    )
    .await;
    let reason = match outcome {
        Ok(r) => r,
        Err(payload) => panicked(&ctx, &*payload),
    };
    let (reason, _) = ctx.cell.core.decide_exit(reason, false);
    for n in deferred.take() {
        n(Some(reason.clone()));
    }
    // The actor's state may hold parked requests: their callers learn the reason too.
    crate::reply::with_drop_reason(&reason, || {
        drop(batch);
        drop(actor);
    });
    guard.finish(reason);
}

/// The task an actor runs in: its [`run`] future, dropped with the actor's exit reason in
/// effect. A kill aborts the task, which drops the future where it stands: the batch being
/// worked through, the handler's future and the actor's state go with it, and every request
/// among them must fail with the reason the killer decided (`killed`), never `NoReply`.
pub(crate) struct Running<F, M> {
    fut: std::mem::ManuallyDrop<F>,
    cell: Arc<Cell<M>>,
}

impl<F, M> Running<F, M> {
    pub(crate) fn new(fut: F, cell: Arc<Cell<M>>) -> Self {
        Running {
            fut: std::mem::ManuallyDrop::new(fut),
            cell,
        }
    }
}

impl<F: Future, M> Future for Running<F, M> {
    type Output = F::Output;
    #[inline]
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self`, and it is
        // dropped in place (in `drop` below).
        unsafe { self.map_unchecked_mut(|r| &mut *r.fut) }.poll(cx)
    }
}

impl<F, M> Drop for Running<F, M> {
    fn drop(&mut self) {
        let reason = self.cell.core.exit_reason().unwrap_or(ExitReason::Killed);
        // SAFETY: dropped exactly once, in place, and never used again.
        crate::reply::with_drop_reason(&reason, || unsafe {
            std::mem::ManuallyDrop::drop(&mut self.fut)
        });
    }
}

async fn drive<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    batch: &mut VecDeque<Envelope<A::Msg>>,
    deferred: &DeferredList,
) -> ExitReason {
    if let Some(reason) = ctx.stop.take() {
        actor.stopped(&reason, ctx).await;
        return reason;
    }
    let cell = ctx.cell.clone();
    let mut handled: u32 = 0;
    let mut registered = crate::mailbox::Registered::default();
    loop {
        cell.mailbox.recv_batch(batch, &mut registered).await;
        while let Some(env) = batch.pop_front() {
            if cell.core.killed.load(Ordering::Acquire) {
                // The reason is already decided by whoever killed us.
                return ExitReason::Killed;
            }
            match env {
                Envelope::Msg(m) => actor.handle(m, ctx).await,
                Envelope::Traced(t) => {
                    let crate::trace::Traced { msg, span, ctx: tc } = *t;
                    crate::trace::in_trace(actor.handle(msg, ctx), span, tc).await
                }
                Envelope::Sys(sys) => match *sys {
                    SysMsg::Exit { from, reason } => {
                        if Some(from) == ctx.parent {
                            ctx.stop = Some(reason);
                        } else {
                            actor.handle_exit(from, reason, ctx).await;
                        }
                    }
                    SysMsg::Down(down) => {
                        if cell.core.remove_watching(down.mref).is_some() {
                            actor.handle_down(down, ctx).await;
                        }
                    }
                    SysMsg::NodeDown(node) => actor.handle_nodedown(node, ctx).await,
                    SysMsg::Describe(tx) => {
                        let _ = tx.send(actor.describe());
                    }
                },
                Envelope::Stop => ctx.stop = Some(cell.mailbox.take_stop()),
            }
            // Reply handles the handler dropped unanswered: their callers learn the reason if
            // this actor is stopping, `NoReply` otherwise.
            if !deferred.is_empty() {
                for n in deferred.take() {
                    n(ctx.stop.clone());
                }
            }
            if let Some(reason) = ctx.stop.take() {
                actor.stopped(&reason, ctx).await;
                return reason;
            }
            handled = handled.wrapping_add(1);
            if handled & 63 == 0 {
                // Let other tasks on this worker run during a long batch.
                tokio::task::consume_budget().await;
            }
        }
    }
}

/// Polls the actor's loop with its `deferred` list installed as the thread's current one,
/// poll by poll (other tasks run on this thread between polls), restoring the previous one
/// after each poll, also when it unwinds.
async fn deferring<F: Future>(fut: F, deferred: &DeferredList) -> F::Output {
    struct Restore(*const DeferredList);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEFERRED.with(|d| d.set(self.0));
        }
    }
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _restore = Restore(DEFERRED.with(|d| d.replace(deferred as *const _)));
        fut.as_mut().poll(cx)
    })
    .await
}

pub(crate) struct ExitGuard {
    node: Node,
    cell: Arc<dyn Process>,
    done: bool,
}

impl ExitGuard {
    fn finish(mut self, reason: ExitReason) {
        self.done = true;
        self.node.finish(&*self.cell, reason);
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if !self.done {
            // The run future was dropped before finishing (kill, runtime shutdown): the
            // reason was decided by the killer, or the runtime is going away.
            self.node.finish(&*self.cell, ExitReason::Killed);
        }
    }
}
