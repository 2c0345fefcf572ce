//! The scope's server actor: applies what peers send (discover, state, changes, publish)
//! and notices when they go.

use super::protocol::{Op, SyncMsg};
use super::replication::{Peer, Replication};
use crate::global::{NameConflict, OnConflict};
use crate::key::{Kind, Value};
use crate::registry::{Inner, Registry};
use crate::state::State;
use actor_core::{Actor, Context, Down, ExitReason, NodeId, Pid};
use std::sync::atomic::Ordering;
use std::sync::Weak;

/// Changes per `Ack` message when a full state is sent: a large registry goes in several
/// messages, far below the connection's frame limit.
const STATE_CHUNK: usize = 1024;

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

impl Registry {
    pub(super) fn global(&self) -> &Replication {
        self.inner
            .global
            .as_ref()
            .expect("a sync message reached a registry with global scope")
    }

    /// Whether `from`'s node is connected and visible (hidden nodes are not listed).
    fn visible(&self, from: Pid) -> bool {
        self.global()
            .dist
            .visible_peers()
            .iter()
            .any(|n| NodeId::from_name(n) == from.node)
    }

    /// Tells a hidden node's server that this replica will not be its peer.
    fn refuse_hidden(&self, to: Pid, me: Pid) {
        let g = self.global();
        g.stats.hidden_refused.fetch_add(1, Ordering::Relaxed);
        if let Ok(r) = g.dist.system_ref::<SyncMsg>(to) {
            let _ = r.tell(SyncMsg::Refused {
                from: me,
                scope: g.scope.clone(),
            });
        }
    }

    pub(super) fn malformed(&self, why: &str) {
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
            SyncMsg::Discover {
                from,
                scope,
                hidden,
            } => {
                if !self.valid_sender(from, &scope) {
                    return losers;
                }
                let mut st = self.inner.state.lock();
                if !hidden && !is_peer(&st, from) && !self.visible(from) {
                    drop(st);
                    self.refuse_hidden(from, me);
                    return losers;
                }
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
                // Only a peer that discovered us (visible, or hidden and opted in) or a
                // visible node we discovered sends its state.
                if !is_peer(&st, from) && !self.visible(from) {
                    drop(st);
                    self.refuse_hidden(from, me);
                    return losers;
                }
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
                    if let Some(p) = st.peers.get_mut(&from.node) {
                        p.merged = true;
                    }
                    self.flush(&mut st);
                    g.changed.notify_waiters();
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
            SyncMsg::Settle {
                from,
                kind,
                key,
                loser,
                loser_at,
                winner,
                winner_at,
                both,
            } => {
                let mut st = self.inner.state.lock();
                if !is_peer(&st, from) {
                    g.stats.stale.fetch_add(1, Ordering::Relaxed);
                    return losers;
                }
                self.settle_local(
                    &mut st,
                    kind,
                    key,
                    (loser, loser_at),
                    (winner, winner_at),
                    both,
                    &mut losers,
                );
                self.flush(&mut st);
            }
            SyncMsg::Refused { from, scope } => {
                if !self.valid_sender(from, &scope) {
                    return losers;
                }
                tracing::debug!(scope = %g.scope, node = %from.node, "refused as a hidden node");
                self.inner.state.lock().refused_by.insert(from.node);
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
            .visible_peers()
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
                merged: false,
            },
        );
        g.changed.notify_waiters();
        Added::New
    }

    /// Sends the full state of this node's processes to the server `to`, in chunks, on the
    /// system lane.
    fn send_state(&self, st: &State, to: Pid, me: Pid) {
        let Some(peer) = st.peers.get(&to.node) else {
            return;
        };
        let g = self.global();
        let state = self.local_state(st);
        // Chunks taken from the front by moving, not by `split_off` (which copies the rest
        // each time: quadratic in the state's size, minutes for a million names).
        let mut left = state.len();
        let mut ops = state.into_iter();
        loop {
            let chunk: Vec<Op> = ops.by_ref().take(STATE_CHUNK).collect();
            left -= chunk.len();
            let more = left > 0;
            let msg = SyncMsg::Ack {
                from: me,
                scope: g.scope.clone(),
                state: chunk,
                more,
            };
            if !g.send_to(peer, msg, "registry state") || !more {
                return;
            }
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
