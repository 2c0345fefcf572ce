//! A registry's public operations (one scope: local, or a replica of a global scope), and
//! the exit hook that removes what a process held as part of its exit.

use crate::error::{KeySendError, RegistryError, Timeout};
use crate::hash::KeyHasher;
use crate::key::{Key, Kind, Value};
use crate::monitor::{Change, KeyMonitor, Sink};
use crate::state::{NameSlot, State};
use crate::sync::{Op, Replication};
use actor_core::{ExitHook, ExitReason, Node, Pid};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

const SHARDS: usize = 64;

type NameShard = RwLock<HashMap<Key, NameSlot, KeyHasher>>;

/// The registry's exit hook, registered once per local pid that holds something: it removes
/// what the pid held as part of the pid's exit, before its links and monitors fire (as OTP
/// frees a process's names), so a supervisor restarting it can register the same name at once.
struct ExitCleanup(Weak<Inner>);

impl ExitHook for ExitCleanup {
    fn exited(&self, pid: Pid, reason: &ExitReason) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let reg = Registry { inner };
        let mut st = reg.inner.state.lock();
        reg.cleanup_locked(&mut st, pid, reason.clone());
        reg.flush(&mut st);
    }
}

pub(crate) struct Inner {
    pub(crate) node: Node,
    /// This registry's exit hook (one object, shared by every watched pid).
    exit_hook: Arc<dyn ExitHook>,
    /// Names, sharded by key hash: `where_` takes one shard's read lock and nothing else.
    /// Written only while `state` is held (lock order: state, then shard).
    pub(crate) names: Box<[NameShard]>,
    pub(crate) state: Mutex<State>,
    /// Present in a replica of a global scope.
    pub(crate) global: Option<Replication>,
}

/// A gproc-style registry for one [`Node`]: names, properties, counters and aggregated
/// counters, with await, pub/sub, select and monitors, and `pg`-style process groups. Cheap
/// to clone (a handle).
///
/// [`Registry::new`] makes the node's **local scope**; a
/// [`GlobalRegistry`](crate::GlobalRegistry) is a replica of a **global scope** and offers
/// the same operations (through `Deref`) on entries replicated across the cluster.
///
/// See the [crate docs](crate) for an example.
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({:?})", self.inner.node)
    }
}

/// Tells `msg` to the holder of a unique key.
pub(crate) fn tell_holder<M: Send + 'static>(
    r: actor_core::ActorRef<M>,
    pid: Pid,
    msg: M,
) -> Result<(), KeySendError> {
    r.tell(msg).map_err(|e| KeySendError::Undelivered {
        pid,
        reason: e.to_string(),
    })
}

/// Tells `msg` to each local process of `pids` that takes `M` (cloned for all but the last,
/// which gets the original); returns how many took it.
pub(crate) fn tell_all<M: Clone + Send + 'static>(node: &Node, pids: &[Pid], msg: M) -> usize {
    let Some((&last, rest)) = pids.split_last() else {
        return 0;
    };
    let tell = |pid: Pid, m: M| node.actor_ref::<M>(pid).is_ok_and(|r| r.tell(m).is_ok()) as usize;
    rest.iter()
        .map(|&pid| tell(pid, msg.clone()))
        .sum::<usize>()
        + tell(last, msg)
}

pub(crate) fn counter_value(value: Value) -> Result<i64, RegistryError> {
    match value {
        Value::None => Ok(0),
        Value::Int(i) => Ok(i),
        other => Err(RegistryError::NotAnInteger(other)),
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A global scope's server goes with its registry.
        if let Some(server) = self.global.as_ref().and_then(|g| g.server.get()) {
            self.node.stop(*server, ExitReason::Shutdown);
        }
    }
}

impl Registry {
    /// A new, empty registry for `node`'s processes.
    ///
    pub fn new(node: &Node) -> Registry {
        Registry::with_replication(node, None)
    }

    pub(crate) fn with_replication(node: &Node, global: Option<Replication>) -> Registry {
        let inner = Arc::new_cyclic(|me: &Weak<Inner>| Inner {
            node: node.clone(),
            exit_hook: Arc::new(ExitCleanup(me.clone())),
            names: (0..SHARDS).map(|_| RwLock::default()).collect(),
            state: Mutex::new(State::default()),
            global,
        });
        Registry { inner }
    }

    /// Whether a change to what `pid` holds must be sent to the peers: in a global scope,
    /// for the pids of this node (each node replicates its own processes' entries).
    pub(crate) fn replicates(&self, pid: Pid) -> bool {
        self.inner.global.is_some() && self.inner.node.is_local(pid)
    }

    /// A registration stamp for conflict resolution (global scope only; 0 in the local one):
    /// the replica's Lamport clock, advanced by one. No wall clock is read.
    pub(crate) fn stamp(&self) -> u64 {
        self.inner.global.as_ref().map_or(0, |g| g.tick())
    }

    /// Sends the changes made under this lock to the peers (global scope), in order.
    pub(crate) fn flush(&self, st: &mut State) {
        // Pids found dead when they were first watched: they exited before their hook was in
        // place, so their entries go now.
        while let Some(pid) = st.exited_early.pop() {
            self.cleanup_locked(st, pid, ExitReason::NoProc);
        }
        if !st.outbox.is_empty() {
            crate::sync::broadcast(self, st);
        }
        if !st.settle.is_empty() {
            crate::sync::send_settles(self, st);
        }
    }

    /// The node this registry serves.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    pub(crate) fn shard(&self, key: &Key) -> &NameShard {
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
        let at = self.stamp();
        self.change(|st| self.register_locked(st, kind, key, pid, value, at))
    }

    /// Runs `f` on the state under its lock, then flushes what it queued (operations for the
    /// peers, settles, entries of pids found dead) before releasing it.
    fn change<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.inner.state.lock();
        let r = f(&mut st);
        self.flush(&mut st);
        r
    }

    /// In a global scope, only this node's processes' entries may be changed here (each node
    /// owns its processes' entries); a remote pid is refused.
    pub(crate) fn check_owner(&self, pid: Pid) -> Result<(), RegistryError> {
        if self.inner.global.is_some() && !self.inner.node.is_local(pid) {
            return Err(RegistryError::NotLocal(pid));
        }
        Ok(())
    }

    pub(crate) fn check_pid(&self, pid: Pid) -> Result<(), RegistryError> {
        if !self.inner.node.is_local(pid) {
            return Err(RegistryError::NotLocal(pid));
        }
        if !self.inner.node.is_alive(pid) {
            return Err(RegistryError::NoProc(pid));
        }
        Ok(())
    }

    pub(crate) fn register_locked(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
        at: u64,
    ) -> Result<(), RegistryError> {
        let replicated = self.replicates(pid).then(|| value.clone());
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
                shard.insert(key.clone(), NameSlot { pid, value, at });
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
                let sum = st.counter_sum(&key);
                st.entries.insert((kind, key.clone(), pid), Value::Int(sum));
                if self.inner.global.is_some() {
                    st.agg_at.insert(key.clone(), at);
                }
            }
        }
        if st.hold(pid, kind, key.clone()) {
            self.watch(st, pid);
        }
        if kind == Kind::Name && !st.awaiters.is_empty() {
            if let Some(waiters) = st.awaiters.remove(&key) {
                for w in waiters {
                    let _ = w.send(pid);
                }
            }
        }
        st.notify(kind, &key, pid, Change::Registered);
        if let Some(value) = replicated {
            let value = match kind {
                Kind::Counter => Value::Int(counter_value(value).unwrap_or(0)),
                _ => value,
            };
            st.outbox.push(Op::Reg {
                kind,
                key,
                pid,
                value,
                at,
            });
        }
        Ok(())
    }

    /// Watches a local `pid` that `st.by_pid` has just started listing: the registry's exit
    /// hook is added to it, so its entries go as part of its exit. Remote pids (global scope)
    /// are not watched: their node reports their exits.
    pub(crate) fn watch(&self, st: &mut State, pid: Pid) {
        if !self.inner.node.is_local(pid) {
            return;
        }
        if !self.inner.node.on_exit(pid, self.inner.exit_hook.clone()) {
            // Gone already: cleaned up before this operation releases the lock.
            st.exited_early.push(pid);
        }
    }

    /// Removes everything `pid` holds (its keys and its group memberships), notifying
    /// monitors, because it exited with `reason` (or its node went down).
    pub(crate) fn cleanup_locked(&self, st: &mut State, pid: Pid, reason: ExitReason) {
        let Some(held) = st.by_pid.remove(&pid) else {
            return;
        };
        for (kind, key) in held.keys.to_vec() {
            self.remove_locked(st, kind, &key, pid);
            st.notify(kind, &key, pid, Change::Exited(reason.clone()));
        }
        let mut groups = held.groups;
        groups.sort();
        let mut i = 0;
        while i < groups.len() {
            let group = groups[i].clone();
            let mut n = 0;
            while i < groups.len() && groups[i] == group {
                n += 1;
                i += 1;
            }
            if let Some(members) = st.groups.get_mut(&group) {
                members.retain(|p| *p != pid);
                if members.is_empty() {
                    st.groups.remove(&group);
                }
            }
            st.notify_group(&group, &vec![pid; n], crate::monitor::GroupChange::Left);
        }
        if self.replicates(pid) {
            st.outbox.push(Op::Exit { pid, reason });
        }
    }

    /// Removes the entry if `pid` holds it; does not touch `by_pid` or monitors.
    pub(crate) fn remove_locked(&self, st: &mut State, kind: Kind, key: &Key, pid: Pid) -> bool {
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
                    if kind == Kind::AggregatedCounter && !st.agg_at.is_empty() {
                        st.agg_at.remove(key);
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
        self.check_owner(pid)?;
        let mut st = self.inner.state.lock();
        if !self.remove_locked(&mut st, kind, &key, pid) {
            return Err(RegistryError::NotHolder { kind, key, pid });
        }
        st.unhold(pid, kind, &key);
        st.notify(kind, &key, pid, Change::Unregistered);
        if self.replicates(pid) {
            st.outbox.push(Op::Unreg { kind, key, pid });
        }
        self.flush(&mut st);
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
        self.check_owner(pid)?;
        self.change(|st| self.set_value_locked(st, kind, key, pid, value))
    }

    /// Sets a value; on success in a global scope, queues the change for the peers.
    pub(crate) fn set_value_locked(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
    ) -> Result<(), RegistryError> {
        let replicated = self.replicates(pid).then(|| (key.clone(), value.clone()));
        self.set_value_inner(st, kind, key, pid, value)?;
        if let Some((key, value)) = replicated {
            let value = match kind {
                Kind::Counter => Value::Int(counter_value(value).unwrap_or(0)),
                _ => value,
            };
            st.outbox.push(Op::Set {
                kind,
                key,
                pid,
                value,
            });
        }
        Ok(())
    }

    fn set_value_inner(
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
        let at = self.stamp();
        self.change(|st| {
            let held = st
                .by_pid
                .get(&pid)
                .is_some_and(|s| s.keys.contains(&(kind, key.clone())));
            if held {
                self.set_value_locked(st, kind, key, pid, value)
            } else {
                self.register_locked(st, kind, key, pid, value, at)
            }
        })
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
        self.check_owner(pid)?;
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
                        .find(|k| s.keys.contains(&(*k, key.clone())))
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
        if self.replicates(pid) {
            st.outbox.push(Op::Set {
                kind: Kind::Counter,
                key,
                pid,
                value: Value::Int(new),
            });
            self.flush(&mut st);
        }
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
            _ => {
                // Leave no dead waiter behind for a key nobody registers.
                let mut st = self.inner.state.lock();
                if let Some(list) = st.awaiters.get_mut(&key) {
                    list.retain(|w| !w.is_closed());
                    if list.is_empty() {
                        st.awaiters.remove(&key);
                    }
                }
                Err(Timeout {
                    key,
                    after: timeout,
                })
            }
        }
    }

    /// Sends `msg` to the holder of a unique key, or to every holder of a property or counter
    /// key (pub/sub), and returns how many accepted it.
    ///
    /// For a unique key, failure to deliver is an error. For a property, holders whose
    /// message type differs or that exited meanwhile are skipped (not counted).
    ///
    /// This sends without encoding, so it reaches this node's processes only: on a
    /// [`GlobalRegistry`](crate::GlobalRegistry), holders on other nodes are skipped (and a
    /// unique key held on another node is an error). `GlobalRegistry::send` reaches them.
    pub fn send<M: Clone + Send + 'static>(
        &self,
        kind: Kind,
        key: &Key,
        msg: M,
    ) -> Result<usize, KeySendError> {
        let node = &self.inner.node;
        if kind.is_unique() {
            let pid = self.unique_holder(kind, key)?;
            tell_holder(node.actor_ref::<M>(pid)?, pid, msg)?;
            return Ok(1);
        }
        Ok(tell_all(node, &self.lookup_pids(kind, key), msg))
    }

    /// The holder of a unique key (a name: one shard read, no allocation).
    pub(crate) fn unique_holder(&self, kind: Kind, key: &Key) -> Result<Pid, KeySendError> {
        let holder = match kind {
            Kind::Name => self.where_(key),
            _ => self.inner.state.lock().aggregated_holder(key),
        };
        holder.ok_or_else(|| KeySendError::NotRegistered {
            kind,
            key: key.clone(),
        })
    }

    /// Monitors `key` of `kind`: every later registration and unregistration (including by
    /// exit) arrives as a [`KeyEvent`](crate::KeyEvent). The current holders are returned with it, read
    /// atomically with setting the monitor. At most [`MONITOR_QUEUE`](crate::MONITOR_QUEUE) events wait; a slower
    /// reader misses events and [`KeyMonitor::missed`] says how many.
    pub fn monitor(&self, kind: Kind, key: impl Into<Key>) -> KeyMonitor {
        let key = key.into();
        let (sink, rx, missed) = Sink::new();
        let mut st = self.inner.state.lock();
        let holders = match kind {
            Kind::Name => self.where_(&key).into_iter().collect(),
            _ => st.holders(kind, &key).map(|(p, _)| p).collect(),
        };
        st.monitors.entry((kind, key)).or_default().push(sink);
        KeyMonitor {
            holders,
            rx,
            missed,
        }
    }
}
