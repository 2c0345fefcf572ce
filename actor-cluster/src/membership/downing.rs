//! Operator downing (Akka's `Cluster.down(address)`): a node marked down cluster-wide by a
//! person or a tool, whatever the strategy says; the way out of a partition under
//! [`Strategy::Manual`](super::Strategy::Manual).

use super::config::DownAction;
use super::driver::Input;
use super::view::MemberEvent;
use super::wire::{DownNotice, DOWN_FN};
use super::{Membership, Shared};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Why [`Membership::down`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownError {
    /// This node knows no member by that name.
    #[error("no member named {0}")]
    UnknownMember(String),
    /// This node's membership is no longer running.
    #[error("membership stopped")]
    Stopped,
}

/// Applies a down notice on this node: the downed peer is removed (tombstoned: its
/// incarnation is never counted again; its connection stays, for a read-only node's reads);
/// when it names this node, the node is
/// downed: read-only for good, or its distribution shut down (per [`DownAction`]).
pub(crate) fn apply(shared: &Arc<Shared>, d: &DownNotice) -> bool {
    let mut st = shared.st.lock();
    if d.name == shared.me.name {
        if d.creation != shared.me.creation {
            return false;
        }
        if st.leaving {
            // Left: a peer that still dials this node (a seed) tells it it is not a member.
            return true;
        }
        if !st.operator_downed {
            st.operator_downed = true;
            st.events.push(MemberEvent::Downed);
            tracing::warn!(node = %shared.me.name, by = %d.by, "membership: downed by an operator");
            if shared.cfg.down_action == DownAction::Stop {
                st.stopped = true;
                drop(st);
                // A heartbeat later, so that the answer to the operator's node leaves first.
                let (dist, after) = (shared.dist.clone(), shared.r.heartbeat);
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    dist.shutdown();
                });
            }
        }
        return true;
    }
    let known = st
        .peers
        .get(&d.name)
        .is_some_and(|p| p.info.creation == d.creation || p.info.creation == 0);
    if known {
        if let Some(p) = st.peers.remove(&d.name) {
            st.tombstone(&d.name, d.creation, shared.cfg.max_tombstones);
            tracing::warn!(node = %shared.me.name, peer = %d.name, by = %d.by, "membership: a member was downed by an operator");
            st.events.push(MemberEvent::Removed(p.info));
        }
        return true;
    }
    st.is_tombstoned(&d.name, d.creation)
}

impl Membership {
    /// Marks `node` down cluster-wide (Akka's `Cluster.down`), whatever the strategy: every
    /// connected node (this one included) removes it from the members for good (its
    /// incarnation is tombstoned, so it is never counted again, and nobody disconnects it;
    /// a restarted node joins anew),
    /// and the node itself, when reachable, goes down as [`MembershipConfig::down_action`]
    /// says: `Stop` shuts its distribution down, `ReadOnly` keeps it up and read-only
    /// ([`QuorumState::Minority`](super::QuorumState::Minority)) until it restarts. Downing
    /// this node's own name downs this node (after telling the others).
    ///
    /// Nodes not connected now are not told; when the downed incarnation connects to a node
    /// that removed it, that node tells it (so a node downed while cut off learns it when the
    /// partition heals). Returns the nodes that applied it (this node first).
    ///
    /// [`MembershipConfig::down_action`]: super::MembershipConfig::down_action
    pub async fn down(&self, node: &str, timeout: Duration) -> Result<Vec<String>, DownError> {
        let sh = &self.shared;
        let creation = if node == sh.me.name {
            sh.me.creation
        } else {
            let st = sh.st.lock();
            match st.peers.get(node) {
                Some(p) => p.info.creation,
                None => return Err(DownError::UnknownMember(node.to_string())),
            }
        };
        let notice = DownNotice {
            name: node.to_string(),
            creation,
            by: sh.me.name.clone(),
        };
        let mut applied = Vec::new();
        let myself = node == sh.me.name;
        if !myself {
            if !self.apply_here(&notice).await? {
                return Err(DownError::UnknownMember(node.to_string()));
            }
            applied.push(sh.me.name.clone());
        }
        // The others, the downed node last (it may shut down on it).
        let mut peers = sh.dist.nodes();
        peers.sort_by_key(|p| p == node);
        for p in peers {
            let ok: Result<bool, _> = sh.dist.call(&p, DOWN_FN, &notice, timeout).await;
            if ok == Ok(true) {
                applied.push(p);
            }
        }
        if myself {
            self.apply_here(&notice).await?;
            applied.insert(0, sh.me.name.clone());
        }
        Ok(applied)
    }

    async fn apply_here(&self, notice: &DownNotice) -> Result<bool, DownError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .inbox
            .send(Input::Down(notice.clone(), Some(tx)))
            .await
            .map_err(|_| DownError::Stopped)?;
        rx.await.map_err(|_| DownError::Stopped)
    }
}

/// Serves [`DOWN_FN`].
pub(crate) fn serve(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    shared.dist.register_rpc(DOWN_FN, move |d: DownNotice| {
        let (tx, rx) = oneshot::channel();
        if let Some(s) = weak.upgrade() {
            s.try_input(Input::Down(d, Some(tx)));
        }
        async move { rx.await.unwrap_or(false) }
    });
}
