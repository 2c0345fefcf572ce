//! **Global locks** (OTP's `global:set_lock`, `global:del_lock`, `global:trans`) and **leader
//! election** built on them.
//!
//! Every node runs a lock server ([`Locks::start`]). A lock is taken on a resource id for a
//! process, the **holder**, on behalf of a **requester** ([`LockId`]): processes with the same
//! requester share the lock, as with OTP's `{ResourceId, LockRequesterId}`; another requester
//! waits. [`Locks::set_lock`] takes the lock on this node and every connected visible node
//! (OTP's default `[node() | nodes()]`) and returns once it holds it on all of them.
//!
//! # Semantics
//!
//! - **Released when the holder goes**: every lock server monitors the holders it granted
//!   to; when a holder exits, or its node goes down, its locks are freed on every node and the
//!   next waiter gets them. A [`LockGuard`] also releases when dropped (keep the lock for the
//!   life of the process with [`LockGuard::keep`]).
//! - **No deadlock between nodes**: a lock is taken on the nodes one after the other in the
//!   order of their names, and each server queues waiters first come, first served. A request
//!   waiting on one node holds only nodes that sort before it, so two requests can never wait
//!   for each other. (OTP's `global` takes all nodes at once and retries after a random sleep;
//!   queueing in one order needs no retries and no randomness.)
//! - **Bounded**: a server takes at most [`LockConfig::max_resources`] resources and
//!   [`LockConfig::max_waiters`] waiters per resource; beyond that requests fail with
//!   [`LockError::Refused`]. A caller that gives up (timeout) releases what it took and
//!   withdraws from the queues.
//! - **Within the timeout, every step**: finding a node's lock server, asking it and
//!   releasing are all bounded by the caller's deadline; [`Locks::set_lock`] returns by then
//!   (OTP's `set_lock(Id, Nodes, Retries)` answers `false` when its retries run out). A node
//!   the distribution layer does not count as up (down, or a connection being set up again
//!   after a cut) is **absent**: it is neither locked nor dialled, so one unreachable node does
//!   not stall the others. A node that is cut silently still counts as up until its ticks
//!   time out: a request queued there makes the attempt fail with [`LockError::Timeout`]
//!   (rather than wait past the deadline), and once that node is down the others lock
//!   without it.
//! - **Nothing is left behind by a failed attempt**: whatever fails (timeout, `Busy`, a refusal,
//!   the caller dropping the future), the attempt releases the lock on every node it asked,
//!   including the one whose answer it did not wait for (granted there late, it is freed
//!   there), as OTP releases the partially taken locks before it retries.
//! - **Releases are ordered with table exchanges**: a guard releases through its own node's
//!   lock server, which forwards the release to the other nodes. A release is thus sent to a
//!   peer after any table its server sent before (see *After a partition*), never overtaken
//!   by one, which would re-assert a lock that was already let go. Each attempt carries a
//!   tag and its release lets go of that attempt only, so a release that arrives after the
//!   same holder's next request (they travel by different paths) does not undo it.
//! - **Nodes that leave**: a node that goes down while a lock is being taken is skipped (it is
//!   no longer part of the cluster), and its server frees the locks of the processes of nodes
//!   it lost; nodes that were not connected when the lock was taken are not locked.
//! - **After a partition**: both sides may have granted the same resource (each side locks
//!   the nodes it sees). When the nodes meet again their servers exchange the locks their own
//!   processes hold; the lower requester id (by name, on every node alike) keeps the lock and
//!   the holders of the other get an exit signal `lock_lost`. A release that was lost in the
//!   partition is recognised (the holder's own node no longer lists it) and applied to what a
//!   node learnt from such an exchange; what a server granted to a request is freed by the
//!   request's release or when the holder's node is lost (a table may predate a request
//!   still on its way, so it is not taken as proof of a release). Pair locks
//!   with the cluster's quorum state when a side must not act while it is in the minority.
//!
//! # Example
//!
//! ```
//! # use actor_core::{Actor, Context, Node};
//! # use actor_dist::{Cookie, Dist, DistConfig};
//! # use actor_cluster::locks::{LockId, Locks};
//! # use std::time::Duration;
//! struct Worker;
//! impl Actor for Worker {
//!     type Msg = ();
//!     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
//! }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
//!     .await
//!     .unwrap();
//! let locks = Locks::start(&dist).await.unwrap();
//! let me = dist.node().spawn(Worker).await.unwrap().pid(); // the holder: a live process
//! let guard = locks
//!     .set_lock(&LockId::new("invoice-run", "me"), me, Duration::from_secs(1))
//!     .await
//!     .unwrap();
//! assert_eq!(locks.holders("invoice-run").await.map(|h| h.1), Some(vec![me]));
//! guard.release();
//! # });
//! ```

mod leader;
mod protocol;
mod server;
mod table;

pub use leader::Leadership;

use actor_core::{ActorRef, CallError, Pid, SpawnError};
use actor_dist::Dist;
use parking_lot::Mutex;
use protocol::{Grant, LockMsg};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The name the lock server is registered under on every node.
pub const SERVER_NAME: &str = "actor_cluster.locks";

/// A lock: the resource and the requester on whose behalf it is held.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LockId {
    /// What is locked.
    pub resource: String,
    /// Who holds it: processes with one requester id share the lock.
    pub requester: String,
}

impl LockId {
    /// A lock on `resource` for `requester`.
    pub fn new(resource: impl Into<String>, requester: impl Into<String>) -> LockId {
        LockId {
            resource: resource.into(),
            requester: requester.into(),
        }
    }
}

/// Why a lock was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Not taken within the timeout (what was taken meanwhile is released).
    #[error("lock not taken in time")]
    Timeout,
    /// Another requester holds it ([`Locks::try_lock`] only).
    #[error("the lock is held by another requester")]
    Busy,
    /// A server refused: too many waiters or resources, or an id too long.
    #[error("a lock server refused the request (limits)")]
    Refused,
    /// A lock server could not be asked.
    #[error("lock server on {node} failed: {error}")]
    Server {
        /// The node.
        node: String,
        /// Why.
        error: String,
    },
}

/// Limits of one node's lock server.
#[derive(Clone, Copy, Debug)]
pub struct LockConfig {
    /// Resources with a holder or waiters (default 100,000).
    pub max_resources: usize,
    /// Waiters per resource (default 10,000).
    pub max_waiters: usize,
    /// Longest resource or requester id in bytes (default 512).
    pub max_name: usize,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            max_resources: 100_000,
            max_waiters: 10_000,
            max_name: 512,
        }
    }
}

/// Counts of one node's lock server.
#[derive(Debug, Default)]
pub struct LockStats {
    /// Requests granted (at once or after waiting).
    pub granted: AtomicU64,
    /// Requests answered `Busy`.
    pub busy: AtomicU64,
    /// Requests refused by the limits.
    pub refused: AtomicU64,
    /// Holders that lost a lock when a partition healed.
    pub lost: AtomicU64,
    /// Resources in the table now.
    pub resources: AtomicU64,
    /// Processes the server monitors now (holders and waiters).
    pub monitors: AtomicU64,
}

/// A node's handle on the cluster's locks. Cheap to clone.
#[derive(Clone)]
pub struct Locks {
    inner: Arc<Inner>,
}

struct Inner {
    dist: Dist,
    stats: Arc<LockStats>,
    /// Lock servers of other nodes, by node name.
    servers: Mutex<HashMap<String, ActorRef<LockMsg>>>,
    /// This node's lock server.
    local: ActorRef<LockMsg>,
    /// The last attempt's tag.
    attempts: AtomicU64,
}

impl Locks {
    /// Starts this node's lock server with default limits. Run it on every node that takes
    /// part (a node without one is not locked).
    pub async fn start(dist: &Dist) -> Result<Locks, SpawnError> {
        Locks::start_with(dist, LockConfig::default()).await
    }

    /// Starts this node's lock server with `cfg`.
    pub async fn start_with(dist: &Dist, cfg: LockConfig) -> Result<Locks, SpawnError> {
        dist.register::<LockMsg>();
        let stats = Arc::new(LockStats::default());
        let server = server::Server {
            table: table::Table::new(table::Bounds {
                max_resources: cfg.max_resources,
                max_waiters: cfg.max_waiters,
                max_name: cfg.max_name,
            }),
            monitors: HashMap::new(),
            dist: dist.clone(),
            stats: stats.clone(),
        };
        let node = dist.node();
        let me = node.spawn(server).await?;
        node.register(SERVER_NAME, me.pid())
            .map_err(|e| SpawnError::Init(actor_core::ExitReason::error(e.to_string())))?;
        let inner = Arc::new(Inner {
            dist: dist.clone(),
            stats,
            servers: Mutex::new(HashMap::new()),
            local: me.clone(),
            attempts: AtomicU64::new(0),
        });
        inner
            .servers
            .lock()
            .insert(dist.name().to_string(), me.clone());
        // When a node comes up, the two servers exchange the locks their processes hold.
        let mut events = dist.subscribe();
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let locks = Locks { inner };
                match ev {
                    actor_dist::NodeEvent::Up(info) => {
                        locks.inner.servers.lock().remove(&info.name);
                        if let Some(peer) = locks.server_of(&info.name).await {
                            let _ = me.tell(LockMsg::SyncWith { peer: peer.pid() });
                        }
                    }
                    actor_dist::NodeEvent::Down { node, .. } => {
                        locks.inner.servers.lock().remove(&node);
                    }
                    _ => {}
                }
            }
        });
        Ok(Locks { inner })
    }

    /// The server's counts.
    pub fn stats(&self) -> &LockStats {
        &self.inner.stats
    }

    /// Whether `node` takes part in locks now: this node, or a connected visible node. A node
    /// that is down or being reconnected is absent (not dialled).
    fn is_up(&self, node: &str) -> bool {
        node == self.inner.dist.name() || self.inner.dist.nodes().iter().any(|n| n == node)
    }

    /// The lock server of `node` if the node is up and runs one, looked up by `deadline`
    /// (`Err` when the lookup did not finish by then).
    async fn server_by(
        &self,
        node: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Option<ActorRef<LockMsg>>, LockError> {
        if !self.is_up(node) {
            return Ok(None);
        }
        tokio::time::timeout_at(deadline, self.server_of(node))
            .await
            .map_err(|_| LockError::Timeout)
    }

    /// The lock server of `node`, if it runs one and answers.
    async fn server_of(&self, node: &str) -> Option<ActorRef<LockMsg>> {
        if let Some(r) = self.inner.servers.lock().get(node) {
            return Some(r.clone());
        }
        let pid = self.inner.dist.whereis_on(node, SERVER_NAME).await.ok()??;
        let r = self.inner.dist.system_ref::<LockMsg>(pid).ok()?;
        self.inner
            .servers
            .lock()
            .insert(node.to_string(), r.clone());
        Some(r)
    }

    /// This node and the connected visible nodes, in the order locks are taken.
    fn lock_nodes(&self) -> Vec<String> {
        let mut nodes = self.inner.dist.nodes();
        nodes.push(self.inner.dist.name().to_string());
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Takes `id` for `holder` on every node (OTP `global:set_lock`), waiting up to `timeout`
    /// for other requesters to release it. The lock is held until the guard is released or
    /// dropped, or until `holder` exits.
    pub async fn set_lock(
        &self,
        id: &LockId,
        holder: Pid,
        timeout: Duration,
    ) -> Result<LockGuard, LockError> {
        self.acquire(id, holder, true, timeout).await
    }

    /// Takes `id` for `holder` only if no other requester holds it anywhere (OTP's
    /// `set_lock` with zero retries).
    pub async fn try_lock(&self, id: &LockId, holder: Pid) -> Result<LockGuard, LockError> {
        self.acquire(id, holder, false, Duration::from_secs(10))
            .await
    }

    async fn acquire(
        &self,
        id: &LockId,
        holder: Pid,
        wait: bool,
        timeout: Duration,
    ) -> Result<LockGuard, LockError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Unique per attempt: this node's id in the high half, so that attempts for the same
        // holder made through different nodes do not share a tag.
        let n = self.inner.attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let tag = (self.inner.dist.node().id().0 << 32) | (n & u64::from(u32::MAX));
        let mut guard = LockGuard {
            locks: self.clone(),
            resource: id.resource.clone(),
            holder,
            tag: Some(tag),
            servers: Vec::new(),
            kept: false,
        };
        for node in self.lock_nodes() {
            // Down since listed, or not running locks: absent.
            let Some(server) = self.server_by(&node, deadline).await? else {
                continue;
            };
            // Released by the guard whatever becomes of this request (an error, a timeout, or
            // this future dropped while it waits): a late grant there is freed.
            guard.servers.push(server.clone());
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let res = server
                .call(
                    |reply| LockMsg::Acquire {
                        resource: id.resource.clone(),
                        requester: id.requester.clone(),
                        holder,
                        tag,
                        wait,
                        reply,
                    },
                    left,
                )
                .await;
            match res {
                Ok(Grant::Granted) => {}
                // The guard releases every node asked so far, this one too (a no-op there).
                Ok(Grant::Busy) => return Err(LockError::Busy),
                Ok(Grant::Refused) => return Err(LockError::Refused),
                // It may be queued or granted there: the guard withdraws it with the others.
                Err(CallError::Timeout) => return Err(LockError::Timeout),
                // Gone, or it dropped our request: a server does that only when it lost our
                // holder, i.e. its node lost ours (a cut being detected). Skipped, as a node
                // that goes down while the lock is taken.
                // (It stays in the guard: a release there is harmless.)
                Err(CallError::NodeDown(_)) | Err(CallError::Exit(_)) | Err(CallError::NoReply) => {
                    self.inner.servers.lock().remove(&node);
                    if node == self.inner.dist.name() {
                        return Err(LockError::Server {
                            node,
                            error: "this node's lock server is gone".into(),
                        });
                    }
                }
                Err(e) => {
                    return Err(LockError::Server {
                        node,
                        error: e.to_string(),
                    })
                }
            }
        }
        Ok(guard)
    }

    /// Releases `id`'s resource for `holder` on every node (OTP `global:del_lock`). Finding
    /// the servers of nodes this node has not asked before is bounded by the net tick time;
    /// a node whose server cannot be found in time frees the lock when the holder exits or
    /// its node goes down.
    pub async fn del_lock(&self, resource: &str, holder: Pid) {
        let deadline = tokio::time::Instant::now() + self.inner.dist.tick_time();
        let mut peers = Vec::new();
        for node in self.lock_nodes() {
            if node == self.inner.dist.name() {
                continue;
            }
            if let Ok(Some(s)) = self.server_by(&node, deadline).await {
                peers.push(s);
            }
        }
        self.release_on(resource, holder, None, peers);
    }

    /// Releases `resource` for `holder` here and on `peers`, through this node's server (so
    /// the release is ordered after any table that server sent them).
    fn release_on(
        &self,
        resource: &str,
        holder: Pid,
        tag: Option<u64>,
        peers: Vec<ActorRef<LockMsg>>,
    ) {
        let local = self.inner.local.pid();
        let peers: Vec<Pid> = peers
            .iter()
            .map(|s| s.pid())
            .filter(|p| *p != local)
            .collect();
        let msg = LockMsg::ReleaseAll {
            resource: resource.to_string(),
            holder,
            tag,
            peers,
        };
        if let Err(e) = self.inner.local.tell(msg) {
            // This node's server is gone (shutting down): tell the peers directly.
            if let LockMsg::ReleaseAll { peers, .. } = e.into_inner() {
                for p in peers {
                    if let Ok(r) = self.inner.dist.system_ref::<LockMsg>(p) {
                        let _ = r.tell(LockMsg::Release {
                            resource: resource.to_string(),
                            holder,
                            tag,
                        });
                    }
                }
            }
        }
    }

    /// Runs `f` while holding `id` (OTP `global:trans`): the lock is taken first (or the
    /// error returned without running `f`) and released after `f`, whatever it returns.
    pub async fn trans<T, F>(
        &self,
        id: &LockId,
        holder: Pid,
        timeout: Duration,
        f: F,
    ) -> Result<T, LockError>
    where
        F: std::future::Future<Output = T>,
    {
        let guard = self.set_lock(id, holder, timeout).await?;
        let out = f.await;
        guard.release();
        Ok(out)
    }

    /// The requester and holders of `resource` as this node's server records them.
    pub async fn holders(&self, resource: &str) -> Option<(String, Vec<Pid>)> {
        let me = self.server_of(self.inner.dist.name()).await?;
        me.call(
            |reply| LockMsg::Holders {
                resource: resource.to_string(),
                reply,
            },
            Duration::from_secs(5),
        )
        .await
        .ok()
        .flatten()
    }
}

/// A lock held on a set of nodes; released when dropped, unless [`kept`](LockGuard::keep).
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    locks: Locks,
    resource: String,
    holder: Pid,
    /// The attempt that took it: the release lets go of that attempt only.
    tag: Option<u64>,
    servers: Vec<ActorRef<LockMsg>>,
    kept: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("resource", &self.resource)
            .field("holder", &self.holder)
            .field("nodes", &self.servers.len())
            .finish()
    }
}

impl LockGuard {
    /// The locked resource.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Releases the lock now on the nodes it was taken on.
    pub fn release(self) {
        drop(self)
    }

    /// Keeps the lock until the holder exits or [`Locks::del_lock`] (OTP's lifetime of a lock).
    pub fn keep(mut self) {
        self.kept = true;
    }

    fn release_now(&mut self) {
        let servers = std::mem::take(&mut self.servers);
        if !servers.is_empty() {
            self.locks
                .release_on(&self.resource, self.holder, self.tag, servers);
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.kept {
            self.release_now();
        }
    }
}

/// Counts for tests: resources and monitors of this node's server.
impl Locks {
    /// Resources this node's server has a holder or waiter for.
    pub fn resources(&self) -> u64 {
        self.inner.stats.resources.load(Ordering::Relaxed)
    }
}
