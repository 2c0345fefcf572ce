//! The local registry: state, operations and exit cleanup.

use crate::error::{KeySendError, RegistryError, Timeout};
use crate::hash::{FxBuild, KeyHasher};
use crate::key::{Key, Kind, Pattern, Value};
use actor_core::{ExitReason, Node, NodeId, Pid};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::ops::Bound;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

const SHARDS: usize = 64;

/// One registry entry, as returned by [`Registry::select`] and [`Registry::list`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Kind of the key.
    pub kind: Kind,
    /// The key.
    pub key: Key,
    /// The holder.
    pub pid: Pid,
    /// The holder's value (for an aggregated counter, the current sum).
    pub value: Value,
}

/// What happened to a monitored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `pid` registered the key.
    Registered,
    /// `pid` unregistered the key.
    Unregistered,
    /// The entry vanished because `pid` exited, with this reason.
    Exited(ExitReason),
}

/// A notification from [`Registry::monitor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// Kind of the key.
    pub kind: Kind,
    /// The key.
    pub key: Key,
    /// The holder that registered or went away.
    pub pid: Pid,
    /// What happened.
    pub change: Change,
}

/// The receiving end of a key monitor. Dropping it removes the monitor (lazily).
#[derive(Debug)]
pub struct KeyMonitor {
    /// The holders of the key when the monitor was set, read atomically with setting it:
    /// every later change arrives as an event.
    pub holders: Vec<Pid>,
    rx: mpsc::Receiver<KeyEvent>,
    missed: Arc<AtomicU64>,
}

/// A key monitor's sending side and its count of missed events.
type MonitorSink = (mpsc::Sender<KeyEvent>, Arc<AtomicU64>);

/// Events queued per key monitor; a monitor that falls further behind misses events, and
/// [`KeyMonitor::missed`] counts them.
pub const MONITOR_QUEUE: usize = 1024;

impl KeyMonitor {
    /// The next event; `None` once the registry is gone.
    pub async fn recv(&mut self) -> Option<KeyEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<KeyEvent> {
        self.rx.try_recv().ok()
    }

    /// Events dropped because this monitor's queue was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

struct NameSlot {
    pid: Pid,
    value: Value,
}

type NameShard = RwLock<HashMap<Key, NameSlot, KeyHasher>>;

/// The keys one pid holds: a short vector (most pids hold a few keys), a set beyond that.
enum PidKeys {
    Few(Vec<(Kind, Key)>),
    Many(HashSet<(Kind, Key)>),
}

const FEW: usize = 8;

impl PidKeys {
    fn one(k: (Kind, Key)) -> PidKeys {
        PidKeys::Few(vec![k])
    }
    fn insert(&mut self, k: (Kind, Key)) {
        match self {
            PidKeys::Few(v) if v.len() < FEW => v.push(k),
            PidKeys::Few(v) => {
                let mut set: HashSet<_> = v.drain(..).collect();
                set.insert(k);
                *self = PidKeys::Many(set);
            }
            PidKeys::Many(set) => {
                set.insert(k);
            }
        }
    }
    fn remove(&mut self, k: &(Kind, Key)) {
        match self {
            PidKeys::Few(v) => {
                if let Some(i) = v.iter().position(|x| x == k) {
                    v.swap_remove(i);
                }
            }
            PidKeys::Many(set) => {
                set.remove(k);
            }
        }
    }
    fn contains(&self, k: &(Kind, Key)) -> bool {
        match self {
            PidKeys::Few(v) => v.contains(k),
            PidKeys::Many(set) => set.contains(k),
        }
    }
    fn to_vec(&self) -> Vec<(Kind, Key)> {
        match self {
            PidKeys::Few(v) => v.clone(),
            PidKeys::Many(set) => set.iter().cloned().collect(),
        }
    }
}

#[derive(Default)]
struct State {
    /// Every entry except names, ordered for prefix select.
    entries: BTreeMap<(Kind, Key, Pid), Value>,
    /// The keys each pid holds; a pid is here exactly while its exit watcher runs.
    by_pid: HashMap<Pid, PidKeys, FxBuild>,
    monitors: HashMap<(Kind, Key), Vec<MonitorSink>>,
    awaiters: HashMap<Key, Vec<oneshot::Sender<Pid>>>,
}

type ExitFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

/// Hand-off to the registry's one watcher task: pids to watch, and a wake-up.
#[derive(Default)]
struct Watcher {
    inbox: Mutex<Vec<(Pid, ExitFuture)>>,
    wake: Notify,
}

struct Inner {
    node: Node,
    watcher: Arc<Watcher>,
    /// Names, sharded by key hash: `where_` takes one shard's read lock and nothing else.
    /// Written only while `state` is held (lock order: state, then shard).
    names: Box<[NameShard]>,
    state: Mutex<State>,
}

/// A gproc-style local registry for one [`Node`]: names, properties, counters and
/// aggregated counters, with await, pub/sub, select and monitors. Cheap to clone (a handle).
///
/// See the [crate docs](crate) for an example.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({:?})", self.inner.node)
    }
}

fn min_pid() -> Pid {
    Pid {
        node: NodeId(0),
        id: 0,
        creation: 0,
    }
}

fn counter_value(value: Value) -> Result<i64, RegistryError> {
    match value {
        Value::None => Ok(0),
        Value::Int(i) => Ok(i),
        other => Err(RegistryError::NotAnInteger(other)),
    }
}

impl State {
    fn holders(&self, kind: Kind, key: &Key) -> impl Iterator<Item = (Pid, &Value)> + '_ {
        let key2 = key.clone();
        self.entries
            .range((
                Bound::Included((kind, key.clone(), min_pid())),
                Bound::Unbounded,
            ))
            .take_while(move |((k, kk, _), _)| *k == kind && *kk == key2)
            .map(|((_, _, p), v)| (*p, v))
    }

    fn aggregated_holder(&self, key: &Key) -> Option<Pid> {
        self.holders(Kind::AggregatedCounter, key)
            .next()
            .map(|(p, _)| p)
    }

    fn add_to_aggregate(&mut self, key: &Key, delta: i64) {
        if delta == 0 {
            return;
        }
        if let Some(p) = self.aggregated_holder(key) {
            if let Some(Value::Int(sum)) =
                self.entries
                    .get_mut(&(Kind::AggregatedCounter, key.clone(), p))
            {
                *sum = sum.wrapping_add(delta);
            }
        }
    }

    fn notify(&mut self, kind: Kind, key: &Key, pid: Pid, change: Change) {
        if self.monitors.is_empty() {
            return;
        }
        let mk = (kind, key.clone());
        if let Some(list) = self.monitors.get_mut(&mk) {
            list.retain(|(tx, missed)| {
                let ev = KeyEvent {
                    kind,
                    key: key.clone(),
                    pid,
                    change: change.clone(),
                };
                match tx.try_send(ev) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        missed.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
            if list.is_empty() {
                self.monitors.remove(&mk);
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let the watcher task see the registry is gone and end.
        self.watcher.wake.notify_one();
    }
}

/// The registry's one exit watcher: waits on the exit of every pid that holds keys (one
/// future per pid, not a task per registration) and removes its entries.
async fn watch_exits(w: Arc<Watcher>, registry: Weak<Inner>) {
    use futures::stream::{FuturesUnordered, StreamExt};
    let mut pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = w.wake.notified() => {
                if registry.strong_count() == 0 {
                    return;
                }
                let batch = std::mem::take(&mut *w.inbox.lock());
                for (pid, exited) in batch {
                    pending.push(async move { (pid, exited.await) });
                }
            }
            Some((pid, reason)) = pending.next(), if !pending.is_empty() => {
                match registry.upgrade() {
                    Some(inner) => Registry { inner }.cleanup(pid, reason),
                    None => return,
                }
            }
        }
    }
}

impl Registry {
    /// A new, empty registry for `node`'s processes.
    ///
    /// # Panics
    /// Outside a tokio runtime (as [`Node::new`]): exit watchers run on the current runtime.
    pub fn new(node: &Node) -> Registry {
        let watcher = Arc::new(Watcher::default());
        let inner = Arc::new(Inner {
            node: node.clone(),
            watcher: watcher.clone(),
            names: (0..SHARDS).map(|_| RwLock::default()).collect(),
            state: Mutex::new(State::default()),
        });
        tokio::spawn(watch_exits(watcher, Arc::downgrade(&inner)));
        Registry { inner }
    }

    /// The node this registry serves.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    fn shard(&self, key: &Key) -> &NameShard {
        &self.inner.names[(key.hash_value() >> 40) as usize % SHARDS]
    }

    /// Registers `key` of `kind` for `pid` with `value` (gproc `reg/2,3`), by or on behalf of
    /// the owning actor. The entry vanishes when `pid` exits, by any path.
    ///
    /// A counter's value must be an integer ([`Value::None`] counts as 0); an aggregated
    /// counter ignores `value` and starts at the sum of the existing counters of `key`.
    pub fn register(
        &self,
        kind: Kind,
        key: impl Into<Key>,
        pid: Pid,
        value: impl Into<Value>,
    ) -> Result<(), RegistryError> {
        let key = key.into();
        let value = value.into();
        self.check_pid(pid)?;
        let mut st = self.inner.state.lock();
        self.register_locked(&mut st, kind, key, pid, value)
    }

    fn check_pid(&self, pid: Pid) -> Result<(), RegistryError> {
        if !self.inner.node.is_local(pid) {
            return Err(RegistryError::NotLocal(pid));
        }
        if !self.inner.node.is_alive(pid) {
            return Err(RegistryError::NoProc(pid));
        }
        Ok(())
    }

    fn register_locked(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
    ) -> Result<(), RegistryError> {
        match kind {
            Kind::Name => {
                let mut shard = self.shard(&key).write();
                if let Some(slot) = shard.get(&key) {
                    return Err(RegistryError::AlreadyRegistered {
                        kind,
                        key,
                        holder: slot.pid,
                    });
                }
                shard.insert(key.clone(), NameSlot { pid, value });
            }
            Kind::Property | Kind::Counter => {
                let ek = (kind, key.clone(), pid);
                if st.entries.contains_key(&ek) {
                    return Err(RegistryError::AlreadyRegistered {
                        kind,
                        key,
                        holder: pid,
                    });
                }
                if kind == Kind::Counter {
                    let n = counter_value(value)?;
                    st.entries.insert(ek, Value::Int(n));
                    st.add_to_aggregate(&key, n);
                } else {
                    st.entries.insert(ek, value);
                }
            }
            Kind::AggregatedCounter => {
                if let Some(holder) = st.aggregated_holder(&key) {
                    return Err(RegistryError::AlreadyRegistered { kind, key, holder });
                }
                let sum = st
                    .holders(Kind::Counter, &key)
                    .fold(0i64, |s, (_, v)| s.wrapping_add(v.as_int().unwrap_or(0)));
                st.entries.insert((kind, key.clone(), pid), Value::Int(sum));
            }
        }
        match st.by_pid.entry(pid) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.get_mut().insert((kind, key.clone()));
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(PidKeys::one((kind, key.clone())));
                self.watch(pid);
            }
        }
        if kind == Kind::Name && !st.awaiters.is_empty() {
            if let Some(waiters) = st.awaiters.remove(&key) {
                for w in waiters {
                    let _ = w.send(pid);
                }
            }
        }
        st.notify(kind, &key, pid, Change::Registered);
        Ok(())
    }

    /// Hands `pid` to the watcher task; called once per pid, shared by all its keys.
    fn watch(&self, pid: Pid) {
        let exited: ExitFuture = Box::pin(self.inner.node.wait_exit(pid));
        let w = &self.inner.watcher;
        let mut inbox = w.inbox.lock();
        let was_empty = inbox.is_empty();
        inbox.push((pid, exited));
        drop(inbox);
        if was_empty {
            // A non-empty inbox already has a wake-up pending that the task has not acted on.
            w.wake.notify_one();
        }
    }

    fn cleanup(&self, pid: Pid, reason: ExitReason) {
        let mut st = self.inner.state.lock();
        let Some(keys) = st.by_pid.remove(&pid) else {
            return;
        };
        for (kind, key) in keys.to_vec() {
            self.remove_locked(&mut st, kind, &key, pid);
            st.notify(kind, &key, pid, Change::Exited(reason.clone()));
        }
    }

    /// Removes the entry if `pid` holds it; does not touch `by_pid` or monitors.
    fn remove_locked(&self, st: &mut State, kind: Kind, key: &Key, pid: Pid) -> bool {
        match kind {
            Kind::Name => {
                let mut shard = self.shard(key).write();
                match shard.get(key) {
                    Some(slot) if slot.pid == pid => {
                        shard.remove(key);
                        true
                    }
                    _ => false,
                }
            }
            _ => match st.entries.remove(&(kind, key.clone(), pid)) {
                Some(v) => {
                    if kind == Kind::Counter {
                        st.add_to_aggregate(key, v.as_int().unwrap_or(0).wrapping_neg());
                    }
                    true
                }
                None => false,
            },
        }
    }

    /// Unregisters `key` of `kind` held by `pid` (gproc `unreg/1`).
    pub fn unregister(
        &self,
        kind: Kind,
        key: impl Into<Key>,
        pid: Pid,
    ) -> Result<(), RegistryError> {
        let key = key.into();
        let mut st = self.inner.state.lock();
        if !self.remove_locked(&mut st, kind, &key, pid) {
            return Err(RegistryError::NotHolder { kind, key, pid });
        }
        if let Some(set) = st.by_pid.get_mut(&pid) {
            set.remove(&(kind, key.clone()));
        }
        st.notify(kind, &key, pid, Change::Unregistered);
        Ok(())
    }

    /// The holder of the name `key` (gproc `where/1`). One shard read lock; no global lock.
    pub fn where_(&self, key: &Key) -> Option<Pid> {
        self.shard(key).read().get(key).map(|s| s.pid)
    }

    /// The value of a unique key: a name's value or an aggregated counter's sum
    /// (gproc `lookup_value/1`). For properties and counters use [`Registry::lookup_values`]
    /// or [`Registry::get_value`].
    pub fn lookup_value(&self, kind: Kind, key: &Key) -> Result<Value, RegistryError> {
        let not_reg = || RegistryError::NotRegistered {
            kind,
            key: key.clone(),
        };
        match kind {
            Kind::Name => self
                .shard(key)
                .read()
                .get(key)
                .map(|s| s.value.clone())
                .ok_or_else(not_reg),
            Kind::AggregatedCounter => self
                .inner
                .state
                .lock()
                .holders(kind, key)
                .next()
                .map(|(_, v)| v.clone())
                .ok_or_else(not_reg),
            _ => Err(RegistryError::NotUnique(kind)),
        }
    }

    /// The value `pid` holds under `key` of `kind`, if it holds it.
    pub fn get_value(&self, kind: Kind, key: &Key, pid: Pid) -> Option<Value> {
        match kind {
            Kind::Name => self
                .shard(key)
                .read()
                .get(key)
                .filter(|s| s.pid == pid)
                .map(|s| s.value.clone()),
            _ => self
                .inner
                .state
                .lock()
                .entries
                .get(&(kind, key.clone(), pid))
                .cloned(),
        }
    }

    /// Every holder of `key` of `kind` with its value, ordered by pid (gproc
    /// `lookup_values/1`): all subscribers of a property, all counters of a key.
    pub fn lookup_values(&self, kind: Kind, key: &Key) -> Vec<(Pid, Value)> {
        match kind {
            Kind::Name => self
                .shard(key)
                .read()
                .get(key)
                .map(|s| vec![(s.pid, s.value.clone())])
                .unwrap_or_default(),
            _ => self
                .inner
                .state
                .lock()
                .holders(kind, key)
                .map(|(p, v)| (p, v.clone()))
                .collect(),
        }
    }

    /// The holders of `key` of `kind` (gproc `lookup_pids/1`).
    pub fn lookup_pids(&self, kind: Kind, key: &Key) -> Vec<Pid> {
        self.lookup_values(kind, key)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// Sets the value `pid` holds under `key` (gproc `set_value/2`). A counter's new value
    /// must be an integer and moves its aggregated counter; an aggregated counter cannot be set.
    pub fn set_value(
        &self,
        kind: Kind,
        key: impl Into<Key>,
        pid: Pid,
        value: impl Into<Value>,
    ) -> Result<(), RegistryError> {
        let key = key.into();
        let value = value.into();
        let mut st = self.inner.state.lock();
        self.set_value_locked(&mut st, kind, key, pid, value)
    }

    fn set_value_locked(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
    ) -> Result<(), RegistryError> {
        match kind {
            Kind::Name => {
                let mut shard = self.shard(&key).write();
                match shard.get_mut(&key) {
                    Some(slot) if slot.pid == pid => {
                        slot.value = value;
                        Ok(())
                    }
                    _ => Err(RegistryError::NotHolder { kind, key, pid }),
                }
            }
            Kind::AggregatedCounter => Err(RegistryError::Computed(key)),
            Kind::Property => match st.entries.get_mut(&(kind, key.clone(), pid)) {
                Some(v) => {
                    *v = value;
                    Ok(())
                }
                None => Err(RegistryError::NotHolder { kind, key, pid }),
            },
            Kind::Counter => {
                let n = counter_value(value)?;
                match st.entries.get_mut(&(kind, key.clone(), pid)) {
                    Some(v) => {
                        let old = v.as_int().unwrap_or(0);
                        *v = Value::Int(n);
                        st.add_to_aggregate(&key, n.wrapping_sub(old));
                        Ok(())
                    }
                    None => Err(RegistryError::NotHolder { kind, key, pid }),
                }
            }
        }
    }

    /// Registers, or sets the value if `pid` already holds the key (gproc `reg_or_locate`
    /// crossed with `set_value`), atomically. A unique key held by another pid is an error.
    pub fn register_or_update(
        &self,
        kind: Kind,
        key: impl Into<Key>,
        pid: Pid,
        value: impl Into<Value>,
    ) -> Result<(), RegistryError> {
        let key = key.into();
        let value = value.into();
        self.check_pid(pid)?;
        let mut st = self.inner.state.lock();
        let held = st
            .by_pid
            .get(&pid)
            .is_some_and(|s| s.contains(&(kind, key.clone())));
        if held {
            self.set_value_locked(&mut st, kind, key, pid, value)
        } else {
            self.register_locked(&mut st, kind, key, pid, value)
        }
    }

    /// Adds `delta` to the counter `key` held by `pid` and returns the new value (gproc
    /// `update_counter/2`); the aggregated counter of `key` moves in the same critical
    /// section, so it always equals the sum of the counters.
    pub fn update_counter(
        &self,
        key: impl Into<Key>,
        pid: Pid,
        delta: i64,
    ) -> Result<i64, RegistryError> {
        let key = key.into();
        let mut st = self.inner.state.lock();
        let new = match st.entries.get_mut(&(Kind::Counter, key.clone(), pid)) {
            Some(v) => {
                let old = v.as_int().unwrap_or(0);
                let new = old
                    .checked_add(delta)
                    .ok_or_else(|| RegistryError::Overflow {
                        key: key.clone(),
                        pid,
                    })?;
                *v = Value::Int(new);
                new
            }
            None => {
                let actual = st.by_pid.get(&pid).and_then(|s| {
                    [Kind::Name, Kind::Property, Kind::AggregatedCounter]
                        .into_iter()
                        .find(|k| s.contains(&(*k, key.clone())))
                });
                return Err(match actual {
                    Some(actual) => RegistryError::NotACounter { key, pid, actual },
                    None => RegistryError::NotHolder {
                        kind: Kind::Counter,
                        key,
                        pid,
                    },
                });
            }
        };
        st.add_to_aggregate(&key, delta);
        Ok(new)
    }

    /// Waits until the name `key` is registered and returns its holder (gproc `await/2`).
    /// Returns at once if it is registered already.
    pub async fn await_name(&self, key: impl Into<Key>, timeout: Duration) -> Result<Pid, Timeout> {
        let key = key.into();
        let rx = {
            let mut st = self.inner.state.lock();
            if let Some(pid) = self.where_(&key) {
                return Ok(pid);
            }
            let (tx, rx) = oneshot::channel();
            let list = st.awaiters.entry(key.clone()).or_default();
            list.retain(|w| !w.is_closed());
            list.push(tx);
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(pid)) => Ok(pid),
            _ => Err(Timeout {
                key,
                after: timeout,
            }),
        }
    }

    /// Sends `msg` to the holder of a unique key, or to every holder of a property or counter
    /// key (pub/sub), and returns how many accepted it.
    ///
    /// For a unique key, failure to deliver is an error. For a property, holders whose
    /// message type differs or that exited meanwhile are skipped (not counted).
    pub fn send<M: Clone + Send + 'static>(
        &self,
        kind: Kind,
        key: &Key,
        msg: M,
    ) -> Result<usize, KeySendError> {
        let node = &self.inner.node;
        if kind.is_unique() {
            let pid = self
                .lookup_pids(kind, key)
                .first()
                .copied()
                .ok_or_else(|| KeySendError::NotRegistered {
                    kind,
                    key: key.clone(),
                })?;
            let r = node.actor_ref::<M>(pid)?;
            r.tell(msg).map_err(|e| KeySendError::Undelivered {
                pid,
                reason: e.to_string(),
            })?;
            return Ok(1);
        }
        let pids = self.lookup_pids(kind, key);
        let mut n = 0;
        for pid in pids {
            if let Ok(r) = node.actor_ref::<M>(pid) {
                if r.tell(msg.clone()).is_ok() {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// The entries of `kind` whose key matches `pattern`, in key order then pid order
    /// (gproc `select/1`). Exact leading parts of the pattern narrow an ordered range scan
    /// for non-name kinds; names are scanned shard by shard.
    pub fn select(&self, kind: Kind, pattern: &Pattern) -> Vec<Entry> {
        let mut out = Vec::new();
        self.for_each_match(kind, pattern, |e| out.push(e));
        if kind == Kind::Name {
            out.sort();
        }
        out
    }

    /// How many entries of `kind` match `pattern`.
    pub fn count(&self, kind: Kind, pattern: &Pattern) -> usize {
        let mut n = 0;
        self.for_each_match(kind, pattern, |_| n += 1);
        n
    }

    fn for_each_match(&self, kind: Kind, pattern: &Pattern, mut f: impl FnMut(Entry)) {
        if kind == Kind::Name {
            for shard in self.inner.names.iter() {
                for (k, s) in shard.read().iter() {
                    if pattern.matches(k) {
                        f(Entry {
                            kind,
                            key: k.clone(),
                            pid: s.pid,
                            value: s.value.clone(),
                        });
                    }
                }
            }
            return;
        }
        let prefix = pattern.fixed_prefix();
        let st = self.inner.state.lock();
        let range = st.entries.range((
            Bound::Included((kind, prefix.clone(), min_pid())),
            Bound::Unbounded,
        ));
        for ((k, key, pid), v) in range {
            if *k != kind || !key.starts_with(&prefix) {
                break;
            }
            if pattern.matches(key) {
                f(Entry {
                    kind,
                    key: key.clone(),
                    pid: *pid,
                    value: v.clone(),
                });
            }
        }
    }

    /// Every entry of every kind, ordered (for debugging tools).
    pub fn list(&self) -> Vec<Entry> {
        let mut out = self.select(Kind::Name, &Pattern::all());
        let st = self.inner.state.lock();
        out.extend(st.entries.iter().map(|((kind, key, pid), v)| Entry {
            kind: *kind,
            key: key.clone(),
            pid: *pid,
            value: v.clone(),
        }));
        out
    }

    /// The keys `pid` holds (gproc `info(Pid, gproc)`), ordered.
    pub fn keys_of(&self, pid: Pid) -> Vec<(Kind, Key)> {
        let mut v: Vec<_> = self
            .inner
            .state
            .lock()
            .by_pid
            .get(&pid)
            .map(PidKeys::to_vec)
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Monitors `key` of `kind`: every later registration and unregistration (including by
    /// exit) arrives as a [`KeyEvent`]. The current holders are returned with it, read
    /// atomically with setting the monitor. At most [`MONITOR_QUEUE`] events wait; a slower
    /// reader misses events and [`KeyMonitor::missed`] says how many.
    pub fn monitor(&self, kind: Kind, key: impl Into<Key>) -> KeyMonitor {
        let key = key.into();
        let (tx, rx) = mpsc::channel(MONITOR_QUEUE);
        let missed = Arc::new(AtomicU64::new(0));
        let mut st = self.inner.state.lock();
        let holders = match kind {
            Kind::Name => self.where_(&key).into_iter().collect(),
            _ => st.holders(kind, &key).map(|(p, _)| p).collect(),
        };
        st.monitors
            .entry((kind, key))
            .or_default()
            .push((tx, missed.clone()));
        KeyMonitor {
            holders,
            rx,
            missed,
        }
    }
}
