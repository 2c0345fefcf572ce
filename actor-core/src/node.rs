//! The node: a runtime object that owns a process table, id allocation and timers.
//!
//! There are no process-wide statics: every [`Node`] is independent, so several nodes can live
//! in one OS process (as the multi-node tests do) and never see each other's actors. A pid of
//! another node, or of an earlier incarnation of this one, is never resolved locally.

use crate::actor::{run, start, Actor, Context, Running};
use crate::actor_ref::ActorRef;
use crate::dist::{Distribution, Signal};
use crate::error::{LinkError, RefError, SpawnError};
use crate::exit::ExitReason;
use crate::mailbox::{MailboxKind, SysMsg};
use crate::pid::{MonitorRef, NodeId, Pid, Ref};
use crate::process::{down_message, Cell, Process, ProcessTable};
use crate::timer::TimerService;
use parking_lot::RwLock;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node's name, `name@host`. Default: `nonode@nohost`, as in Erlang.
    pub name: String,
    /// The incarnation number. Default: random and non-zero, so that two starts differ.
    pub creation: Option<u32>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name: "nonode@nohost".to_string(),
            creation: None,
        }
    }
}

/// Options for [`Node::spawn_opts`] and [`Context::spawn_opts`].
#[derive(Clone, Debug, Default)]
pub struct SpawnOpts {
    /// Mailbox bound (default unbounded).
    pub mailbox: MailboxKind,
    /// Start with `trap_exit` on (it can be changed later with [`Context::trap_exit`]).
    pub trap_exit: bool,
    /// Link the new actor to this process before it starts.
    pub link: Option<Pid>,
    /// The parent (OTP's `proc_lib` parent): an exit signal from the parent to an actor that
    /// traps exits stops the actor with that reason, running its `stopped` hook. Supervisors
    /// set themselves as the parent of their children.
    pub parent: Option<Pid>,
}

impl SpawnOpts {
    /// Default options with a bounded mailbox.
    pub fn bounded(capacity: usize) -> Self {
        SpawnOpts {
            mailbox: MailboxKind::Bounded(capacity),
            ..SpawnOpts::default()
        }
    }
}

pub(crate) struct NodeInner {
    pub(crate) name: String,
    pub(crate) id: NodeId,
    pub(crate) creation: u32,
    next_id: AtomicU64,
    next_ref: AtomicU64,
    pub(crate) table: ProcessTable,
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) dist: RwLock<Option<Arc<dyn Distribution>>>,
    pub(crate) timers: TimerService,
    /// Actor cells still allocated (see [`Node::cells_alive`]).
    pub(crate) cells: Arc<crate::process::CellShared>,
    /// Registered names (`register/2`).
    pub(crate) names: crate::names::SharedNames,
}

/// A node: the local runtime that actors live on.
///
/// Cheap to clone (a handle). Must be created inside a tokio runtime; actors run on that
/// runtime whatever thread later spawns them.
///
/// ```
/// use actor_core::{Actor, Context, Node, ReplyTo};
/// use std::time::Duration;
///
/// struct Counter(u64);
/// enum Msg { Add(u64), Get(ReplyTo<u64>) }
///
/// impl Actor for Counter {
///     type Msg = Msg;
///     async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) {
///         match msg {
///             Msg::Add(n) => self.0 += n,
///             Msg::Get(reply) => { reply.send(self.0); }
///         }
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let node = Node::new("demo@localhost");
/// let counter = node.spawn(Counter(0)).await.unwrap();
/// counter.tell(Msg::Add(2)).unwrap();
/// let n = counter.call(Msg::Get, Duration::from_secs(1)).await.unwrap();
/// assert_eq!(n, 2);
/// # });
/// ```
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Node({}, creation {})",
            self.inner.name, self.inner.creation
        )
    }
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

impl Node {
    /// Starts a node called `name` (`name@host`) on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (like `tokio::spawn`). Use [`Node::with_handle`] to pass one.
    pub fn new(name: impl Into<String>) -> Node {
        Node::with_config(NodeConfig {
            name: name.into(),
            ..NodeConfig::default()
        })
    }

    /// Starts a node with `config` on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn with_config(config: NodeConfig) -> Node {
        Node::with_handle(config, tokio::runtime::Handle::current())
    }

    /// Starts a node whose actors run on the runtime behind `handle`.
    pub fn with_handle(config: NodeConfig, handle: tokio::runtime::Handle) -> Node {
        let creation = config
            .creation
            .unwrap_or_else(|| (random_u64() as u32).max(1));
        let inner = NodeInner {
            id: NodeId::from_name(&config.name),
            name: config.name,
            creation,
            next_id: AtomicU64::new(1),
            next_ref: AtomicU64::new(1),
            table: ProcessTable::new(),
            rt: handle.clone(),
            dist: RwLock::new(None),
            timers: TimerService::new(),
            cells: Arc::new(crate::process::CellShared {
                count: AtomicUsize::new(0),
                deadlines: Arc::new(crate::deadline::CallDeadlines::new(handle)),
            }),
            names: Default::default(),
        };
        Node {
            inner: Arc::new(inner),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The node's id (hash of its name).
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The node's incarnation number.
    pub fn creation(&self) -> u32 {
        self.inner.creation
    }

    /// The pseudo-pid that stands for the node itself: the sender of exit signals made with
    /// [`Node::exit`] from outside any actor. No actor ever has it.
    pub fn pid(&self) -> Pid {
        Pid {
            node: self.inner.id,
            id: 0,
            creation: self.inner.creation,
        }
    }

    /// A new unique reference (OTP `make_ref()`).
    pub fn make_ref(&self) -> Ref {
        Ref {
            node: self.inner.id,
            id: self.inner.next_ref.fetch_add(1, Ordering::Relaxed),
            creation: self.inner.creation,
        }
    }

    /// Whether `pid` names a process of this node's current incarnation.
    #[inline]
    pub fn is_local(&self, pid: Pid) -> bool {
        pid.node == self.inner.id && pid.creation == self.inner.creation
    }

    pub(crate) fn lookup(&self, pid: Pid) -> Option<Arc<dyn Process>> {
        if self.is_local(pid) {
            self.inner.table.get(pid.id)
        } else {
            None
        }
    }

    /// Whether `pid` is a live local process. Remote pids give `false`.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.lookup(pid)
            .is_some_and(|p| p.core().state.lock().exit.is_none())
    }

    /// Actor cells still allocated on this node: live actors, plus exited ones whose small
    /// shared cell (mailbox and signal state) is still held by an [`ActorRef`] somewhere. An
    /// exited actor's cell is freed as soon as the last reference goes; the runtime itself
    /// keeps none (its timers are cancelled at exit). For leak checks.
    pub fn cells_alive(&self) -> usize {
        self.inner.cells.count.load(Ordering::Relaxed)
    }

    /// Number of live processes on this node.
    pub fn process_count(&self) -> usize {
        self.inner.table.len()
    }

    /// The pids of all live processes on this node.
    pub fn processes(&self) -> Vec<Pid> {
        let mut v: Vec<Pid> = self
            .inner
            .table
            .snapshot()
            .iter()
            .map(|p| p.core().pid)
            .collect();
        v.sort();
        v
    }

    /// Messages waiting in all mailboxes of this node (a run-queue proxy for load reports).
    pub fn backlog(&self) -> usize {
        self.inner
            .table
            .snapshot()
            .iter()
            .map(|p| p.backlog())
            .sum()
    }

    /// Spawns `actor` and waits until its `started` hook has returned.
    pub async fn spawn<A: Actor>(&self, actor: A) -> Result<ActorRef<A::Msg>, SpawnError> {
        self.spawn_opts(actor, SpawnOpts::default()).await
    }

    /// Spawns `actor` with options and waits until its `started` hook has returned.
    ///
    /// If `started` fails, the actor exits with that reason (its links and monitors fire as
    /// for any exit) and the error is returned.
    pub async fn spawn_opts<A: Actor>(
        &self,
        actor: A,
        opts: SpawnOpts,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        self.spawn_monitored(actor, opts, None).await
    }

    /// Spawns, with a monitor from `monitor.1` set up before the actor runs.
    ///
    /// `started` runs here, in the caller's task (the caller waits for it anyway); only then is
    /// the message loop spawned. That saves a cross-thread hand-off per spawn.
    pub(crate) async fn spawn_monitored<A: Actor>(
        &self,
        actor: A,
        opts: SpawnOpts,
        monitor: Option<(MonitorRef, Pid)>,
    ) -> Result<ActorRef<A::Msg>, SpawnError> {
        let pid = Pid {
            node: self.inner.id,
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            creation: self.inner.creation,
        };
        let cell = Arc::new(Cell::<A::Msg>::new(
            pid,
            opts.mailbox,
            opts.trap_exit,
            opts.parent.is_none(),
            &self.inner.cells,
            std::any::type_name::<A>,
        ));
        if let Some((mref, watcher)) = monitor {
            let _ = cell.core.add_monitor(mref, watcher);
            if let Some(w) = self.lookup(watcher) {
                w.core().add_watching(mref, pid);
            }
        }
        // The new process is addressable before it links: if the other side exits while the
        // link is being made, its exit signal finds the new process (no lost signal).
        if let Some(other) = opts.link {
            cell.core.add_link(other);
        }
        self.inner.table.insert(pid.id, cell.clone());
        if let Some(other) = opts.link {
            if self.link_pids(pid, other).is_err() {
                cell.core.remove_link(other);
                let guard_reason = ExitReason::NoProc;
                cell.core.decide_exit(guard_reason.clone(), false);
                self.finish(&*cell, guard_reason);
                return Err(SpawnError::LinkNoProc(other));
            }
        }
        let ctx = Context::new(self.clone(), cell.clone(), opts.parent);
        let (actor, ctx, guard) = start(actor, ctx).await.map_err(SpawnError::Init)?;
        let fut = Running::new(run(actor, ctx), guard);
        let task = self.inner.rt.spawn(fut);
        let mut st = cell.core.state.lock();
        if st.exit.is_some() {
            // An exit signal arrived between `started` and now.
            task.abort();
        } else {
            st.abort = Some(task.abort_handle());
        }
        drop(st);
        Ok(ActorRef::local(cell))
    }

    /// Adds `other` to the links of the local process `pid` side: tells `other` about the link.
    /// The caller records `other` in `pid`'s own link set.
    pub(crate) fn link_pids(&self, pid: Pid, other: Pid) -> Result<(), LinkError> {
        if self.is_local(other) {
            match self.inner.table.get(other.id) {
                Some(p) if p.core().add_link(pid) => Ok(()),
                _ => Err(LinkError::NoProc(other)),
            }
        } else if other.node == self.inner.id {
            Err(LinkError::NoProc(other))
        } else {
            self.route_remote(other, Signal::Link { from: pid })
                .map_err(|_| LinkError::NoConnection(other))
        }
    }

    /// Links two processes, as if `a` called `link(b)`.
    ///
    /// `a` records the link before `b` is told, so if `b` exits while the link is being made,
    /// its exit signal finds the link on `a`'s side and is delivered: the exit is never lost.
    pub fn link(&self, a: Pid, b: Pid) -> Result<(), LinkError> {
        let pa = self.lookup(a).ok_or(LinkError::NoProc(a))?;
        if a == b {
            // A link to oneself has no effect, as in OTP.
            return Ok(());
        }
        if !pa.core().add_link(b) {
            return Err(LinkError::NoProc(a));
        }
        if let Err(e) = self.link_pids(a, b) {
            pa.core().remove_link(b);
            return Err(e);
        }
        Ok(())
    }

    /// Removes the link between `a` and `b` (either may be remote).
    pub fn unlink(&self, a: Pid, b: Pid) {
        if let Some(pa) = self.lookup(a) {
            pa.core().remove_link(b);
        }
        self.signal(b, Signal::Unlink { from: a });
    }

    /// Monitors `target` on behalf of the process `watcher`; the `Down` goes to `watcher`.
    /// A dead target gives a `Down` with `noproc` at once.
    pub(crate) fn monitor_for(&self, watcher: Pid, target: Pid, mref: MonitorRef) {
        if self.is_local(target) {
            let res = match self.inner.table.get(target.id) {
                Some(p) => p.core().add_monitor(mref, watcher),
                None => Err(ExitReason::NoProc),
            };
            if let Err(reason) = res {
                self.signal(
                    watcher,
                    Signal::Down {
                        mref,
                        pid: target,
                        reason,
                    },
                );
            }
        } else {
            self.signal(
                target,
                Signal::Monitor {
                    from: watcher,
                    mref,
                },
            );
        }
    }

    /// Sends an exit signal to `pid` from the node itself (OTP `exit(Pid, Reason)`).
    ///
    /// `kill` cannot be trapped: the target exits with `killed` at once. Other reasons end a
    /// target that does not trap exits at once, even with messages queued, except `normal`,
    /// which it ignores; a target that traps exits gets them through `handle_exit`, in order.
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.signal(
            pid,
            Signal::Exit {
                from: self.pid(),
                reason,
                link: false,
            },
        );
    }

    /// Asks `pid` to stop with `reason` after the messages already in its mailbox, running
    /// its `stopped` hook (OTP `proc_lib:stop`). `false` if it is not a live local process.
    pub fn stop(&self, pid: Pid, reason: ExitReason) -> bool {
        self.lookup(pid).is_some_and(|p| p.request_stop(reason))
    }

    /// Installs the distribution layer that reaches other nodes. Replaces any earlier one.
    pub fn install_distribution(&self, dist: Arc<dyn Distribution>) {
        *self.inner.dist.write() = Some(dist);
    }

    /// The installed distribution layer, if any.
    pub fn distribution(&self) -> Option<Arc<dyn Distribution>> {
        self.inner.dist.read().clone()
    }

    fn route_remote(&self, to: Pid, signal: Signal) -> Result<(), crate::dist::RouteError> {
        let dist = self.inner.dist.read().clone();
        match dist {
            Some(d) => d.signal(to, signal),
            None => Err(crate::dist::RouteError::NoConnection(to.node)),
        }
    }

    /// Sends `signal` to `to`, local or remote. The one place where a signal's route is chosen.
    pub(crate) fn signal(&self, to: Pid, signal: Signal) {
        if to.node == self.inner.id {
            self.deliver_signal(to, signal);
        } else if let Err(e) = self.route_remote(to, signal.clone()) {
            // Unreachable node: answer as OTP does for a lost connection.
            tracing::debug!(%to, error = %e, "signal to unreachable node");
            self.undeliverable(to, signal, ExitReason::NoConnection);
        }
    }

    /// What a signal to an unreachable or dead process turns into for its sender.
    fn undeliverable(&self, to: Pid, signal: Signal, reason: ExitReason) {
        match signal {
            Signal::Link { from } => self.signal(
                from,
                Signal::Exit {
                    from: to,
                    reason,
                    link: true,
                },
            ),
            Signal::Monitor { from, mref } => self.signal(
                from,
                Signal::Down {
                    mref,
                    pid: to,
                    reason,
                },
            ),
            _ => {}
        }
    }

    /// Delivers a signal to a process of this node. The distribution layer calls this for
    /// signals arriving from the network. Signals to dead or unknown pids are answered as in
    /// OTP (a link gets an exit with `noproc`, a monitor a `Down` with `noproc`) or dropped.
    pub fn deliver_signal(&self, to: Pid, signal: Signal) {
        let Some(target) = self.lookup(to) else {
            self.undeliverable(to, signal, ExitReason::NoProc);
            return;
        };
        let core = target.core();
        match signal {
            Signal::Link { from } => {
                if !core.add_link(from) {
                    let reason = core.exit_reason().unwrap_or(ExitReason::NoProc);
                    self.undeliverable(to, Signal::Link { from }, reason);
                }
            }
            Signal::Unlink { from } => {
                core.remove_link(from);
            }
            Signal::Exit { from, reason, link } => self.deliver_exit(&*target, from, reason, link),
            Signal::Monitor { from, mref } => {
                if let Err(reason) = core.add_monitor(mref, from) {
                    self.undeliverable(to, Signal::Monitor { from, mref }, reason);
                }
            }
            Signal::Demonitor { mref, .. } => core.remove_monitor(mref),
            Signal::Down { mref, pid, reason } => {
                target.push_sys(down_message(mref, pid, reason));
            }
        }
    }

    /// Tells the local process `pid` that `node` went down (for the distribution layer's
    /// `monitor_node`); it arrives through [`Actor::handle_nodedown`], in order with its
    /// messages. `false` if `pid` is not alive.
    pub fn deliver_nodedown(&self, pid: Pid, node: &str) -> bool {
        self.lookup(pid)
            .is_some_and(|p| p.push_sys(SysMsg::NodeDown(node.to_string())))
    }

    /// OTP's exit-signal rules, applied on arrival.
    fn deliver_exit(&self, target: &dyn Process, from: Pid, reason: ExitReason, link: bool) {
        let core = target.core();
        if link && !core.remove_link(from) {
            // Unlinked in the meantime: the signal no longer applies.
            return;
        }
        if !link && reason == ExitReason::Kill {
            core.decide_exit(ExitReason::Killed, true);
        } else if core.traps_exit() {
            target.push_sys(SysMsg::Exit { from, reason });
        } else if !reason.is_normal() || from == core.pid {
            core.decide_exit(reason, true);
        }
    }

    /// Runs once per actor when it ends, by any path: decides the reason, closes the mailbox,
    /// leaves the table, then fires links and monitors.
    pub(crate) fn finish(&self, proc_: &dyn Process, reason: ExitReason) {
        let core = proc_.core();
        let (reason, links, extra) = {
            let mut st = core.state.lock();
            let reason = st.exit.get_or_insert(reason).clone();
            st.abort = None;
            st.cleaned = true;
            (reason, std::mem::take(&mut st.links), st.extra.take())
        };
        crate::reply::with_drop_reason(&reason, || proc_.close());
        self.inner.table.remove(core.pid.id);
        let pid = core.pid;
        let mut monitors = Default::default();
        if let Some(extra) = extra {
            let extra = *extra;
            // Exit hooks first (a registry frees the process's names), then what the process
            // left behind on others: its timers and the monitors it held (a remote target's
            // node is told). Only then do links and monitors fire.
            for hook in &extra.exit_hooks {
                hook.exited(pid, &reason);
            }
            for timer in extra.timers {
                self.inner.timers.cancel(timer);
            }
            for (mref, target) in extra.watching {
                self.demonitor_pid(pid, target, mref);
            }
            monitors = extra.monitors;
        }
        for other in links {
            self.signal(
                other,
                Signal::Exit {
                    from: pid,
                    reason: reason.clone(),
                    link: true,
                },
            );
        }
        let monitors: crate::process::FastMap<MonitorRef, Pid> = monitors;
        for (mref, watcher) in monitors {
            self.signal(
                watcher,
                Signal::Down {
                    mref,
                    pid,
                    reason: reason.clone(),
                },
            );
        }
        core.mark_finished();
    }

    /// A typed reference to the process `pid`, checked against its message type.
    ///
    /// Local pids are checked at once: a dead pid gives [`RefError::NoProc`] and an actor with
    /// another message type gives [`RefError::WrongType`]. Remote pids need the distribution
    /// layer, which offers its own typed lookup.
    pub fn actor_ref<M: Send + 'static>(&self, pid: Pid) -> Result<ActorRef<M>, RefError> {
        if pid.node != self.inner.id {
            return Err(RefError::Remote(pid, pid.node));
        }
        let p = self.lookup(pid).ok_or(RefError::NoProc(pid))?;
        let actual = p.msg_type();
        match p.into_any().downcast::<Cell<M>>() {
            Ok(cell) => Ok(ActorRef::local(cell)),
            Err(_) => Err(RefError::WrongType {
                pid,
                expected: std::any::type_name::<M>(),
                actual,
            }),
        }
    }

    /// Kills every actor on the node (reason `killed`). The node can still be used afterwards.
    pub fn shutdown(&self) {
        for p in self.inner.table.snapshot() {
            p.core().decide_exit(ExitReason::Killed, true);
        }
    }

    /// Runs `hook` as part of the exit of the local process `pid`: after it leaves the process
    /// table, before its links and monitors fire and before [`wait_exit`](Node::wait_exit)
    /// returns. The same hook object is kept once per process however often it is added.
    /// Returns `false` if `pid` is not alive (or is too far into its exit for hooks): the caller
    /// must then act on the exit itself.
    ///
    /// ```
    /// use actor_core::{Actor, Context, ExitHook, ExitReason, Node, Pid};
    /// use std::sync::{Arc, Mutex};
    ///
    /// struct Names(Mutex<Vec<Pid>>);
    /// impl ExitHook for Names {
    ///     fn exited(&self, pid: Pid, _: &ExitReason) {
    ///         self.0.lock().unwrap().retain(|p| *p != pid);
    ///     }
    /// }
    /// struct A;
    /// impl Actor for A {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("h@localhost");
    /// let names = Arc::new(Names(Mutex::new(Vec::new())));
    /// let (a, exit) = node.spawn_monitor(A).await.unwrap();
    /// names.0.lock().unwrap().push(a.pid());
    /// assert!(node.on_exit(a.pid(), names.clone()));
    /// a.stop(ExitReason::Normal);
    /// exit.await;
    /// assert!(names.0.lock().unwrap().is_empty(), "gone before the exit was observed");
    /// # });
    /// ```
    pub fn on_exit(&self, pid: Pid, hook: Arc<dyn crate::process::ExitHook>) -> bool {
        self.lookup(pid)
            .is_some_and(|p| p.core().add_exit_hook(hook))
    }

    /// Monitors held on the local process `pid` (0 if it is not alive): a count for leak
    /// checks, e.g. that short-lived watchers leave nothing on a long-lived target.
    pub fn monitor_count(&self, pid: Pid) -> usize {
        self.lookup(pid).map_or(0, |p| p.core().monitor_count())
    }

    /// Links of the local process `pid` (0 if it is not alive).
    pub fn link_count(&self, pid: Pid) -> usize {
        self.lookup(pid)
            .map_or(0, |p| p.core().state.lock().links.len())
    }

    pub(crate) fn demonitor_pid(&self, watcher: Pid, target: Pid, mref: MonitorRef) {
        if self.is_local(target) {
            if let Some(p) = self.inner.table.get(target.id) {
                p.core().remove_monitor(mref);
            }
        } else if target.node != self.inner.id {
            let _ = self.route_remote(
                target,
                Signal::Demonitor {
                    from: watcher,
                    mref,
                },
            );
        }
    }
}
