//! The replicated receipt log: each key's log on a majority of its replicas, with epochs that
//! fence every older activation (`ENTITIES.md`: Paxos phase 1 / phase 2 per key).
//!
//! # The protocol
//!
//! Every node runs a **replica server** ([`ReplicatedLog::start`]) over its own
//! [`JournalStore`]. A key's **replica set** is `R` members (default 3) chosen by rendezvous
//! hashing of the key over the member list, so every node computes the same set.
//!
//! - **Lazy activation** ([`EntityLog::load`], what the entity host uses) reads the heads of a
//!   majority without writing; when they agree, the activation serves that (committed) state
//!   and holds no epoch until its first write ([`EntityLog::claim`]): phase 1 below, then one
//!   accept of the re-proposed tail and the new receipt, refused (`Fenced`) if the majority's
//!   log moved on from what the activation read. When the heads disagree, the load is an
//!   eager activation. See `lazy.rs` for why this is safe.
//! - **Activation** ([`EntityLog::activate`]) is Paxos phase 1. The client sends
//!   `prepare(key, e)` to the key's replicas; a replica promises `e` durably if it is above
//!   every epoch it promised for the key, and answers with its last position (sequence number
//!   and the epoch of the receipt there) and its last receipts. With promises from a majority
//!   the client holds `e`; refused (`Fenced` by a higher promise) it retries above the highest
//!   promise it heard, with a growing, jittered back-off so that two activations do not duel
//!   for ever. Epochs come only from this exchange: no clock, no local counter.
//! - **Recovery.** Among the majority's answers, the **adopted log** is the most up to date one
//!   (highest epoch of its last receipt, then longest). The client re-proposes its tail under
//!   `e`: the receipts after the point where the least matching answer diverges, and always
//!   at least the last one, each with its `epoch` set to `e`, to every replica, and returns
//!   [`Recovered`] only once a majority accepted them. So a receipt that some replicas
//!   accepted but whose writer never got an acknowledgement is either committed now, or was
//!   overwritten for good; no later activation can resurrect a different history.
//! - **Append** ([`EntityLog::append`]) is phase 2: `accept(key, e, prev = (seq-1, e),
//!   [receipt])` to every replica ([`JournalStore::accept`]); a replica accepts if `e` is at
//!   least its promise and its log holds a receipt of epoch `e` at `seq-1` (the new epoch's own
//!   log), replacing a lower epoch's receipts from `seq` on. The append resolves once a
//!   majority accepted. A replica whose log is behind or diverged (`Diverged`) is **caught up**
//!   inline: the client reads the receipts from a replica that accepted and sends them from an
//!   earlier position, backing off until the logs match.
//! - **Fenced.** Any `Fenced` answer resolves the append (or activation) with
//!   [`LogError::Fenced`](crate::log::LogError::Fenced) at once, and the client refuses every later append of that epoch for
//!   the key without sending it: a fenced activation is never acknowledged afterwards.
//! - **No quorum.** Fewer than a majority accepting within [`ReplicatedConfig::timeout`] (down,
//!   partitioned or slow replicas) is [`LogError::NoQuorum`](crate::log::LogError::NoQuorum). The log never falls back to
//!   fewer replicas; the receipt may still be accepted by some replicas, and the next
//!   activation either commits it or overwrites it.
//!
//! # Why it is safe
//!
//! Two majorities of one replica set intersect. (1) *One epoch, one activation*: a replica
//! promises an epoch once, so at most one activation gathers a majority of promises for `e`.
//! (2) *Log matching*: a replica accepts a receipt of epoch `e` at `s` only if it holds the
//! receipt of epoch `e` at `s-1` (or the batch carries it from a position it holds), and
//! epoch `e` proposes one receipt per sequence number; so two replicas holding a receipt of
//! the same epoch at the same position hold the same log up to there. (3) *Completeness*: a
//! receipt acknowledged under epoch `e` is held by a majority; any later epoch `e' > e`
//! prepared a majority that includes one of them, and adopts the most up-to-date log in its
//! majority, which (by Raft's argument: the last epochs order the logs, and log matching)
//! contains it; re-proposing under `e'` then commits the adopted log before `e'` appends, so
//! the argument carries on to every later epoch. (4) *Fencing*: once a majority promised
//! `e' > e`, no majority can accept for `e` (it would have to include a replica that
//! promised `e'`). The model check in `tests/replicated_model.rs` explores every
//! interleaving of prepares, accepts, crashes and message loss over three replicas up to a
//! bound and checks that no two receipts are committed at one position, that no acknowledged
//! receipt is lost, and that a fenced activation is never acknowledged afterwards.
//!
//! # Bounds
//!
//! Messages are bounded by [`WireBounds`] (receipts per accept, the tail in a promise,
//! receipts per read, bytes per receipt and key); a longer recovery or catch-up is sent in
//! chunks. A replica server starts at most [`ReplicatedConfig::max_in_flight`] journal
//! operations at once (then its mailbox waits). The client remembers fenced epochs and epoch
//! hints for at most [`ReplicatedConfig::max_tracked_keys`] keys each.
//!
//! # What a user may trip over
//!
//! - **The member list is fixed.** The replica sets are computed from a [`MemberSource`];
//!   by default the members are this node and the nodes connected *when the log starts*
//!   ([`ReplicatedLog::start`]), sorted: start it once the cluster has formed. A member that
//!   goes down stays a member (its keys work with the other replicas of their sets, or report
//!   `NoQuorum`); nodes joining are not used. Changing the replica sets is a reconfiguration
//!   of its own (copy the logs to the new sets, then activate with a higher epoch); doing it
//!   implicitly, as a live member list would, can let two majorities of different sets
//!   miss each other, so it is never done here.
//! - **Clocks are not used.** Epochs come from promises, timeouts only decide when to stop
//!   waiting (from `tokio::time`). Receipt `time` is the writer's wall clock, used only to order
//!   tenant queries.
//! - **Re-proposed receipts change epoch.** A receipt recovered by a new activation is stored
//!   with the new epoch (the epoch that accepted it), same id and content otherwise.
//! - **Reads** ([`EntityLog::entries`], [`EntityLog::by_tenant`]) read what replicas hold:
//!   `entries` the most up-to-date log of a majority, `by_tenant` the union of every member's
//!   answer (merged by receipt id, a receipt superseded at its position by a higher epoch's
//!   dropped). A receipt accepted by a minority and not yet replaced may appear; a linearizable
//!   read goes through the activation.
//! - **Snapshots are per replica.** This log writes none; a snapshot written to one store is
//!   taken to cover acknowledged receipts only, and a replica far behind one is not repaired by
//!   copying it.
//! - **Message types** go over the system lane of the distribution (replication is the
//!   framework's own traffic, not refused when user data fills a connection); the client bounds
//!   its own appends in flight instead.

mod client;
mod lazy;
mod protocol;
mod recovery;
mod replica;

pub use protocol::WireBounds;

use crate::log::{EntityLog, LogFuture, Recovered};
use actor_core::{ActorRef, SpawnError};
use actor_dist::Dist;
use actor_journal::{EntityKey, JournalStore, LogPosition, Receipt};
use parking_lot::Mutex;
use protocol::ReplicaMsg;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// The name the replica server is registered under on every node.
pub const SERVER_NAME: &str = "actor_entity.replica";

/// Where the member list (the nodes that hold replicas) comes from. Every node must see the
/// same list; changing it is a reconfiguration step (see the module docs).
pub trait MemberSource: Send + Sync + 'static {
    /// The members' node names.
    fn members(&self) -> Vec<String>;
}

/// A fixed member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMembers(pub Vec<String>);

impl MemberSource for StaticMembers {
    fn members(&self) -> Vec<String> {
        self.0.clone()
    }
}

/// How a [`ReplicatedLog`] runs.
#[derive(Clone)]
pub struct ReplicatedConfig {
    /// Replicas per key (default 3; 1 for a single-node demo). A majority is
    /// `replicas / 2 + 1`.
    pub replicas: usize,
    /// The member list; `None`: this node and the nodes connected at start, sorted.
    pub members: Option<Arc<dyn MemberSource>>,
    /// How long an activation or append waits for a majority.
    pub timeout: Duration,
    /// Limits on messages.
    pub bounds: WireBounds,
    /// Journal operations the replica server runs at once, at most.
    pub max_in_flight: usize,
    /// Appends this client has in flight at once, at most (then `append` waits).
    pub max_appends: usize,
    /// Keys whose fenced epoch and epoch hint the client remembers, at most.
    pub max_tracked_keys: usize,
    /// Seed of the back-off jitter of competing activations.
    pub seed: u64,
}

impl Default for ReplicatedConfig {
    fn default() -> Self {
        ReplicatedConfig {
            replicas: 3,
            members: None,
            timeout: Duration::from_secs(5),
            bounds: WireBounds::default(),
            max_in_flight: 8192,
            max_appends: 8192,
            max_tracked_keys: 100_000,
            seed: 0x5eed,
        }
    }
}

/// Counters of one node's replicated log (client and replica server).
#[derive(Debug, Default)]
pub struct ReplicaStats {
    /// Prepares the replica server served.
    pub prepares: AtomicU64,
    /// Head reads (lazy activations) the replica server served.
    pub heads: AtomicU64,
    /// Accepts the replica server served.
    pub accepts: AtomicU64,
    /// Requests the replica server refused as invalid (bounds, bad receipts).
    pub invalid: AtomicU64,
    /// Epochs this client took: eager activations and lazy activations' first writes.
    pub activations: AtomicU64,
    /// Lazy activations: a majority's heads read and agreed, no epoch taken.
    pub loads: AtomicU64,
    /// Lazy reads that found the majority's heads disagreeing (a write in flight or not
    /// everywhere yet) and took an epoch at once, committing the adopted log.
    pub eager_loads: AtomicU64,
    /// Claims refused because a majority's log had moved on from what the activation read.
    pub stale_claims: AtomicU64,
    /// Prepare rounds refused by a higher promise and retried.
    pub prepare_retries: AtomicU64,
    /// Receipts re-proposed by recoveries.
    pub reproposed: AtomicU64,
    /// Appends acknowledged by a majority.
    pub appends: AtomicU64,
    /// Operations that ended `Fenced`.
    pub fenced: AtomicU64,
    /// Operations that ended `NoQuorum`.
    pub no_quorum: AtomicU64,
    /// Replicas caught up (sent receipts from an earlier position).
    pub catch_ups: AtomicU64,
}

/// A receipt log kept on a majority of each key's replicas (see the module docs). Cheap to
/// clone.
///
/// ```no_run
/// use actor_core::Node;
/// use actor_dist::{Cookie, Dist, DistConfig};
/// use actor_entity::log::EntityLog;
/// use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog};
/// use actor_journal::{EntityKey, JournalConfig, RedbJournal};
/// use std::sync::Arc;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let node = Node::new("a@127.0.0.1");
/// let dist = Dist::start(&node, DistConfig::new(Cookie::new("c")?)).await?;
/// // ... connect to the other members first: the member list is fixed at start.
/// let journal = Arc::new(RedbJournal::open(JournalConfig::temporary())?);
/// let log = ReplicatedLog::start(&dist, journal, ReplicatedConfig::default()).await?;
/// let held = log.activate(&EntityKey::new("account", "acme")).await?;
/// println!("epoch {} after seq {}", held.epoch, held.last_seq);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ReplicatedLog {
    inner: Arc<Inner>,
}

struct Inner {
    dist: Dist,
    config: ReplicatedConfig,
    members: Arc<dyn MemberSource>,
    stats: Arc<ReplicaStats>,
    /// Replica servers by node name.
    servers: Mutex<HashMap<String, ActorRef<ReplicaMsg>>>,
    /// Per key, the highest epoch this client knows to be fenced.
    fenced: Mutex<HashMap<EntityKey, u64>>,
    /// Per key, the highest epoch this client has seen promised.
    hints: Mutex<HashMap<EntityKey, u64>>,
    appends: Arc<tokio::sync::Semaphore>,
    jitter: Mutex<u64>,
}

impl ReplicatedLog {
    /// Starts this node's replica server over `store` (registered as [`SERVER_NAME`]) and
    /// returns the client. Run it on every member.
    pub async fn start(
        dist: &Dist,
        store: Arc<dyn JournalStore>,
        config: ReplicatedConfig,
    ) -> Result<ReplicatedLog, SpawnError> {
        dist.register::<ReplicaMsg>();
        let stats = Arc::new(ReplicaStats::default());
        let server = replica::Replica {
            store,
            bounds: config.bounds,
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
            stats: stats.clone(),
        };
        let node = dist.node();
        let me = node.spawn(server).await?;
        node.register(SERVER_NAME, me.pid())
            .map_err(|e| SpawnError::Init(actor_core::ExitReason::error(e.to_string())))?;
        let members = config.members.clone().unwrap_or_else(|| {
            let mut m = dist.nodes();
            m.push(dist.name().to_string());
            m.sort();
            m.dedup();
            Arc::new(StaticMembers(m))
        });
        let mut servers = HashMap::new();
        servers.insert(dist.name().to_string(), me);
        let seed = config.seed ^ client::hash_bytes(dist.name().as_bytes());
        Ok(ReplicatedLog {
            inner: Arc::new(Inner {
                dist: dist.clone(),
                appends: Arc::new(tokio::sync::Semaphore::new(config.max_appends.max(1))),
                config,
                members,
                stats,
                servers: Mutex::new(servers),
                fenced: Mutex::new(HashMap::new()),
                hints: Mutex::new(HashMap::new()),
                jitter: Mutex::new(seed | 1),
            }),
        })
    }

    /// The counters.
    pub fn stats(&self) -> &ReplicaStats {
        &self.inner.stats
    }

    /// The member list in use, sorted.
    pub fn members(&self) -> Vec<String> {
        let mut m = self.inner.members.members();
        m.sort();
        m.dedup();
        m
    }

    /// The replica set of `key`: the `replicas` members with the highest rendezvous score of
    /// (member, key), highest first. Every node with the same member list computes the same.
    pub fn replicas_of(&self, key: &EntityKey) -> Vec<String> {
        client::rendezvous(&self.members(), key, self.inner.config.replicas.max(1))
    }
}

impl EntityLog for ReplicatedLog {
    fn activate<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        Box::pin(self.activate_key(key))
    }

    fn load<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        Box::pin(self.load_key(key))
    }

    fn claim(&self, receipt: Receipt, read: LogPosition) -> LogFuture<'_, u64> {
        Box::pin(self.claim_receipt(receipt, read))
    }

    fn append(&self, receipt: Receipt) -> LogFuture<'_, ()> {
        Box::pin(self.append_receipt(receipt))
    }

    fn entries<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        Box::pin(self.read_entries(key, after, limit))
    }

    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        Box::pin(self.read_by_tenant(tenant, time, limit))
    }
}

/// Removes an arbitrary entry when `map` is full, so that it stays within `cap`.
fn bounded_insert(map: &mut HashMap<EntityKey, u64>, cap: usize, key: &EntityKey, value: u64) {
    if let Some(v) = map.get_mut(key) {
        *v = (*v).max(value);
        return;
    }
    if map.len() >= cap.max(1) {
        if let Some(k) = map.keys().next().cloned() {
            map.remove(&k);
        }
    }
    map.insert(key.clone(), value);
}
