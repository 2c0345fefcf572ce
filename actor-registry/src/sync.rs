//! Replication of a global scope between nodes: the messages replicas exchange, the server
//! actor that applies them, peer discovery, full-state sync and name-conflict resolution.
//!
//! The model is syn's, not gproc's `gen_leader`: every node owns the entries of its own
//! processes and sends them to its peers; no leader, no global lock. A change is applied
//! locally under the registry lock and sent to every peer before the lock is released, so
//! each peer receives one node's changes in the order they were made (one ordered connection
//! per pair). Sync between two replicas:
//!
//! 1. When a node comes up (or a scope starts), the discovery task finds the peer's server
//!    (an rpc, `whereis`) and sends it `Discover`.
//! 2. A server receiving `Discover` adds the sender as a peer (monitoring it) and answers
//!    `Ack` with the full state of its own node's processes; from then on its changes follow.
//! 3. A server receiving `Ack` from a sender it did not know adds it and answers with its
//!    own `Ack`; either way it merges the sender's state (replacing what it had for that node).
//! 4. When a peer's server goes down (its node disconnects: `noconnection`), everything its
//!    node held is removed, with monitors told.
//!
//! A name registered on two nodes (concurrently, or on both sides of a partition) meets its
//! twin on some node; that node asks the resolver, which sees the same two candidates in the
//! same order everywhere and so picks the same winner everywhere. The loser's own node drops
//! the loser's entry, tells the peers, and tells the loser.

use crate::global::{Candidate, GlobalStats, NameConflict, OnConflict, Resolver};
use crate::key::{Key, Kind, Value};
use crate::monitor::Change;
use crate::registry::{Inner, Registry};
use crate::state::State;
use actor_core::{Actor, ActorRef, Context, Down, ExitReason, NodeId, Pid, ReplyTo};
use actor_dist::{Dist, Message, NodeEvent, RpcError};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long discovery waits for a peer to say where its server is.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Changes per `Ack` message when a full state is sent: a large registry goes in several
/// messages, far below the connection's frame limit.
const STATE_CHUNK: usize = 1024;

/// One change to what a node's processes hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Reg {
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
        at: u64,
    },
    Unreg {
        kind: Kind,
        key: Key,
        pid: Pid,
    },
    Set {
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
    },
    Exit {
        pid: Pid,
        reason: ExitReason,
    },
    Join {
        group: Key,
        pids: Vec<Pid>,
    },
    Leave {
        group: Key,
        pids: Vec<Pid>,
    },
}

impl Op {
    /// The pids the change is about (all must belong to the sending node).
    fn pids(&self) -> &[Pid] {
        match self {
            Op::Reg { pid, .. } | Op::Unreg { pid, .. } | Op::Set { pid, .. } => {
                std::slice::from_ref(pid)
            }
            Op::Exit { pid, .. } => std::slice::from_ref(pid),
            Op::Join { pids, .. } | Op::Leave { pids, .. } => pids,
        }
    }
}

/// What replicas send each other's servers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum SyncMsg {
    /// "I am the scope's server on my node; send me your state."
    Discover { from: Pid, scope: String },
    /// The full state of the sender's own processes, in chunks: `more` on every chunk but the
    /// last; the receiver merges once it has the last.
    Ack {
        from: Pid,
        scope: String,
        state: Vec<Op>,
        more: bool,
    },
    /// Changes, in order; with `ack`, the receiver answers whether every registration in
    /// `ops` is held after applying them (it may have lost a conflict there).
    Ops {
        from: Pid,
        ops: Vec<Op>,
        ack: Option<ReplyTo<bool>>,
    },
    /// A message for every local holder of `(kind, key)`: pub/sub, once per node.
    Publish {
        from: Pid,
        kind: Kind,
        key: Key,
        tag: u64,
        payload: Vec<u8>,
    },
}

impl Message for SyncMsg {
    const NAME: &'static str = "actor_registry.Sync";
}

/// A peer replica: its server and the route to it.
pub(crate) struct Peer {
    pub(crate) server: Pid,
    pub(crate) route: ActorRef<SyncMsg>,
    pub(crate) name: String,
}

/// What a registry needs to be a replica of a global scope.
pub(crate) struct Replication {
    pub(crate) dist: Dist,
    pub(crate) scope: String,
    pub(crate) server: OnceLock<Pid>,
    pub(crate) resolver: Option<Resolver>,
    pub(crate) on_conflict: OnConflict,
    pub(crate) stats: Arc<GlobalStats>,
}

impl Replication {
    /// The winner of `a` and `b` for `key`: the configured resolver, seeing the two in pid
    /// order (so every node asks the same question), or the default: the earlier
    /// registration, then the lower pid.
    fn resolve(&self, key: &Key, a: Candidate, b: Candidate) -> Pid {
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

/// The name of the rpc function through which peers find a scope's server.
pub(crate) fn whereis_fn(scope: &str) -> String {
    format!("actor_registry.whereis/{scope}")
}

/// Sends the changes queued under the lock to every peer, in order. A peer that cannot take
/// them (its outbound buffer is full, or it is going away) is disconnected: reconnecting
/// resyncs its replica from scratch, where a silently lost change would leave it wrong.
pub(crate) fn broadcast(reg: &Registry, st: &mut State) {
    let mut ops = std::mem::take(&mut st.outbox);
    let Some(g) = &reg.inner.global else { return };
    let Some(&from) = g.server.get() else { return };
    let n = st.peers.len();
    for (i, peer) in st.peers.values().enumerate() {
        let ops = if i + 1 == n {
            std::mem::take(&mut ops)
        } else {
            ops.clone()
        };
        let msg = SyncMsg::Ops {
            from,
            ops,
            ack: None,
        };
        g.send_to(peer, msg, "registry changes");
    }
}

impl Replication {
    /// Sends `msg` to `peer`'s server. A peer that cannot take it (outbound buffer full, or
    /// going away) is disconnected, outside the caller's locks: reconnecting resyncs its
    /// replica from scratch, where a silently lost message would leave it wrong.
    pub(crate) fn send_to(&self, peer: &Peer, msg: SyncMsg, what: &str) -> bool {
        let Err(e) = peer.route.tell(msg) else {
            return true;
        };
        tracing::warn!(peer = %peer.name, error = %e, "{what} not sent; disconnecting to resync");
        self.stats.send_failures.fetch_add(1, Ordering::Relaxed);
        let (dist, name) = (self.dist.clone(), peer.name.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move { dist.disconnect(&name) });
            }
            Err(_) => {
                dist.disconnect(&name);
            }
        }
        false
    }
}

/// What [`Registry::add_peer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Added {
    /// The server was the peer already.
    Known,
    /// The server is the new peer for its node.
    New,
    /// The server is older than the current peer (or unreachable): ignored.
    Refused,
}

/// The scope's server on this node: applies what peers send, and notices when they go.
pub(crate) struct Server {
    pub(crate) reg: Weak<Inner>,
}

impl Actor for Server {
    type Msg = SyncMsg;

    async fn handle(&mut self, msg: SyncMsg, ctx: &mut Context<Self>) {
        let Some(inner) = self.reg.upgrade() else {
            ctx.stop(ExitReason::Normal);
            return;
        };
        let reg = Registry { inner };
        let losers = reg.on_sync(msg, ctx);
        reg.tell_losers(losers);
    }

    async fn handle_down(&mut self, d: Down, _ctx: &mut Context<Self>) {
        if let Some(inner) = self.reg.upgrade() {
            Registry { inner }.on_peer_down(d.pid, d.reason);
        }
    }
}

/// Finds the servers of the scope on the nodes connected now and on every node that comes up,
/// and sends each `Discover`. Ends when the registry is gone.
pub(crate) async fn discover_loop(
    reg: Weak<Inner>,
    dist: Dist,
    scope: String,
    me: Pid,
    mut events: mpsc::Receiver<NodeEvent>,
) {
    for name in dist.nodes() {
        tokio::spawn(discover(reg.clone(), dist.clone(), name, scope.clone(), me));
    }
    while let Some(ev) = events.recv().await {
        if reg.strong_count() == 0 {
            return;
        }
        if let NodeEvent::Up(info) = ev {
            if !info.hidden {
                tokio::spawn(discover(
                    reg.clone(),
                    dist.clone(),
                    info.name,
                    scope.clone(),
                    me,
                ));
            }
        }
    }
}

/// Finds `name`'s server and sends it `Discover`, again with backoff until the two replicas
/// are peers: a message can be lost with a connection that loses a simultaneous connect.
async fn discover(reg: Weak<Inner>, dist: Dist, name: String, scope: String, me: Pid) {
    let id = NodeId::from_name(&name);
    let mut delay = Duration::from_millis(50);
    for _ in 0..10 {
        let synced = match reg.upgrade() {
            Some(inner) => inner.state.lock().peers.contains_key(&id),
            None => return,
        };
        // Synced, or gone (its next nodeup starts over).
        if synced || !dist.nodes().contains(&name) {
            return;
        }
        let found: Result<Option<Pid>, RpcError> = dist
            .call(&name, &whereis_fn(&scope), &(), DISCOVER_TIMEOUT)
            .await;
        match found {
            Ok(Some(server)) => {
                if let Ok(r) = dist.system_ref::<SyncMsg>(server) {
                    let _ = r.tell(SyncMsg::Discover {
                        from: me,
                        scope: scope.clone(),
                    });
                }
            }
            // Not running there (yet): when it starts, it discovers us.
            Ok(None) | Err(RpcError::NoSuchFunction(_)) => return,
            Err(e) => {
                tracing::debug!(node = %name, %scope, error = %e, "registry discovery failed")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

impl Registry {
    fn global(&self) -> &Replication {
        self.inner
            .global
            .as_ref()
            .expect("a sync message reached a registry with global scope")
    }

    fn malformed(&self, why: &str) {
        self.global()
            .stats
            .malformed
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(scope = %self.global().scope, "malformed registry sync message: {why}");
    }

    /// Handles one message from a peer; returns the local losers of name conflicts, to be
    /// told once the lock is released.
    fn on_sync(&self, msg: SyncMsg, ctx: &mut Context<Server>) -> Vec<NameConflict> {
        let g = self.global();
        let me = ctx.pid();
        let mut losers = Vec::new();
        match msg {
            SyncMsg::Discover { from, scope } => {
                if !self.valid_sender(from, &scope) {
                    return losers;
                }
                let mut st = self.inner.state.lock();
                if self.add_peer(&mut st, from, ctx) != Added::Refused {
                    self.send_state(&st, from, me);
                }
                self.flush(&mut st);
            }
            SyncMsg::Ack {
                from,
                scope,
                state,
                more,
            } => {
                if !self.valid_sender(from, &scope) {
                    return losers;
                }
                let mut st = self.inner.state.lock();
                match self.add_peer(&mut st, from, ctx) {
                    Added::Refused => return losers,
                    Added::New => self.send_state(&st, from, me),
                    Added::Known => {}
                }
                let mut state = state;
                if let Some(mut earlier) = st.partial.remove(&from.node) {
                    earlier.append(&mut state);
                    state = earlier;
                }
                if more {
                    st.partial.insert(from.node, state);
                } else {
                    self.merge(&mut st, from.node, state, &mut losers);
                    self.flush(&mut st);
                }
            }
            SyncMsg::Ops { from, ops, ack } => {
                let mut st = self.inner.state.lock();
                if !is_peer(&st, from) {
                    drop(st);
                    g.stats.stale.fetch_add(1, Ordering::Relaxed);
                    // Not a peer: the sender does not count us (the dropped handle says so).
                    drop(ack);
                    return losers;
                }
                let mut held = true;
                for op in ops {
                    held &= self.apply(&mut st, from.node, op, &mut losers);
                }
                self.flush(&mut st);
                drop(st);
                if let Some(ack) = ack {
                    ack.send(held);
                }
            }
            SyncMsg::Publish {
                from,
                kind,
                key,
                tag,
                payload,
            } => {
                let pids: Vec<Pid> = {
                    let st = self.inner.state.lock();
                    if !is_peer(&st, from) {
                        g.stats.stale.fetch_add(1, Ordering::Relaxed);
                        return losers;
                    }
                    let node = &self.inner.node;
                    let holders: Vec<Pid> = match kind {
                        Kind::Name => self.where_(&key).into_iter().collect(),
                        _ => st.holders(kind, &key).map(|(p, _)| p).collect(),
                    };
                    holders.into_iter().filter(|p| node.is_local(*p)).collect()
                };
                if pids.is_empty() {
                    return losers;
                }
                let delivered = match g.dist.deliver_from(from.node, tag, &payload, &pids) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(error = %e, "published message not delivered");
                        0
                    }
                };
                g.stats
                    .relayed
                    .fetch_add(delivered as u64, Ordering::Relaxed);
                g.stats
                    .undelivered
                    .fetch_add((pids.len() - delivered) as u64, Ordering::Relaxed);
            }
        }
        losers
    }

    fn valid_sender(&self, from: Pid, scope: &str) -> bool {
        if scope != self.global().scope {
            self.malformed("sync for another scope");
            return false;
        }
        if from.node == self.inner.node.id() {
            self.malformed("sync claiming to come from this node");
            return false;
        }
        true
    }

    /// Makes `from` the peer for its node, replacing the server of an older incarnation (whose
    /// entries go). A server older than the current peer's is refused.
    fn add_peer(&self, st: &mut State, from: Pid, ctx: &mut Context<Server>) -> Added {
        let g = self.global();
        match st.peers.get(&from.node) {
            Some(p) if p.server == from => return Added::Known,
            Some(p) if (p.server.creation, p.server.id) > (from.creation, from.id) => {
                g.stats.stale.fetch_add(1, Ordering::Relaxed);
                return Added::Refused;
            }
            Some(_) => {
                st.peers.remove(&from.node);
                st.partial.remove(&from.node);
                self.purge_node(st, from.node, ExitReason::NoConnection);
            }
            None => {}
        }
        let Ok(route) = g.dist.system_ref::<SyncMsg>(from) else {
            return Added::Refused;
        };
        let name = g
            .dist
            .nodes()
            .into_iter()
            .find(|n| NodeId::from_name(n) == from.node)
            .unwrap_or_else(|| from.node.to_string());
        ctx.monitor(from);
        st.peers.insert(
            from.node,
            Peer {
                server: from,
                route,
                name,
            },
        );
        Added::New
    }

    /// Sends the full state of this node's processes to the server `to`, in chunks. If it
    /// cannot all be sent, the peer is disconnected (and resynced when it reconnects).
    fn send_state(&self, st: &State, to: Pid, me: Pid) {
        let Some(peer) = st.peers.get(&to.node) else {
            return;
        };
        let g = self.global();
        let mut state = self.local_state(st);
        loop {
            let rest = state.split_off(state.len().min(STATE_CHUNK));
            let more = !rest.is_empty();
            let msg = SyncMsg::Ack {
                from: me,
                scope: g.scope.clone(),
                state,
                more,
            };
            if !g.send_to(peer, msg, "registry state") || !more {
                return;
            }
            state = rest;
        }
    }

    /// Everything this node's processes hold, as the changes that would rebuild it.
    fn local_state(&self, st: &State) -> Vec<Op> {
        let node = &self.inner.node;
        let mut ops = Vec::new();
        for (&pid, held) in st.by_pid.iter().filter(|(p, _)| node.is_local(**p)) {
            for (kind, key) in held.keys.to_vec() {
                let (value, at) = match kind {
                    Kind::Name => match self.shard(&key).read().get(&key) {
                        Some(s) => (s.value.clone(), s.at),
                        None => continue,
                    },
                    Kind::AggregatedCounter => {
                        (Value::None, st.agg_at.get(&key).copied().unwrap_or(0))
                    }
                    _ => match st.entries.get(&(kind, key.clone(), pid)) {
                        Some(v) => (v.clone(), 0),
                        None => continue,
                    },
                };
                ops.push(Op::Reg {
                    kind,
                    key,
                    pid,
                    value,
                    at,
                });
            }
        }
        for (group, members) in &st.groups {
            let pids: Vec<Pid> = members
                .iter()
                .copied()
                .filter(|p| node.is_local(*p))
                .collect();
            if !pids.is_empty() {
                ops.push(Op::Join {
                    group: group.clone(),
                    pids,
                });
            }
        }
        ops
    }

    /// Replaces what the replica holds for `node` with `state`: entries and memberships it
    /// no longer lists go, the rest is applied (an unchanged entry is left alone).
    fn merge(&self, st: &mut State, node: NodeId, state: Vec<Op>, losers: &mut Vec<NameConflict>) {
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
    fn apply(&self, st: &mut State, node: NodeId, op: Op, losers: &mut Vec<NameConflict>) -> bool {
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
                    return false;
                }
                self.drop_entry(st, kind, &key, q, Change::Unregistered);
                if self.inner.node.is_local(q) {
                    losers.push(NameConflict {
                        kind,
                        key: key.clone(),
                        loser: q,
                        winner: pid,
                    });
                }
                self.register_locked(st, kind, key, pid, value, at).is_ok()
            }
        }
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
    fn purge_node(&self, st: &mut State, node: NodeId, reason: ExitReason) {
        for pid in st.pids_of(node) {
            self.cleanup_locked(st, pid, reason.clone());
        }
    }

    fn on_peer_down(&self, server: Pid, reason: ExitReason) {
        let mut st = self.inner.state.lock();
        if st
            .peers
            .get(&server.node)
            .is_some_and(|p| p.server == server)
        {
            st.peers.remove(&server.node);
            st.partial.remove(&server.node);
            self.purge_node(&mut st, server.node, reason);
            self.flush(&mut st);
        }
    }

    fn tell_losers(&self, losers: Vec<NameConflict>) {
        if losers.is_empty() {
            return;
        }
        let g = self.global();
        for c in losers {
            tracing::info!(key = ?c.key, loser = %c.loser, winner = %c.winner, "name conflict lost");
            match &g.on_conflict {
                OnConflict::Exit(reason) => self.inner.node.exit(c.loser, reason.clone()),
                OnConflict::Notify(f) => {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c))).is_err() {
                        tracing::warn!("name-conflict callback panicked");
                    }
                }
            }
        }
    }
}

fn is_peer(st: &State, from: Pid) -> bool {
    st.peers.get(&from.node).is_some_and(|p| p.server == from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::global::{GlobalConfig, GlobalRegistry};
    use actor_core::Node;
    use actor_dist::{Cookie, DistConfig};
    use proptest::prelude::*;

    fn peer_pid(id: u64) -> Pid {
        Pid {
            node: NodeId::from_name("peer@127.0.0.1"),
            id,
            creation: 1,
        }
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Name),
            Just(Kind::Property),
            Just(Kind::Counter),
            Just(Kind::AggregatedCounter)
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::None),
            (-3i64..3).prop_map(Value::Int),
            Just(Value::from("s"))
        ]
    }

    /// Changes a peer could send, valid or not: pid 0 is a process of this node (refused).
    fn change(local: Pid) -> impl Strategy<Value = Op> {
        let pid = (0u64..4).prop_map(move |i| if i == 0 { local } else { peer_pid(i) });
        let key = (0i64..3).prop_map(|k| Key::from(("k", k)));
        prop_oneof![
            4 => (kind(), key.clone(), pid.clone(), value(), 0u64..3).prop_map(
                |(kind, key, pid, value, at)| Op::Reg { kind, key, pid, value, at }),
            2 => (kind(), key.clone(), pid.clone()).prop_map(|(kind, key, pid)| Op::Unreg { kind, key, pid }),
            2 => (kind(), key.clone(), pid.clone(), value()).prop_map(
                |(kind, key, pid, value)| Op::Set { kind, key, pid, value }),
            1 => pid.clone().prop_map(|pid| Op::Exit { pid, reason: ExitReason::Normal }),
            2 => (key.clone(), proptest::collection::vec(pid.clone(), 0..3))
                .prop_map(|(group, pids)| Op::Join { group, pids }),
            1 => (key, proptest::collection::vec(pid, 0..3))
                .prop_map(|(group, pids)| Op::Leave { group, pids }),
        ]
    }

    #[derive(Debug, Clone)]
    enum Step {
        Apply(Op),
        /// A full state (replaces what the replica holds for the peer).
        Merge(Vec<Op>),
        Purge,
    }

    fn steps(local: Pid) -> impl Strategy<Value = Vec<Step>> {
        proptest::collection::vec(
            prop_oneof![
                8 => change(local).prop_map(Step::Apply),
                1 => proptest::collection::vec(change(local), 0..6).prop_map(Step::Merge),
                1 => Just(Step::Purge),
            ],
            0..50,
        )
    }

    struct Idle;
    impl Actor for Idle {
        type Msg = ();
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The sync decoder is total: arbitrary bytes decode or fail, never panic.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = postcard::from_bytes::<SyncMsg>(&bytes);
        }

    }

    /// Whatever a peer sends (valid, invalid, conflicting with local names), the replica stays
    /// internally consistent and never holds a change about its own processes that it did not
    /// make. One node and runtime; proptest drives the scripts.
    #[test]
    fn a_peer_cannot_make_a_replica_inconsistent() {
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let node = Node::new("local@127.0.0.1");
                let cookie = Cookie::new("c").unwrap();
                let dist = Dist::start(&node, DistConfig::new(cookie)).await.unwrap();
                let on_conflict = crate::global::OnConflict::Notify(Arc::new(|_| {}));
                let g =
                    GlobalRegistry::start(&dist, GlobalConfig::new("p").on_conflict(on_conflict))
                        .await
                        .unwrap();
                let local = node.spawn(Idle).await.unwrap().pid();
                let mut runner =
                    proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
                runner
                    .run(&steps(local), |script| {
                        let reg: &Registry = &g;
                        let _ = reg.register(Kind::Name, ("k", 1), local, ());
                        let _ = reg.register(Kind::Counter, ("k", 2), local, 1);
                        let peer = NodeId::from_name("peer@127.0.0.1");
                        for step in script {
                            let mut losers = Vec::new();
                            let mut st = reg.inner.state.lock();
                            match step {
                                Step::Apply(op) => {
                                    reg.apply(&mut st, peer, op, &mut losers);
                                }
                                Step::Merge(state) => reg.merge(&mut st, peer, state, &mut losers),
                                Step::Purge => {
                                    reg.purge_node(&mut st, peer, ExitReason::NoConnection)
                                }
                            }
                            reg.flush(&mut st);
                            drop(st);
                            reg.assert_consistent();
                            // This node's process holds only what it registered itself.
                            for (kind, key) in reg.keys_of(local) {
                                assert!(
                                    (kind, key.clone()) == (Kind::Name, Key::from(("k", 1)))
                                        || (kind, key) == (Kind::Counter, Key::from(("k", 2)))
                                );
                            }
                        }
                        let mut st = reg.inner.state.lock();
                        reg.purge_node(&mut st, peer, ExitReason::NoConnection);
                        drop(st);
                        reg.assert_consistent();
                        Ok(())
                    })
                    .unwrap();
            });
        }
    }
}
