//! Rebalancing: a host with clearly more activations than the cluster's mean moves some of
//! them to the node with the fewest, a few per round, through the keys' coordinators (so a
//! move is the same hand-off as [`Entities::migrate`]: calls in flight are sent again, not
//! failed).

use crate::host::{Entities, Inner};
use std::sync::Weak;
use std::time::Duration;

/// The rpc every host serves: how many activations it runs.
pub(crate) const LIVE: &str = "$entity.live";

/// When and how much a host rebalances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rebalance {
    /// How often a host compares its count with the others' (default 5 s).
    pub every: Duration,
    /// At most this many moves per round (default 16): the rate limit.
    pub max_moves: usize,
    /// A host moves activations only when it runs more than `mean × (1 + tolerance)`
    /// (default 0.2).
    pub tolerance: f64,
}

impl Default for Rebalance {
    fn default() -> Self {
        Rebalance {
            every: Duration::from_secs(5),
            max_moves: 16,
            tolerance: 0.2,
        }
    }
}

impl Entities {
    /// One rebalancing round: returns how many activations were moved away.
    pub async fn rebalance_once(&self, r: &Rebalance) -> usize {
        let dist = &self.inner.dist;
        let mine = self.live() as u64;
        let mut counts = vec![(dist.name().to_string(), mine)];
        for n in dist.nodes() {
            let res: Result<u64, _> = dist.call(&n, LIVE, &(), Duration::from_secs(1)).await;
            if let Ok(c) = res {
                counts.push((n, c));
            }
        }
        if counts.len() < 2 {
            return 0;
        }
        let total: u64 = counts.iter().map(|(_, c)| c).sum();
        let mean = total as f64 / counts.len() as f64;
        if (mine as f64) <= mean * (1.0 + r.tolerance) || (mine as f64) - mean < 1.0 {
            return 0;
        }
        let Some((target, _)) = counts[1..]
            .iter()
            .min_by_key(|(n, c)| (*c, n.clone()))
            .cloned()
        else {
            return 0;
        };
        let excess = ((mine as f64 - mean).floor() as usize).min(r.max_moves);
        let movable: Vec<(&'static str, String)> = self
            .inner
            .live
            .entries
            .lock()
            .values()
            .take(excess)
            .map(|e| (e.kind, e.key.clone()))
            .collect();
        let mut moved = 0;
        for (kind, key) in movable {
            match self.move_to(kind, &key, &target).await {
                Ok(_) => moved += 1,
                Err(e) => tracing::debug!(kind, key, %target, error = %e, "rebalance: move failed"),
            }
        }
        if moved > 0 {
            tracing::info!(moved, %target, "rebalanced entities");
        }
        moved
    }
}

/// Runs [`Entities::rebalance_once`] every `r.every` while the host lives.
pub(crate) async fn rebalancing(inner: Weak<Inner>, r: Rebalance) {
    let mut tick = tokio::time::interval(r.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        Entities { inner }.rebalance_once(&r).await;
    }
}
