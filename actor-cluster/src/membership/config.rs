//! How membership is configured: heartbeats and health thresholds, the split-brain strategy,
//! the stable-after period, what a downed side does.

use super::lease::Lease;
use std::sync::Arc;
use std::time::Duration;

/// The rule that decides which side of a partition keeps working. Every node of a side
/// evaluates it on the same picture, so every node of a side reaches the same decision.
///
/// `M` below is the set of *up* members (optionally only those with a role), `K` the side: the
/// clean, fully connected group of up members this node belongs to.
#[derive(Clone)]
pub enum Strategy {
    /// Akka's keep-majority (the seeds' "winner takes all"): `K` is quorate when it holds more
    /// than half of `M`; with exactly half, the side holding the lowest-named member of `M`
    /// wins, so two halves never both win.
    KeepMajority {
        /// Count only members with this role (`None`: every member).
        role: Option<String>,
    },
    /// Akka's keep-oldest: the side with the oldest member (earliest start stamp; ties by
    /// name) is quorate.
    KeepOldest {
        /// When the oldest is alone on its side and the others are all together, the oldest
        /// downs itself and the others win (Akka's `down-if-alone`).
        down_if_alone: bool,
    },
    /// Akka's static-quorum: a side with at least `size` members is quorate. `size` must be
    /// more than half of the largest cluster you run, or two sides may both be quorate.
    StaticQuorum {
        /// The smallest quorate side.
        size: usize,
        /// Count only members with this role.
        role: Option<String>,
    },
    /// A configured master node: the side holding it is quorate (the seeds' "configured
    /// master"); without it, no side is.
    Master(String),
    /// Akka's lease-majority: a fully connected cluster is quorate; a partitioned side is
    /// quorate only while the lease holder is one of its members. A free lease is taken by
    /// the first side to ask; a minority side asks only after `minority_delay` (so the
    /// majority, asking at once, normally wins it). The holder keeps it across heals.
    LeaseMajority {
        /// The lease (one per cluster).
        lease: Arc<dyn Lease>,
        /// How long a side that is not a majority waits before trying to take the lease.
        minority_delay: Duration,
    },
    /// Any partition downs every side (Akka's down-all): only a fully connected cluster is
    /// quorate.
    DownAll,
    /// No automatic decision: only a fully connected cluster is quorate, and a partitioned
    /// side stays [`Deciding`](super::QuorumState::Deciding) (read-only, never stopped) until
    /// an operator downs the nodes of the other side with
    /// [`Membership::down`](super::Membership::down); then the remaining side is whole and
    /// quorate (nodes dropped to end an overlapping partition are not fenced off either:
    /// the operator decides).
    Manual,
}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Strategy::KeepMajority { role } => write!(f, "KeepMajority({role:?})"),
            Strategy::KeepOldest { down_if_alone } => write!(f, "KeepOldest({down_if_alone})"),
            Strategy::StaticQuorum { size, role } => write!(f, "StaticQuorum({size}, {role:?})"),
            Strategy::Master(m) => write!(f, "Master({m})"),
            Strategy::LeaseMajority { minority_delay, .. } => {
                write!(f, "LeaseMajority(delay {minority_delay:?})")
            }
            Strategy::DownAll => f.write_str("DownAll"),
            Strategy::Manual => f.write_str("Manual"),
        }
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::KeepMajority { role: None }
    }
}

/// What a node does once its side has been decided down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DownAction {
    /// Stay up and read-only: the quorum state says [`Minority`](super::QuorumState::Minority)
    /// and write paths get [`NotQuorate`](super::NotQuorate) until the partition heals, then
    /// the node is quorate again. Members are never removed by a partition decision.
    #[default]
    ReadOnly,
    /// Leave: distribution is shut down on the downed node (no connection comes up again)
    /// and [`MemberEvent::Downed`](super::MemberEvent::Downed) tells the application to stop;
    /// the winning side removes the downed members, which may come back only as a new
    /// incarnation (a restarted node). Akka's model.
    Stop,
}

/// Membership settings. Durations default from the node's tick time
/// ([`Dist::tick_time`](actor_dist::Dist::tick_time)), written `T` below.
#[derive(Clone, Debug)]
pub struct MembershipConfig {
    /// This node's roles (exchanged; a strategy may count only members with a role).
    pub roles: Vec<String>,
    /// How often each peer is asked for its reachability report (a heartbeat). Default `T/8`.
    pub heartbeat: Option<Duration>,
    /// Missed heartbeats after which a peer is degraded. Default 1.
    pub degraded_after: u32,
    /// Missed heartbeats after which a peer is unhealthy (unreachable). Default 5; at least
    /// `degraded_after + 3` (a node stops counting a degraded peer on its own side before any
    /// node reads it as unreachable: that gap is what keeps a cut-off node from being quorate
    /// while the others already count it out).
    pub unhealthy_after: u32,
    /// The split-brain strategy.
    pub strategy: Strategy,
    /// How long the partition picture must stay the same before a side acts on it (drops
    /// nodes of an overlapping partition, declares itself down). Default `T`.
    pub stable_after: Option<Duration>,
    /// When the picture keeps changing for `stable_after` plus this, every node is downed
    /// (Akka's down-all-when-unstable). `None`: never. Default: 3/4 of `stable_after` beyond
    /// the time a cut takes to settle (`(unhealthy_after + 2)` heartbeats).
    pub down_all_when_unstable: Option<Option<Duration>>,
    /// What a downed node does.
    pub down_action: DownAction,
    /// How long a node dropped to resolve an overlapping partition is kept disconnected
    /// before it may try again. Default `2 × stable_after`.
    pub fence: Option<Duration>,
    /// Members (up, counted) needed before anyone is quorate (Akka's `min-nr-of-members`).
    pub min_members: usize,
    /// Start stamp of this node (its age: smaller is older). Default: milliseconds since the
    /// Unix epoch at start. Nodes on hosts whose clocks differ by more than the time between
    /// two starts may be ordered wrongly; ties are broken by name.
    pub started: Option<u64>,
    /// Largest number of members a report may list; larger reports are refused.
    pub max_members: usize,
    /// Tombstones (left or removed incarnations) remembered; the oldest are forgotten.
    pub max_tombstones: usize,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            roles: Vec::new(),
            heartbeat: None,
            degraded_after: 1,
            unhealthy_after: 5,
            strategy: Strategy::default(),
            stable_after: None,
            down_all_when_unstable: None,
            down_action: DownAction::default(),
            fence: None,
            min_members: 1,
            started: None,
            max_members: 1024,
            max_tombstones: 1024,
        }
    }
}

impl MembershipConfig {
    /// The defaults: keep-majority, read-only when downed, durations from the tick time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the strategy.
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }

    /// Sets `stable_after`.
    pub fn stable_after(mut self, d: Duration) -> Self {
        self.stable_after = Some(d);
        self
    }

    /// Sets the heartbeat interval.
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = Some(d);
        self
    }

    /// Sets what a downed node does.
    pub fn down_action(mut self, a: DownAction) -> Self {
        self.down_action = a;
        self
    }

    /// Sets the roles of this node.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets down-all-when-unstable (`None`: never).
    pub fn down_all_when_unstable(mut self, extra: Option<Duration>) -> Self {
        self.down_all_when_unstable = Some(extra);
        self
    }

    /// Sets the fence of nodes dropped from an overlapping partition.
    pub fn fence(mut self, d: Duration) -> Self {
        self.fence = Some(d);
        self
    }

    /// Sets the members (up, counted) needed before anyone is quorate (Akka's
    /// `min-nr-of-members`): set it to a majority of the cluster's expected size so that nodes
    /// starting alone do not count themselves quorate before they meet (cluster singletons
    /// would start on each).
    pub fn min_members(mut self, n: usize) -> Self {
        self.min_members = n;
        self
    }

    /// Sets the start stamp (age) of this node.
    pub fn started(mut self, stamp: u64) -> Self {
        self.started = Some(stamp);
        self
    }
}

/// The configuration with every duration resolved against the tick time.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub heartbeat: Duration,
    pub degraded_after: u32,
    pub unhealthy_after: u32,
    pub stable_after: Duration,
    pub down_all_after: Option<Duration>,
    pub fence: Duration,
    pub call_timeout: Duration,
}

impl Resolved {
    pub(crate) fn new(cfg: &MembershipConfig, tick: Duration) -> Resolved {
        let heartbeat = cfg
            .heartbeat
            .unwrap_or(tick / 8)
            .max(Duration::from_millis(1));
        let stable_after = cfg.stable_after.unwrap_or(tick);
        let degraded_after = cfg.degraded_after.max(1);
        let unhealthy_after = cfg.unhealthy_after.max(degraded_after + 3);
        Resolved {
            heartbeat,
            degraded_after,
            unhealthy_after,
            stable_after,
            down_all_after: cfg.down_all_when_unstable.unwrap_or(Some(
                stable_after * 3 / 4 + heartbeat * (unhealthy_after + 2),
            )),
            fence: cfg.fence.unwrap_or(stable_after * 2),
            call_timeout: tick.max(heartbeat * 4),
        }
    }
}
