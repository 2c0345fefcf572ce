//! The tables behind a registry's one lock: entries other than names, who holds what,
//! monitors, awaiters, process groups and, in the global scope, the peers and the changes
//! not yet sent to them.

use crate::hash::FxBuild;
use crate::key::{Key, Kind, Value};
use crate::monitor::{Change, GroupChange, GroupEvent, KeyEvent, Sink};
use crate::sync::{Op, Peer};
use actor_core::{NodeId, Pid};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use tokio::sync::oneshot;

/// A name's holder, value and (global scope) registration time.
pub(crate) struct NameSlot {
    pub(crate) pid: Pid,
    pub(crate) value: Value,
    /// The registration's Lamport stamp (global scope); 0 in the local scope.
    pub(crate) at: u64,
}

/// The keys one pid holds: inline for none or one (most pids hold one name), a short vector
/// for a few, a set beyond that.
pub(crate) enum PidKeys {
    None,
    One((Kind, Key)),
    Few(Vec<(Kind, Key)>),
    Many(HashSet<(Kind, Key)>),
}

const FEW: usize = 8;

impl PidKeys {
    pub(crate) fn insert(&mut self, k: (Kind, Key)) {
        match self {
            PidKeys::None => *self = PidKeys::One(k),
            PidKeys::One(_) => {
                let PidKeys::One(first) = std::mem::replace(self, PidKeys::None) else {
                    unreachable!()
                };
                *self = PidKeys::Few(vec![first, k]);
            }
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
    pub(crate) fn remove(&mut self, k: &(Kind, Key)) {
        match self {
            PidKeys::None => {}
            PidKeys::One(x) => {
                if x == k {
                    *self = PidKeys::None;
                }
            }
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
    pub(crate) fn contains(&self, k: &(Kind, Key)) -> bool {
        match self {
            PidKeys::None => false,
            PidKeys::One(x) => x == k,
            PidKeys::Few(v) => v.contains(k),
            PidKeys::Many(set) => set.contains(k),
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            PidKeys::None => true,
            PidKeys::One(_) => false,
            PidKeys::Few(v) => v.is_empty(),
            PidKeys::Many(set) => set.is_empty(),
        }
    }
    pub(crate) fn to_vec(&self) -> Vec<(Kind, Key)> {
        match self {
            PidKeys::None => Vec::new(),
            PidKeys::One(x) => vec![x.clone()],
            PidKeys::Few(v) => v.clone(),
            PidKeys::Many(set) => set.iter().cloned().collect(),
        }
    }
}

/// What one pid holds: keys, and group memberships (a group once per join).
pub(crate) struct PidState {
    pub(crate) keys: PidKeys,
    pub(crate) groups: Vec<Key>,
}

impl PidState {
    pub(crate) fn new() -> PidState {
        PidState {
            keys: PidKeys::None,
            groups: Vec::new(),
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Every entry except names, ordered for prefix select.
    pub(crate) entries: BTreeMap<(Kind, Key, Pid), Value>,
    /// What each pid holds. A local pid is here until it releases everything or exits (its
    /// exit hook then removes it);
    /// a remote pid (global scope) while its node's replica holds anything for it.
    pub(crate) by_pid: HashMap<Pid, PidState, FxBuild>,
    /// Local pids that were dead when first watched; cleaned up by `Registry::flush`.
    pub(crate) exited_early: Vec<Pid>,
    /// Global scope: conflicts settled here between two other nodes' processes, to tell the
    /// loser's node (sent by `Registry::flush`).
    pub(crate) settle: Vec<crate::sync::Settle>,
    pub(crate) monitors: HashMap<(Kind, Key), Vec<Sink<KeyEvent>>>,
    pub(crate) awaiters: HashMap<Key, Vec<oneshot::Sender<Pid>>>,
    /// Process groups: members in join order, a pid once per join.
    pub(crate) groups: BTreeMap<Key, Vec<Pid>>,
    pub(crate) group_monitors: HashMap<Key, Vec<Sink<GroupEvent>>>,
    pub(crate) scope_monitors: Vec<Sink<GroupEvent>>,
    /// Registration stamps of aggregated counters (global scope), for conflict resolution.
    pub(crate) agg_at: HashMap<Key, u64>,
    /// Global scope: the peer registries, by node.
    pub(crate) peers: HashMap<NodeId, Peer>,
    /// Global scope: nodes whose replica refused ours (this node is hidden to them and did
    /// not opt in); not discovered again until they reconnect.
    pub(crate) refused_by: HashSet<NodeId>,
    /// Global scope: the chunks of a peer's full state received so far.
    pub(crate) partial: HashMap<NodeId, Vec<Op>>,
    /// Global scope: local changes made under this lock and not yet sent to the peers.
    /// Sent before the lock is released, so every peer sees them in the order made.
    pub(crate) outbox: Vec<Op>,
}

pub(crate) fn min_pid() -> Pid {
    Pid {
        node: NodeId(0),
        id: 0,
        creation: 0,
    }
}

impl State {
    pub(crate) fn holders(
        &self,
        kind: Kind,
        key: &Key,
    ) -> impl Iterator<Item = (Pid, &Value)> + '_ {
        let key2 = key.clone();
        self.entries
            .range((
                Bound::Included((kind, key.clone(), min_pid())),
                Bound::Unbounded,
            ))
            .take_while(move |((k, kk, _), _)| *k == kind && *kk == key2)
            .map(|((_, _, p), v)| (*p, v))
    }

    pub(crate) fn aggregated_holder(&self, key: &Key) -> Option<Pid> {
        self.holders(Kind::AggregatedCounter, key)
            .next()
            .map(|(p, _)| p)
    }

    pub(crate) fn add_to_aggregate(&mut self, key: &Key, delta: i64) {
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

    /// The pids of `node` that hold anything here.
    pub(crate) fn pids_of(&self, node: NodeId) -> Vec<Pid> {
        self.by_pid
            .keys()
            .copied()
            .filter(|p| p.node == node)
            .collect()
    }

    /// The sum of the counters of `key`.
    pub(crate) fn counter_sum(&self, key: &Key) -> i64 {
        self.holders(Kind::Counter, key)
            .fold(0i64, |s, (_, v)| s.wrapping_add(v.as_int().unwrap_or(0)))
    }

    pub(crate) fn notify(&mut self, kind: Kind, key: &Key, pid: Pid, change: Change) {
        if self.monitors.is_empty() {
            return;
        }
        let mk = (kind, key.clone());
        if let Some(list) = self.monitors.get_mut(&mk) {
            list.retain(|sink| {
                sink.offer(KeyEvent {
                    kind,
                    key: key.clone(),
                    pid,
                    change: change.clone(),
                })
            });
            if list.is_empty() {
                self.monitors.remove(&mk);
            }
        }
    }

    /// Records that `pid` holds `(kind, key)`; `true` if the pid was not known before.
    pub(crate) fn hold(&mut self, pid: Pid, kind: Kind, key: Key) -> bool {
        match self.by_pid.entry(pid) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.get_mut().keys.insert((kind, key));
                false
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut s = PidState::new();
                s.keys.insert((kind, key));
                e.insert(s);
                true
            }
        }
    }

    /// Forgets that `pid` holds `(kind, key)` (the pid stays known until it exits).
    pub(crate) fn unhold(&mut self, pid: Pid, kind: Kind, key: &Key) {
        if let Some(s) = self.by_pid.get_mut(&pid) {
            s.keys.remove(&(kind, key.clone()));
        }
    }

    /// Adds one membership of `pid` in `group`; `true` if the pid was not known before.
    pub(crate) fn join_one(&mut self, group: &Key, pid: Pid) -> bool {
        self.groups.entry(group.clone()).or_default().push(pid);
        match self.by_pid.entry(pid) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.get_mut().groups.push(group.clone());
                false
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut s = PidState::new();
                s.groups.push(group.clone());
                e.insert(s);
                true
            }
        }
    }

    /// Removes one membership of `pid` in `group`; `false` if it had none.
    pub(crate) fn leave_one(&mut self, group: &Key, pid: Pid) -> bool {
        let Some(members) = self.groups.get_mut(group) else {
            return false;
        };
        let Some(i) = members.iter().rposition(|p| *p == pid) else {
            return false;
        };
        members.remove(i);
        if members.is_empty() {
            self.groups.remove(group);
        }
        if let Some(s) = self.by_pid.get_mut(&pid) {
            if let Some(j) = s.groups.iter().rposition(|g| g == group) {
                s.groups.swap_remove(j);
            }
        }
        true
    }

    pub(crate) fn notify_group(&mut self, group: &Key, pids: &[Pid], change: GroupChange) {
        if pids.is_empty() {
            return;
        }
        let ev = || GroupEvent {
            group: group.clone(),
            pids: pids.to_vec(),
            change,
        };
        if !self.scope_monitors.is_empty() {
            self.scope_monitors.retain(|s| s.offer(ev()));
        }
        if let Some(list) = self.group_monitors.get_mut(group) {
            list.retain(|s| s.offer(ev()));
            if list.is_empty() {
                self.group_monitors.remove(group);
            }
        }
    }
}
