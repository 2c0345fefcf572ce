//! Traffic per peer node: frames and bytes sent and received, for metrics.
//!
//! Each connection counts its own traffic (frames as they are queued, under the outbound
//! lock it takes anyway; bytes as they arrive; no extra work per message beyond an add).
//! When a connection goes down its counts are folded into per-node totals, so the totals a
//! node reports for a peer only grow across reconnects (Prometheus counters). The totals of
//! nodes no longer connected are kept for at most [`MAX_PAST_PEERS`] nodes: past that, the
//! totals of disconnected nodes are dropped (their series end).

use super::Dist;
use actor_core::NodeId;
use std::collections::HashMap;

/// Nodes whose traffic totals are kept once every connection to them is gone.
pub const MAX_PAST_PEERS: usize = 1024;

/// Frames and bytes exchanged with one peer node since this node started (all its
/// connections to that node added up). Frames are logical: a large frame sent in fragments
/// counts once. Bytes include length prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerTraffic {
    /// The peer's name.
    pub node: String,
    /// Whether it is connected now.
    pub connected: bool,
    /// Frames queued to it.
    pub frames_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Frames read from it.
    pub frames_in: u64,
    /// Bytes read from it.
    pub bytes_in: u64,
}

impl PeerTraffic {
    fn add(&mut self, (fo, bo, fi, bi): (u64, u64, u64, u64)) {
        self.frames_out += fo;
        self.bytes_out += bo;
        self.frames_in += fi;
        self.bytes_in += bi;
    }
}

/// Totals of connections that went down, per node.
pub(crate) type PastTraffic = HashMap<NodeId, PeerTraffic>;

/// Folds a closed connection's counts into `past`, keeping at most `cap` nodes that are not
/// in `live` (dropping those first when over).
pub(crate) fn fold(
    past: &mut PastTraffic,
    peer: NodeId,
    name: &str,
    counts: (u64, u64, u64, u64),
    live: impl Fn(NodeId) -> bool,
    cap: usize,
) {
    let e = past.entry(peer).or_insert_with(|| PeerTraffic {
        node: name.to_string(),
        ..Default::default()
    });
    e.add(counts);
    if past.len() > cap {
        past.retain(|n, _| live(*n) || *n == peer);
        if past.len() > cap {
            past.retain(|n, _| live(*n));
        }
    }
}

impl Dist {
    /// Traffic per peer node: connected nodes, and nodes connected earlier (totals since this
    /// node started), sorted by name.
    pub fn traffic(&self) -> Vec<PeerTraffic> {
        let past = self.inner.past_traffic.lock();
        let mut all = past.clone();
        for (id, c) in self.inner.conns.read().iter() {
            if !c.is_up() {
                continue;
            }
            let e = all.entry(*id).or_insert_with(|| PeerTraffic {
                node: c.name.clone(),
                ..Default::default()
            });
            e.connected = true;
            e.add(c.traffic());
        }
        drop(past);
        let mut v: Vec<PeerTraffic> = all.into_values().collect();
        v.sort_by(|a, b| a.node.cmp(&b.node));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_totals_add_up_and_stay_bounded() {
        let mut past = PastTraffic::new();
        let n = |i: u64| NodeId(i);
        fold(&mut past, n(1), "a", (1, 10, 2, 20), |_| false, 3);
        fold(&mut past, n(1), "a", (1, 10, 2, 20), |_| false, 3);
        assert_eq!(past[&n(1)].frames_out, 2);
        assert_eq!(past[&n(1)].bytes_in, 40);
        // Over the cap: disconnected nodes go, the live ones and the one just folded stay.
        for i in 2..=5 {
            fold(&mut past, n(i), "x", (1, 1, 1, 1), |id| id == n(2), 3);
            assert!(past.len() <= 3, "{}", past.len());
        }
        assert!(past.contains_key(&n(2)) && past.contains_key(&n(5)));
    }
}
