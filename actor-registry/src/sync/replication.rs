//! What makes a registry a replica: the peers, and sending changes to them.

use super::protocol::SyncMsg;
use crate::global::{GlobalStats, OnConflict, Resolver};
use crate::key::{Key, Kind};
use crate::registry::Registry;
use crate::state::State;
use actor_core::{ActorRef, Pid};
use actor_dist::Dist;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A peer replica: its server and the route to it.
pub(crate) struct Peer {
    pub(crate) server: Pid,
    pub(crate) route: ActorRef<SyncMsg>,
    pub(crate) name: String,
    /// This replica has merged the peer's full state.
    pub(crate) merged: bool,
}

/// What a registry needs to be a replica of a global scope.
pub(crate) struct Replication {
    pub(crate) dist: Dist,
    pub(crate) scope: String,
    pub(crate) server: OnceLock<Pid>,
    pub(crate) resolver: Option<Resolver>,
    pub(crate) on_conflict: OnConflict,
    /// Conflicts remove the name from both holders (`GlobalConfig::notify_all_name`).
    pub(crate) notify_all_name: bool,
    pub(crate) stats: Arc<GlobalStats>,
    /// Woken when a peer is added or its full state merged (for `GlobalRegistry::sync`).
    pub(crate) changed: tokio::sync::Notify,
    /// This replica's Lamport clock: the last registration stamp it made or saw.
    pub(crate) clock: AtomicU64,
}

/// How far one received stamp may move this replica's clock ahead of itself. A stamp beyond
/// that (a peer with a broken or forged clock, such as one stamping with wall time) still
/// stands for its own registration (which then loses every conflict with a registration
/// stamped normally), but the clock does not follow it: no peer can run it up to its end.
pub(crate) const MAX_LEAP: u64 = 1 << 32;

/// A conflict settled on this replica between two other nodes' processes, for the loser's
/// node (see `SyncMsg::Settle`).
pub(crate) struct Settle {
    pub(crate) kind: Kind,
    pub(crate) key: Key,
    pub(crate) loser: Pid,
    pub(crate) loser_at: u64,
    pub(crate) winner: Pid,
    pub(crate) winner_at: u64,
    pub(crate) both: bool,
}

/// Tells each loser's node (when it is a peer) about the conflicts settled here.
pub(crate) fn send_settles(reg: &Registry, st: &mut State) {
    let settles = std::mem::take(&mut st.settle);
    let Some(g) = &reg.inner.global else { return };
    let Some(&from) = g.server.get() else { return };
    for s in settles {
        let Some(peer) = st.peers.get(&s.loser.node) else {
            continue;
        };
        let msg = SyncMsg::Settle {
            from,
            kind: s.kind,
            key: s.key,
            loser: s.loser,
            loser_at: s.loser_at,
            winner: s.winner,
            winner_at: s.winner_at,
            both: s.both,
        };
        g.send_to(peer, msg, "conflict settlement");
    }
}

impl Replication {
    /// A stamp for a registration made here: the clock, advanced by one.
    pub(crate) fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Advances the clock past a stamp received from a peer (Lamport's receive rule:
    /// `max(local, received) + 1`); a stamp more than [`MAX_LEAP`] ahead is counted in
    /// `GlobalStats::skewed` and only moves the clock by one.
    pub(crate) fn observe(&self, at: u64) {
        let mut skewed = false;
        let _ = self
            .clock
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                skewed = at > c.saturating_add(MAX_LEAP);
                let seen = if skewed { c } else { at };
                Some(c.max(seen).saturating_add(1))
            });
        if skewed {
            self.stats.skewed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Sends the changes queued under the lock to every peer, in order, on the system lane.
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
    /// Sends `msg` to `peer`'s server on the system lane; `false` if the connection is going
    /// away (its node-down then purges the peer, which resyncs when it reconnects).
    pub(crate) fn send_to(&self, peer: &Peer, msg: SyncMsg, what: &str) -> bool {
        // Replication goes on the connection's system lane (`Dist::system_ref`): never refused
        // for room, so user data filling the link cannot turn into a partition. A failure here
        // is a connection already going down (its node-down purges and resyncs the peer) or a
        // message that does not encode: counted and logged; the connection is left alone.
        let Err(e) = peer.route.tell(msg) else {
            return true;
        };
        tracing::warn!(peer = %peer.name, error = %e, "{what} not sent");
        self.stats.send_failures.fetch_add(1, Ordering::Relaxed);
        false
    }
}
