//! What a node knows of the members: who they are (age, version, roles), how healthy each
//! looks from here, the events a subscriber gets and the status snapshot.

use super::picture::PartitionPicture;
use super::quorum::QuorumState;
use actor_dist::DownReason;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// Who a member is. Exchanged in reports; fixed for an incarnation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Node name (`name@host`).
    pub name: String,
    /// Incarnation (`Node::creation`): a restarted node is a new incarnation.
    pub creation: u32,
    /// Start stamp: smaller is older ([`MembershipConfig::started`](super::MembershipConfig)).
    pub started: u64,
    /// Application version (`DistConfig::app_version`).
    pub app_version: String,
    /// Roles.
    pub roles: Vec<String>,
}

impl MemberInfo {
    /// Orders members by age, oldest first (start stamp, then name).
    pub fn age_cmp(&self, other: &MemberInfo) -> Ordering {
        (self.started, &self.name).cmp(&(other.started, &other.name))
    }

    /// Whether the member has `role` (`None`: every member has it).
    pub fn has_role(&self, role: Option<&str>) -> bool {
        role.is_none_or(|r| self.roles.iter().any(|x| x == r))
    }
}

/// How a peer looks from this node, by heartbeats it answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Health {
    /// Answering.
    Healthy,
    /// Missed `degraded_after` heartbeats (or its connection just went down): this node no
    /// longer counts it on its own side, but nobody drops it yet.
    Degraded,
    /// Missed `unhealthy_after` heartbeats, or never reached: unreachable from here.
    Unhealthy,
}

/// Where a member stands in this node's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberStatus {
    /// Seen, not yet counted: it becomes up once every known node reaches every other and
    /// knows it (Akka's convergence before `Up`).
    Joining,
    /// Counted by the strategies.
    Up,
}

/// One member in [`MembershipStatus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Who.
    pub info: MemberInfo,
    /// Joining or up.
    pub status: MemberStatus,
    /// Health from here (this node itself: healthy).
    pub health: Health,
    /// Whether a connection to it is up now.
    pub connected: bool,
}

/// A snapshot of this node's membership view ([`Membership::status`](super::Membership::status)).
#[derive(Clone, Debug)]
pub struct MembershipStatus {
    /// This node.
    pub me: MemberInfo,
    /// Every member known (this node included), oldest first.
    pub members: Vec<MemberView>,
    /// The partition picture.
    pub picture: PartitionPicture,
    /// The quorum state.
    pub quorum: QuorumState,
    /// The side the quorum state was judged on: this node and the members it counts with it
    /// now (only peers it heard from recently).
    pub quorum_side: Vec<String>,
    /// The last decision taken on a stable picture.
    pub decision: Option<Decision>,
}

impl MembershipStatus {
    /// Names of the up members.
    pub fn up(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.status == MemberStatus::Up)
            .map(|m| m.info.name.clone())
            .collect()
    }

    /// The oldest up member.
    pub fn oldest(&self) -> Option<&MemberInfo> {
        self.members
            .iter()
            .find(|m| m.status == MemberStatus::Up)
            .map(|m| &m.info)
    }
}

/// The verdict for this node's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The side keeps working.
    Keep,
    /// The side is down: read-only or stopping ([`DownAction`](super::DownAction)).
    Down,
}

/// A decision taken once the picture was stable for `stable_after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The side this node is on (sorted names; this node alone when it was dropped).
    pub side: Vec<String>,
    /// Nodes dropped to resolve an overlapping partition (disconnected from the side).
    pub dropped: Vec<String>,
    /// Up members the decision was measured against.
    pub members: usize,
    /// Keep or down.
    pub verdict: Verdict,
    /// Every side was downed because the picture would not settle.
    pub unstable: bool,
}

/// What a membership subscriber is told ([`Membership::subscribe`](super::Membership::subscribe)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member became up (counted).
    Up(MemberInfo),
    /// A node was seen and is joining.
    Joining(MemberInfo),
    /// A peer's health changed.
    Health {
        /// Which.
        node: String,
        /// Now.
        health: Health,
    },
    /// A member announced its leave; it is no longer counted.
    Left(MemberInfo),
    /// A member was removed by the winning side of a decision (with [`DownAction::Stop`](super::DownAction)).
    Removed(MemberInfo),
    /// A connection to a member went down; `reason` is
    /// [`DownReason::Shutdown`] when the member had announced its leave.
    Down {
        /// Which.
        node: String,
        /// Why.
        reason: DownReason,
    },
    /// The partition picture changed.
    Picture(PartitionPicture),
    /// The quorum state changed.
    Quorum(QuorumState),
    /// A decision on a stable picture.
    Decided(Decision),
    /// This node was decided down with [`DownAction::Stop`](super::DownAction), or downed by
    /// an operator ([`Membership::down`](super::Membership::down)): with `Stop` its
    /// distribution is shut down and the application should stop; with `ReadOnly` (operator
    /// downing only) it stays up, read-only, until it restarts.
    Downed,
    /// A node was disconnected and is kept away for a while (overlapping partition).
    Fenced(String),
}
