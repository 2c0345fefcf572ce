//! The replica merge: applying a peer's changes and full state, and resolving name
//! conflicts deterministically.

use super::protocol::Op;
use super::replication::Replication;
use crate::global::{Candidate, NameConflict};
use crate::key::{Key, Kind, Value};
use crate::monitor::Change;
use crate::registry::Registry;
use crate::state::State;
use actor_core::{ExitReason, NodeId, Pid};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

impl Replication {
    /// The winner of `a` and `b` for `key`: the configured resolver, seeing the two in pid
    /// order (so every node asks the same question), or the default: the logically earlier
    /// registration (lower Lamport stamp), then the lower pid. Both inputs are facts fixed at
    /// registration and carried unchanged to every replica, so every node decides alike.
    pub(super) fn resolve(&self, key: &Key, a: Candidate, b: Candidate) -> Pid {
        let (a, b) = if a.pid <= b.pid { (a, b) } else { (b, a) };
        if let Some(r) = &self.resolver {
            let w = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r(key, &a, &b)));
            match w {
                Ok(w) if w == a.pid || w == b.pid => return w,
                Ok(w) => {
                    tracing::warn!(?key, winner = %w, "resolver picked neither candidate; using the default")
                }
                Err(_) => tracing::warn!(?key, "resolver panicked; using the default"),
            }
            self.stats.bad_resolutions.fetch_add(1, Ordering::Relaxed);
        }
        if (a.registered_at, a.pid) <= (b.registered_at, b.pid) {
            a.pid
        } else {
            b.pid
        }
    }
}

impl Registry {
    /// Replaces what the replica holds for `node` with `state`: entries and memberships it
    /// no longer lists go, the rest is applied (an unchanged entry is left alone).
    pub(super) fn merge(
        &self,
        st: &mut State,
        node: NodeId,
        state: Vec<Op>,
        losers: &mut Vec<NameConflict>,
    ) {
        let mut fresh: HashSet<(Kind, Key, Pid)> = HashSet::new();
        let mut joins: HashMap<(Key, Pid), usize> = HashMap::new();
        let mut regs = Vec::new();
        for op in state {
            if op.pids().iter().any(|p| p.node != node) {
                self.malformed("state lists a process of another node");
                continue;
            }
            match op {
                Op::Reg {
                    kind, ref key, pid, ..
                } => {
                    fresh.insert((kind, key.clone(), pid));
                    regs.push(op);
                }
                Op::Join { group, pids } => {
                    for pid in pids {
                        *joins.entry((group.clone(), pid)).or_default() += 1;
                    }
                }
                _ => self.malformed("state holds a change that is not a registration"),
            }
        }
        for pid in st.pids_of(node) {
            let (keys, groups) = match st.by_pid.get(&pid) {
                Some(h) => (h.keys.to_vec(), h.groups.clone()),
                None => continue,
            };
            for (kind, key) in keys {
                if !fresh.contains(&(kind, key.clone(), pid)) {
                    self.drop_entry(st, kind, &key, pid, Change::Unregistered);
                }
            }
            let mut have: HashMap<Key, usize> = HashMap::new();
            for g in groups {
                *have.entry(g).or_default() += 1;
            }
            for (group, n) in have {
                let want = joins.get(&(group.clone(), pid)).copied().unwrap_or(0);
                if n > want {
                    let left = self.leave_locked(st, &group, &vec![pid; n - want]);
                    debug_assert!(left.is_ok(), "memberships listed under the pid exist");
                }
                if let Some(w) = joins.get_mut(&(group, pid)) {
                    *w = w.saturating_sub(n);
                }
            }
            self.forget_if_empty(st, pid);
        }
        for op in regs {
            self.apply(st, node, op, losers);
        }
        for ((group, pid), n) in joins {
            if n > 0 {
                self.join_locked(st, &group, &vec![pid; n]);
            }
        }
    }

    /// Applies one change from `node`'s replica; for a registration, `true` if the entry is
    /// held here afterwards (it may lose a name conflict).
    pub(super) fn apply(
        &self,
        st: &mut State,
        node: NodeId,
        op: Op,
        losers: &mut Vec<NameConflict>,
    ) -> bool {
        if op
            .pids()
            .iter()
            .any(|p| p.node != node || self.inner.node.is_local(*p))
        {
            self.malformed("a change about a process of another node");
            return false;
        }
        match op {
            Op::Reg {
                kind,
                key,
                pid,
                value,
                at,
            } => self.apply_reg(st, kind, key, pid, value, at, losers),
            Op::Unreg { kind, key, pid } => {
                self.drop_entry(st, kind, &key, pid, Change::Unregistered);
                true
            }
            Op::Set {
                kind,
                key,
                pid,
                value,
            } => {
                if kind == Kind::AggregatedCounter {
                    self.malformed("setting an aggregated counter");
                    return false;
                }
                // An entry this replica does not hold (it lost a conflict here) is ignored.
                let _ = self.set_value_locked(st, kind, key, pid, value);
                true
            }
            Op::Exit { pid, reason } => {
                self.cleanup_locked(st, pid, reason);
                true
            }
            Op::Join { group, pids } => {
                self.join_locked(st, &group, &pids);
                true
            }
            Op::Leave { group, pids } => {
                let ok = self.leave_locked(st, &group, &pids).is_ok();
                for pid in pids {
                    self.forget_if_empty(st, pid);
                }
                ok
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_reg(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
        at: u64,
        losers: &mut Vec<NameConflict>,
    ) -> bool {
        self.global().observe(at);
        let holder = match kind {
            Kind::Name => self
                .shard(&key)
                .read()
                .get(&key)
                .map(|s| (s.pid, s.value.clone(), s.at)),
            Kind::AggregatedCounter => st.aggregated_holder(&key).map(|p| {
                let at = st.agg_at.get(&key).copied().unwrap_or(0);
                (p, Value::None, at)
            }),
            Kind::Property | Kind::Counter => {
                let r = if st.entries.contains_key(&(kind, key.clone(), pid)) {
                    self.set_value_locked(st, kind, key, pid, value)
                } else {
                    self.register_locked(st, kind, key, pid, value, at)
                };
                if let Err(e) = &r {
                    self.malformed(&format!("registration refused: {e}"));
                }
                return r.is_ok();
            }
        };
        match holder {
            None => {
                let r = self.register_locked(st, kind, key, pid, value, at);
                if let Err(e) = &r {
                    self.malformed(&format!("registration refused: {e}"));
                }
                r.is_ok()
            }
            Some((q, _, _)) if q == pid => {
                if kind == Kind::Name {
                    if let Some(s) = self.shard(&key).write().get_mut(&key) {
                        s.value = value;
                        s.at = at;
                    }
                }
                true
            }
            Some((q, _, q_at)) => {
                let g = self.global();
                g.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                if g.notify_all_name {
                    // OTP's `global:notify_all_name/3`: neither keeps it. Every replica where
                    // the two meet drops both; each holder's own node tells it.
                    tracing::info!(?key, "name conflict: removed from both holders");
                    self.drop_entry(st, kind, &key, q, Change::Unregistered);
                    if self.inner.node.is_local(q) {
                        losers.push(NameConflict {
                            kind,
                            key: key.clone(),
                            loser: q,
                            winner: pid,
                            both_lost: true,
                        });
                    } else {
                        self.settle_elsewhere(st, kind, &key, (q, q_at), (pid, at), true);
                    }
                    // The incoming holder's node learns it too (it may not see `q`).
                    self.settle_elsewhere(st, kind, &key, (pid, at), (q, q_at), true);
                    return false;
                }
                let winner = g.resolve(
                    &key,
                    Candidate {
                        pid: q,
                        registered_at: q_at,
                    },
                    Candidate {
                        pid,
                        registered_at: at,
                    },
                );
                tracing::info!(?key, kept = %winner, "name conflict resolved");
                if winner != pid {
                    // The incoming holder lost: its node may not be a peer of the winner's
                    // (a partial mesh), so it is told from here.
                    self.settle_elsewhere(st, kind, &key, (pid, at), (q, q_at), false);
                    return false;
                }
                self.drop_entry(st, kind, &key, q, Change::Unregistered);
                if self.inner.node.is_local(q) {
                    losers.push(NameConflict {
                        kind,
                        key: key.clone(),
                        loser: q,
                        winner: pid,
                        both_lost: false,
                    });
                } else {
                    self.settle_elsewhere(st, kind, &key, (q, q_at), (pid, at), false);
                }
                self.register_locked(st, kind, key, pid, value, at).is_ok()
            }
        }
    }

    /// Queues a settlement for the node of `loser` (not this node): sent by `flush` if that
    /// node is a peer.
    fn settle_elsewhere(
        &self,
        st: &mut State,
        kind: Kind,
        key: &Key,
        (loser, loser_at): (Pid, u64),
        (winner, winner_at): (Pid, u64),
        both: bool,
    ) {
        if self.inner.node.is_local(loser) {
            return;
        }
        st.settle.push(crate::sync::Settle {
            kind,
            key: key.clone(),
            loser,
            loser_at,
            winner,
            winner_at,
            both,
        });
    }

    /// A peer settled a conflict between a local holder (`loser`) and a process this replica
    /// may not see (`winner`): decide again with the same two candidates and, if the local
    /// holder loses, withdraw it (and tell it). Returns whether it was withdrawn.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_local(
        &self,
        st: &mut State,
        kind: Kind,
        key: Key,
        (loser, loser_at): (Pid, u64),
        (winner, winner_at): (Pid, u64),
        both: bool,
        losers: &mut Vec<NameConflict>,
    ) -> bool {
        if kind != Kind::Name || !self.inner.node.is_local(loser) || winner.node == loser.node {
            self.malformed("a settlement that is not about a local name holder");
            return false;
        }
        let held = self.shard(&key).read().get(&key).map(|s| (s.pid, s.at));
        if held != Some((loser, loser_at)) {
            // Gone already, or registered again since: nothing to settle.
            return false;
        }
        let g = self.global();
        let lost = both
            || g.resolve(
                &key,
                Candidate {
                    pid: loser,
                    registered_at: loser_at,
                },
                Candidate {
                    pid: winner,
                    registered_at: winner_at,
                },
            ) == winner;
        if !lost {
            return false;
        }
        g.stats.conflicts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(?key, %loser, %winner, "name conflict settled by a peer");
        self.drop_entry(st, kind, &key, loser, Change::Unregistered);
        losers.push(NameConflict {
            kind,
            key,
            loser,
            winner,
            both_lost: both,
        });
        true
    }

    /// Removes `pid`'s entry for `(kind, key)` if it holds it, telling monitors and (for a
    /// local pid) the peers.
    fn drop_entry(&self, st: &mut State, kind: Kind, key: &Key, pid: Pid, change: Change) {
        if !self.remove_locked(st, kind, key, pid) {
            return;
        }
        st.unhold(pid, kind, key);
        st.notify(kind, key, pid, change);
        if self.replicates(pid) {
            st.outbox.push(Op::Unreg {
                kind,
                key: key.clone(),
                pid,
            });
        }
        self.forget_if_empty(st, pid);
    }

    /// Forgets a remote pid that holds nothing any more (local pids are forgotten on exit).
    fn forget_if_empty(&self, st: &mut State, pid: Pid) {
        if self.inner.node.is_local(pid) {
            return;
        }
        if st
            .by_pid
            .get(&pid)
            .is_some_and(|h| h.groups.is_empty() && h.keys.is_empty())
        {
            st.by_pid.remove(&pid);
        }
    }

    /// Removes everything the processes of `node` hold.
    pub(super) fn purge_node(&self, st: &mut State, node: NodeId, reason: ExitReason) {
        for pid in st.pids_of(node) {
            self.cleanup_locked(st, pid, reason.clone());
        }
    }
}
