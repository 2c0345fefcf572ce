//! The per-actor shared cell and the node's process table.
//!
//! A [`Cell<M>`] is what an [`ActorRef<M>`](crate::ActorRef) points at and what the table holds
//! (type-erased as `dyn Process`). It owns the mailbox and the *core* state that signals act
//! on: links, monitors held on this actor, the exit reason once decided, and the abort handle
//! that makes a kill act at once.
//!
//! Invariants:
//! - `exit` is written once (first writer wins); after that, links and monitors are empty and
//!   no new ones are added, so nothing that arrives later can be lost silently: a late
//!   `link`/`monitor` sees the reason and reports `noproc` at once.
//! - The table holds a pid exactly while its cell's `exit` is `None` or its cleanup is running.

use crate::exit::{Down, ExitReason};
use crate::mailbox::{Mailbox, MailboxKind, SysMsg};
use crate::pid::{MonitorRef, Pid, Ref};
use parking_lot::Mutex;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio::task::AbortHandle;

/// Tasks waiting in [`Node::wait_exit`](crate::Node::wait_exit); one inline, more in a Vec,
/// so the usual single waiter costs no allocation.
#[derive(Default)]
pub(crate) enum ExitWaiters {
    #[default]
    None,
    One(Waker),
    Many(Vec<Waker>),
}

impl ExitWaiters {
    fn register(&mut self, w: &Waker) {
        match self {
            ExitWaiters::None => *self = ExitWaiters::One(w.clone()),
            ExitWaiters::One(old) if old.will_wake(w) => {}
            ExitWaiters::One(_) => {
                let ExitWaiters::One(old) = std::mem::take(self) else {
                    unreachable!()
                };
                *self = ExitWaiters::Many(vec![old, w.clone()]);
            }
            ExitWaiters::Many(v) => {
                if !v.iter().any(|o| o.will_wake(w)) {
                    v.push(w.clone());
                }
            }
        }
    }

    fn wake_all(self) {
        match self {
            ExitWaiters::None => {}
            ExitWaiters::One(w) => w.wake(),
            ExitWaiters::Many(v) => v.into_iter().for_each(Waker::wake),
        }
    }
}

/// A hash map keyed by pids or references, with a cheap non-keyed hash (pids and references
/// are not attacker-chosen in bulk: remote ones come from cookie-authenticated peers).
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A hash set of pids or references (see [`FastMap`]).
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// Everything signals act on, behind one lock. Link and monitor sets are hash sets and maps,
/// so adding or removing one is O(1) whatever the count (a supervisor with 100,000 children).
/// Empty sets allocate nothing, which keeps idle actors small.
#[derive(Default)]
pub(crate) struct CoreState {
    pub(crate) exit: Option<ExitReason>,
    /// Cleanup has taken the sets below: nothing may be added to them any more.
    pub(crate) cleaned: bool,
    /// Cleanup is complete: links and monitors have fired and the pid has left the table.
    pub(crate) finished: bool,
    pub(crate) links: FastSet<Pid>,
    /// What only some processes have, allocated on first use (keeps idle actors small).
    pub(crate) extra: Option<Box<Extra>>,
    pub(crate) abort: Option<AbortHandle>,
    pub(crate) exit_waiters: ExitWaiters,
}

/// The parts of [`CoreState`] that only some processes use.
#[derive(Default)]
pub(crate) struct Extra {
    /// Monitors held *on* this process: reference -> watcher (local or remote).
    pub(crate) monitors: FastMap<MonitorRef, Pid>,
    /// Monitors this process holds on others: reference -> target. Removed from their targets
    /// when this process exits, so a short-lived watcher leaves nothing behind.
    pub(crate) watching: FastMap<MonitorRef, Pid>,
    /// Timers addressed to this process; cancelled when it exits (as OTP cancels timers
    /// whose destination is a pid).
    pub(crate) timers: FastSet<Ref>,
    /// Run when the process exits, before its links and monitors fire.
    pub(crate) exit_hooks: Vec<Arc<dyn ExitHook>>,
    /// The label the process set for itself (`Context::set_label`), for operator tools.
    pub(crate) label: Option<String>,
}

/// Code run as part of a process's exit, after it has left the process table and before its
/// links and monitors fire (so whoever reacts to the exit sees what the hook removed). This is
/// how a registry frees a process's names, as OTP does, so that a supervisor restarting the
/// child can register the same name at once. Register with [`Node::on_exit`](crate::Node::on_exit).
///
/// The hook runs on the exiting process's thread (or the killer's): keep it short and never
/// wait in it.
pub trait ExitHook: Send + Sync + 'static {
    /// `pid` is exiting with `reason`.
    fn exited(&self, pid: Pid, reason: &ExitReason);
}

impl CoreState {
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }
}

/// Signal-related state common to every actor, whatever its message type.
pub(crate) struct ProcCore {
    pub(crate) pid: Pid,
    /// Spawned without a parent: stopped one by one, in reverse start order, by
    /// [`Node::shutdown_graceful`](crate::Node::shutdown_graceful).
    pub(crate) top_level: bool,
    pub(crate) trap_exit: AtomicBool,
    /// Set when a signal ends the actor from outside; the run loop checks it between messages
    /// so a kill takes effect even in the middle of a large batch.
    pub(crate) killed: AtomicBool,
    pub(crate) state: Mutex<CoreState>,
}

impl ProcCore {
    pub(crate) fn new(pid: Pid, trap_exit: bool, top_level: bool) -> Self {
        ProcCore {
            pid,
            top_level,
            trap_exit: AtomicBool::new(trap_exit),
            killed: AtomicBool::new(false),
            state: Mutex::new(CoreState::default()),
        }
    }

    pub(crate) fn traps_exit(&self) -> bool {
        self.trap_exit.load(Ordering::Acquire)
    }

    /// The exit reason, once decided.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.state.lock().exit.clone()
    }

    /// Adds a link to `other`; `false` if this process is already exiting.
    pub(crate) fn add_link(&self, other: Pid) -> bool {
        let mut st = self.state.lock();
        if st.exit.is_some() {
            return false;
        }
        st.links.insert(other);
        true
    }

    /// Removes a link; `true` if it was there.
    pub(crate) fn remove_link(&self, other: Pid) -> bool {
        self.state.lock().links.remove(&other)
    }

    /// Adds a monitor; hands the watcher back if this process is already exiting.
    pub(crate) fn add_monitor(&self, mref: MonitorRef, watcher: Pid) -> Result<(), ExitReason> {
        let mut st = self.state.lock();
        match &st.exit {
            Some(r) => Err(r.clone()),
            None => {
                st.extra().monitors.insert(mref, watcher);
                Ok(())
            }
        }
    }

    pub(crate) fn remove_monitor(&self, mref: MonitorRef) {
        if let Some(e) = self.state.lock().extra.as_mut() {
            e.monitors.remove(&mref);
        }
    }

    /// Records a monitor this process holds on `target`; `false` if it is already exiting
    /// (its cleanup has taken the set, so the caller must undo the monitor itself).
    pub(crate) fn add_watching(&self, mref: MonitorRef, target: Pid) -> bool {
        let mut st = self.state.lock();
        if st.cleaned {
            return false;
        }
        st.extra().watching.insert(mref, target);
        true
    }

    /// Forgets a monitor this process held; its target, if it was still recorded.
    pub(crate) fn remove_watching(&self, mref: MonitorRef) -> Option<Pid> {
        self.state.lock().extra.as_mut()?.watching.remove(&mref)
    }

    /// Adds an exit hook (once per hook object); `false` if the process is already exiting
    /// past the point where hooks are taken: the caller must act on the exit itself.
    pub(crate) fn add_exit_hook(&self, hook: Arc<dyn ExitHook>) -> bool {
        let mut st = self.state.lock();
        if st.cleaned {
            return false;
        }
        let hooks = &mut st.extra().exit_hooks;
        if !hooks.iter().any(|h| Arc::ptr_eq(h, &hook)) {
            hooks.push(hook);
        }
        true
    }

    /// Records a timer addressed to this process; `false` if it is already exiting.
    pub(crate) fn add_timer(&self, timer: Ref) -> bool {
        let mut st = self.state.lock();
        if st.cleaned {
            return false;
        }
        st.extra().timers.insert(timer);
        true
    }

    /// Forgets a timer that fired or was cancelled.
    pub(crate) fn remove_timer(&self, timer: Ref) {
        if let Some(e) = self.state.lock().extra.as_mut() {
            e.timers.remove(&timer);
        }
    }

    /// Monitors held on this process (a count the runtime reports, for leak checks).
    pub(crate) fn monitor_count(&self) -> usize {
        self.state
            .lock()
            .extra
            .as_ref()
            .map_or(0, |e| e.monitors.len())
    }

    /// Polls for the end of cleanup; the reason once finished.
    pub(crate) fn poll_exited(&self, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let mut st = self.state.lock();
        if st.finished {
            return Poll::Ready(st.exit.clone().unwrap_or(ExitReason::NoProc));
        }
        st.exit_waiters.register(cx.waker());
        Poll::Pending
    }

    /// Marks cleanup complete and wakes every `wait_exit`.
    pub(crate) fn mark_finished(&self) {
        let waiters = {
            let mut st = self.state.lock();
            st.finished = true;
            std::mem::take(&mut st.exit_waiters)
        };
        waiters.wake_all();
    }

    /// Decides the exit reason if not yet decided and returns the one that holds.
    /// With `abort`, also aborts the task (a kill or an untrapped exit signal).
    pub(crate) fn decide_exit(&self, reason: ExitReason, abort: bool) -> (ExitReason, bool) {
        let mut st = self.state.lock();
        if let Some(r) = &st.exit {
            return (r.clone(), false);
        }
        st.exit = Some(reason.clone());
        let handle = if abort {
            self.killed.store(true, Ordering::Release);
            st.abort.take()
        } else {
            None
        };
        drop(st);
        if let Some(h) = handle {
            h.abort();
        }
        (reason, true)
    }
}

/// A live process as the node sees it, whatever its message type.
pub(crate) trait Process: Send + Sync + 'static {
    fn core(&self) -> &ProcCore;
    /// Queues a system message; `false` if the mailbox is closed.
    fn push_sys(&self, sys: SysMsg) -> bool;
    /// Queues a stop request (after what is queued); `false` if the mailbox is closed.
    fn request_stop(&self, reason: ExitReason) -> bool;
    /// Closes the mailbox, dropping what is queued.
    fn close(&self);
    /// Messages waiting in the mailbox.
    fn backlog(&self) -> usize;
    /// Name of the message type, for errors.
    fn msg_type(&self) -> &'static str;
    /// Name of the actor type (OTP's initial call), for operator tools.
    fn actor_type(&self) -> &'static str;
    /// Envelopes queued, whether the owner is parked waiting, whether the mailbox is closed.
    fn mailbox_status(&self) -> (usize, bool, bool);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// The shared cell of one actor whose messages are `M`.
pub(crate) struct Cell<M> {
    pub(crate) core: ProcCore,
    pub(crate) mailbox: Mailbox<M>,
    /// `type_name` of the actor type: a function pointer, so the cell grows by one word.
    actor: fn() -> &'static str,
    _counted: CellCount,
}

/// What a node shares with every cell it made: the count of its cells, and the table of
/// calls waiting for replies (reached through the target's cell, so a cell stays one word).
pub(crate) struct CellShared {
    pub(crate) count: AtomicUsize,
    pub(crate) deadlines: Arc<crate::deadline::CallDeadlines>,
}

/// Counts a node's cells while they are allocated (live actors, and exited ones still held by
/// a reference), so leak tests can check that nothing keeps a dead actor's cell.
pub(crate) struct CellCount(Arc<CellShared>);

impl CellCount {
    pub(crate) fn new(shared: &Arc<CellShared>) -> Self {
        shared.count.fetch_add(1, Ordering::Relaxed);
        CellCount(shared.clone())
    }
}

impl Drop for CellCount {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<M: Send + 'static> Cell<M> {
    pub(crate) fn new(
        pid: Pid,
        kind: MailboxKind,
        trap_exit: bool,
        top_level: bool,
        count: &Arc<CellShared>,
        actor: fn() -> &'static str,
    ) -> Self {
        Cell {
            core: ProcCore::new(pid, trap_exit, top_level),
            mailbox: Mailbox::new(kind),
            actor,
            _counted: CellCount::new(count),
        }
    }

    /// The table of waiting calls of the node this cell belongs to.
    #[inline]
    pub(crate) fn deadlines(&self) -> &Arc<crate::deadline::CallDeadlines> {
        &self._counted.0.deadlines
    }
}

impl<M: Send + 'static> Process for Cell<M> {
    fn core(&self) -> &ProcCore {
        &self.core
    }
    fn push_sys(&self, sys: SysMsg) -> bool {
        self.mailbox.push_sys(sys).is_ok()
    }
    fn request_stop(&self, reason: ExitReason) -> bool {
        self.mailbox.push_stop(reason)
    }
    fn close(&self) {
        self.mailbox.close()
    }
    fn backlog(&self) -> usize {
        self.mailbox.len()
    }
    fn msg_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }
    fn actor_type(&self) -> &'static str {
        (self.actor)()
    }
    fn mailbox_status(&self) -> (usize, bool, bool) {
        self.mailbox.status()
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// The `Down` system message for a watcher.
pub(crate) fn down_message(mref: MonitorRef, pid: Pid, reason: ExitReason) -> SysMsg {
    SysMsg::Down(Down { mref, pid, reason })
}

/// Hasher for process ids: ids are unique and sequential, so a multiplicative mix is enough.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// FxHash's mixing step over whole words: fast for the small fixed-size keys used here (pids,
/// references), and unlike [`IdHasher`] it keeps every field of a multi-field key.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.add(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(n as u64);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

type Shard = Mutex<HashMap<u64, Arc<dyn Process>, BuildHasherDefault<IdHasher>>>;

const SHARDS: usize = 32;

/// The node's process table: id → live process, sharded to keep spawn and exit cheap.
pub(crate) struct ProcessTable {
    shards: Box<[Shard]>,
}

impl ProcessTable {
    pub(crate) fn new() -> Self {
        ProcessTable {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
        }
    }

    fn shard(&self, id: u64) -> &Shard {
        &self.shards[(id as usize) % SHARDS]
    }

    pub(crate) fn insert(&self, id: u64, p: Arc<dyn Process>) {
        let prev = self.shard(id).lock().insert(id, p);
        debug_assert!(prev.is_none(), "process id {id} reused");
    }

    pub(crate) fn remove(&self, id: u64) {
        self.shard(id).lock().remove(&id);
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<dyn Process>> {
        self.shard(id).lock().get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// All live processes (a snapshot).
    pub(crate) fn snapshot(&self) -> Vec<Arc<dyn Process>> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            out.extend(s.lock().values().cloned());
        }
        out
    }
}
