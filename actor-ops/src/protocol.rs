//! What a node answers operators: the rpc function names and their (postcard) answers.
//!
//! Every answer is a plain struct, so the CLI prints it as a table or as JSON unchanged.

use actor_core::{ActorState, Pid, ProcessInfo};
use serde::{Deserialize, Serialize};

/// `()` → [`NodeReport`].
pub const INFO: &str = "$ops.info";
/// `()` → `Vec<(String, Result<NodeReport, String>)>`: the node asked and every visible node
/// it sees (asked by it), in name order.
pub const CLUSTER: &str = "$ops.cluster";
/// `(kind, pattern, limit)` → `Result<Vec<NameRow>, String>`.
pub const NAMES: &str = "$ops.names";
/// `()` → `Vec<GroupRow>`.
pub const GROUPS: &str = "$ops.groups";
/// `PsQuery` → `Vec<ProcessRow>`.
pub const PROCESSES: &str = "$ops.processes";
/// `Pid` → `Result<ActorState, String>` (a local process of the node asked).
pub const DESCRIBE: &str = "$ops.describe";
/// `(kind, key, receipts)` → `Result<StateReport, String>`.
pub const STATE: &str = "$ops.state";
/// `(Pid, kill)` → `Result<(), String>`.
pub const STOP: &str = "$ops.stop";
/// `(supervisor, json args)` → `Result<Option<Pid>, String>`.
pub const START_CHILD: &str = "$ops.start_child";

/// One node's view of itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// `name@host`.
    pub name: String,
    /// Its incarnation.
    pub creation: u32,
    /// Where it listens for node connections.
    pub listen: std::net::SocketAddr,
    /// Its application version (exchanged in the handshake).
    pub app_version: String,
    /// Milliseconds since operator support was installed on it (about its age).
    pub uptime_ms: u64,
    /// Live processes.
    pub processes: u64,
    /// Messages waiting in all mailboxes.
    pub backlog: u64,
    /// Resident memory in bytes (0 where unknown).
    pub memory: u64,
    /// Connected visible nodes.
    pub visible: Vec<String>,
    /// Connected hidden nodes (tools such as `actorctl`).
    pub hidden: Vec<String>,
    /// Health and readiness as the probes report them.
    pub health: Health,
    /// Frames and bytes exchanged with each peer node (connected now or earlier).
    pub traffic: Vec<actor_dist::PeerTraffic>,
}

/// Health and readiness of one node, as `/health` and `/ready` report them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `/health` answers 200.
    pub healthy: bool,
    /// `/ready` answers 200.
    pub ready: bool,
    /// Why, in a few words.
    pub reason: String,
    /// The quorum state, where a membership layer reports one.
    pub quorum: Option<QuorumState>,
}

/// What a membership layer says about quorum ([`QuorumSource`](crate::QuorumSource)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    /// This node is on the side that may write (`phase` is [`QuorumPhase::Quorate`]).
    pub quorate: bool,
    /// Quorate, deciding or minority.
    pub phase: QuorumPhase,
    /// Members reachable from here, this node included.
    pub reachable: usize,
    /// Members the quorum is counted over.
    pub members: usize,
}

/// The quorum phases of actor-cluster's membership
/// ([`QuorumState`](actor_cluster::membership::QuorumState)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumPhase {
    /// On a side that may write.
    Quorate,
    /// The picture is settling (a peer went silent): read-only until it settles.
    Deciding,
    /// On a losing side, left or stopped: read-only.
    Minority,
}

impl QuorumPhase {
    /// `quorate`, `deciding` or `minority`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumPhase::Quorate => "quorate",
            QuorumPhase::Deciding => "deciding",
            QuorumPhase::Minority => "minority",
        }
    }
}

impl From<actor_cluster::membership::QuorumState> for QuorumPhase {
    fn from(s: actor_cluster::membership::QuorumState) -> Self {
        use actor_cluster::membership::QuorumState as Q;
        match s {
            Q::Quorate => QuorumPhase::Quorate,
            Q::Deciding => QuorumPhase::Deciding,
            Q::Minority => QuorumPhase::Minority,
        }
    }
}

/// One registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRow {
    /// The registry scope.
    pub scope: String,
    /// `name`, `property`, `counter` or `aggregated`.
    pub kind: String,
    /// The key, parts joined with `/`.
    pub key: String,
    /// The holder.
    pub pid: Pid,
    /// The holder's node.
    pub node: String,
    /// The value (empty for none).
    pub value: String,
}

/// One process group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The registry scope.
    pub scope: String,
    /// The group, parts joined with `/`.
    pub group: String,
    /// Its members, in pid order.
    pub members: Vec<Pid>,
}

/// What `ps` asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsQuery {
    /// At most this many rows (capped at 10,000), the longest mailboxes first.
    pub limit: usize,
    /// Ask each listed process for its state (`sys:get_state`), waiting at most this many
    /// milliseconds (capped at 5 s) for all of them; 0: do not ask.
    pub describe_ms: u64,
}

/// One process of `ps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRow {
    /// What the runtime knows.
    pub info: ProcessInfo,
    /// What it said about itself, if asked and it answered in time.
    pub state: Option<ActorState>,
}

/// One receipt of an entity, as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRow {
    /// Position in the entity's log.
    pub seq: u64,
    /// The epoch of the activation that wrote it.
    pub epoch: u64,
    /// Microseconds since the Unix epoch.
    pub time: u64,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Annotations.
    pub metadata: Vec<(String, String)>,
}

/// One entity's current state and last receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReport {
    /// Entity kind.
    pub kind: String,
    /// Entity key.
    pub key: String,
    /// The live activation, if one is named now.
    pub pid: Option<Pid>,
    /// Its node.
    pub node: Option<String>,
    /// What the activation said (`None`: not active, or it did not answer in time).
    pub state: Option<ActorState>,
    /// The last sequence number in the log (0: never written).
    pub last_seq: u64,
    /// The last receipts, oldest first.
    pub receipts: Vec<ReceiptRow>,
}
