//! [`Dist`]: distribution for one node: listener, connections, routing, node events.
//!
//! Split by concept:
//! - `setup`: connection set-up and admission (dial, accept, handshake, crossing connects);
//! - `transport`: TLS over the transport's streams (the transports are in `crate::transport`);
//! - `io`: each connection's reader and writer tasks;
//! - `routing`: the routes installed on the node, reply handles, frame dispatch;
//! - `housekeeping`: heartbeats and liveness, load reports, sweeps, seed reconnects;
//! - `resolve`: the resolver consulted when no address is known for a node, dialling by address;
//! - this file: the `Dist` handle, the node's shared state (`Inner`) and `conn_down`, the
//!   single node-down path.

mod admission;
mod housekeeping;
mod io;
mod resolve;
mod routing;
mod setup;
mod traced;
mod traffic;
mod transport;

pub use resolve::NodeResolver;
pub(crate) use routing::DistRoute;
pub use traffic::{PeerTraffic, MAX_PAST_PEERS};

use housekeeping::{housekeeping, keep_connected};
use routing::Router;
use setup::{accept_loop, wait_up};

use crate::config::DistConfig;
use crate::conn::{Conn, Phase};
use crate::events::{DownReason, NodeEvent, NodeInfo};
use crate::handshake::Identity;
use crate::message::{Decoder, DeliverError, Message, Typed};
use crate::wire::{LoadReport, RemoteSpawnError, RpcFailure};
use actor_core::{
    ActorRef, EncodedRoute, ExitReason, Node, NodeId, Pid, RefError, ReplyDelivery, Signal,
};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// Capacity of each node-event subscription; a subscriber that falls this far behind loses
/// events (counted in [`Stats::events_dropped`]).
const EVENT_QUEUE: usize = 1024;

/// Counters of what the network layer refused or dropped.
#[derive(Debug, Default)]
pub struct Stats {
    /// Frames that did not decode (skipped) or were too large (connection closed).
    pub bad_frames: AtomicU64,
    /// Payloads with a type tag this node does not know.
    pub unknown_tags: AtomicU64,
    /// Messages for dead or wrong-typed local actors.
    pub undelivered: AtomicU64,
    /// Handshakes refused for a wrong cookie.
    pub auth_failures: AtomicU64,
    /// Handshakes that failed for another reason.
    pub setup_failures: AtomicU64,
    /// Messages a peer refused because it does not know their type (each is also logged;
    /// calls among them fail with [`CallError::UnknownType`](actor_core::CallError)).
    pub refused_by_peer: AtomicU64,
    /// Handshakes (of accepted or dialled sockets) that did not finish in `setup_timeout`.
    pub handshake_timeouts: AtomicU64,
    /// Accepted sockets closed at once: every pending socket had authenticated and a bound
    /// (total or per address) was reached.
    pub preauth_refused: AtomicU64,
    /// Unauthenticated sockets closed to make room for newer ones.
    pub preauth_evicted: AtomicU64,
    /// Replies for calls, and spawn or rpc answers for requests, that had already given up
    /// (or that no one here is waiting for).
    pub late_replies: AtomicU64,
    /// Node events a slow subscriber missed.
    pub events_dropped: AtomicU64,
    /// Signals refused because their sender (or, for a `Down`, the process that exited)
    /// does not belong to the peer that sent them, or their target is not on this node
    /// (each is also logged, rate-limited).
    pub forged_signals: AtomicU64,
    /// Spawn or rpc answers refused because they came from another node than the one asked,
    /// or answered a request of the other kind (each is also logged, rate-limited).
    pub forged_answers: AtomicU64,
    /// Spawn and rpc requests refused by the allow-lists (`DistConfig::spawn_allow`,
    /// `DistConfig::rpc_allow`).
    pub refused_requests: AtomicU64,
    /// Entries of peer lists ignored (beyond `DistConfig::max_peer_list`).
    pub peers_ignored: AtomicU64,
    /// Trace contexts refused as malformed (an all-zero trace or span id); the message is
    /// delivered without them (each is also logged, rate-limited).
    pub bad_trace_contexts: AtomicU64,
}

/// A reply handle exported to a peer: which node it went to, and the waiting caller.
type Exported = (NodeId, Box<dyn ReplyDelivery>);

/// An answer to a spawn or rpc request.
pub(crate) enum Answer {
    Spawn(Result<Pid, RemoteSpawnError>),
    Rpc(Result<Vec<u8>, RpcFailure>),
    Down(DownReason),
}

/// What a pending request asked for: only an answer of that kind is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Asked {
    Spawn,
    Rpc,
}

impl Asked {
    fn matches(self, a: &Answer) -> bool {
        matches!(
            (self, a),
            (Asked::Spawn, Answer::Spawn(_)) | (Asked::Rpc, Answer::Rpc(_))
        )
    }
}

/// A request waiting for its answer: the node asked, what was asked, the waiting caller.
type Pending = (NodeId, Asked, oneshot::Sender<Answer>);

pub(crate) struct Inner {
    pub(crate) node: Node,
    pub(crate) cfg: DistConfig,
    pub(crate) local_addr: SocketAddr,
    rng: Mutex<StdRng>,
    conns: RwLock<HashMap<NodeId, Arc<Conn>>>,
    /// What other nodes may start under this node's supervisors.
    pub(crate) remote_sups: crate::remote_sup::Registered,
    /// `monitor_node` requests.
    pub(crate) node_monitors: Arc<crate::node_monitor::NodeMonitors>,
    /// Set by [`Dist::shutdown`]: no connection comes up any more.
    shut: std::sync::atomic::AtomicBool,
    known: Mutex<HashMap<NodeId, (String, SocketAddr)>>,
    types: RwLock<HashMap<u64, Arc<dyn Decoder>>>,
    pub(crate) kinds: RwLock<HashMap<String, Arc<crate::spawn::Kind>>>,
    pub(crate) funcs: RwLock<HashMap<String, crate::rpc::RpcFn>>,
    replies: Mutex<HashMap<u64, Exported>>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    subscribers: Mutex<Vec<mpsc::Sender<NodeEvent>>>,
    pub(crate) loads: Mutex<HashMap<NodeId, LoadReport>>,
    /// This node's load as last reported to its peers (by housekeeping, every second).
    pub(crate) reported: Mutex<Option<LoadReport>>,
    pub(crate) stats: Stats,
    tasks: Mutex<Vec<AbortHandle>>,
    /// Names of the message types this node knows of (registered, or sent through a typed
    /// reference), to name a type a peer refused.
    type_names: RwLock<HashMap<u64, &'static str>>,
    /// Calls to a pid refused by its node for an unknown type, not yet reported to their
    /// callers: the type names ([`RawRoute::call_failure`](actor_core::RawRoute) takes them).
    refusals: Mutex<HashMap<Pid, Vec<String>>>,
    /// Bounds on sockets that have not authenticated yet.
    admission: Arc<admission::Admission>,
    /// Rate limit of the warnings unauthenticated peers can cause.
    preauth_warnings: admission::WarnLimit,
    /// Rate limit of the warnings about what authenticated peers sent and we refused.
    peer_warnings: admission::WarnLimit,
    /// Auto-connect backoff per node: failed attempts in a row, and no new attempt before.
    retry: Mutex<HashMap<NodeId, (u32, tokio::time::Instant)>>,
    /// Consulted when a connect by name has no address ([`Dist::set_resolver`]).
    resolver: RwLock<Option<Arc<dyn NodeResolver>>>,
    /// Reads and restores trace contexts ([`Dist::set_trace_propagator`]).
    trace: RwLock<Option<Arc<dyn crate::trace::TracePropagator>>>,
    /// Traffic totals of connections that went down, per node (`traffic`).
    past_traffic: Mutex<traffic::PastTraffic>,
}

/// Distribution for one [`Node`]: connections to other nodes, remote sends, calls, links,
/// monitors, spawns and rpc. Cheap to clone.
///
/// ```no_run
/// use actor_core::Node;
/// use actor_dist::{Cookie, Dist, DistConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let node = Node::new("a@localhost");
/// let dist = Dist::start(&node, DistConfig::new(Cookie::new("secret").unwrap())).await?;
/// dist.connect("b@localhost", "127.0.0.1:4370".parse().unwrap()).await.ok();
/// println!("connected to {:?}", dist.nodes());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Dist {
    pub(crate) inner: Arc<Inner>,
}

impl Inner {
    /// Stops distribution in order, as the last step of an orderly node stop: no connection
    /// comes up any more; each connection writes what is queued (the exit signals of the
    /// actors that just stopped) and closes, so peers learn the real exit reasons before the
    /// node-down; after `within`, whatever is left is closed at once.
    pub(crate) async fn shutdown_gracefully(self: &Arc<Self>, within: std::time::Duration) {
        self.shut.store(true, Ordering::SeqCst);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        let conns: Vec<_> = self.conns.read().values().cloned().collect();
        let downs = conns.iter().map(|c| {
            c.drain_and_close();
            let mut phase = c.phase.subscribe();
            async move {
                let _ = phase
                    .wait_for(|p| matches!(p, crate::conn::Phase::Down(_)))
                    .await;
            }
        });
        let _ = tokio::time::timeout(within, futures::future::join_all(downs)).await;
        self.shutdown();
    }

    /// Stops distribution for good: no connection comes up afterwards, and every connection
    /// goes down (its links and monitors fire on both sides).
    fn shutdown(self: &Arc<Self>) {
        self.shut.store(true, Ordering::SeqCst);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        let conns: Vec<_> = self.conns.read().values().cloned().collect();
        for c in conns {
            self.conn_down(&c, DownReason::Disconnect);
        }
    }
}

/// Counts of what crosses this node's connections ([`Dist::tracked`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tracked {
    /// Links between a local and a remote process.
    pub links: usize,
    /// Monitors held by local watchers on remote targets.
    pub monitors_out: usize,
    /// Monitors held by remote watchers on local targets.
    pub monitors_in: usize,
}

impl Dist {
    /// Starts distribution on `node` (named `name@host` when it was created): binds the
    /// listener, installs the route to other nodes, and connects to the configured seeds.
    pub async fn start(node: &Node, cfg: DistConfig) -> std::io::Result<Dist> {
        let listener = cfg.transport.listen(cfg.listen).await?;
        let local_addr = listener.local_addr()?;
        let cfg_bounds = (cfg.max_pending_handshakes, cfg.max_pending_per_ip);
        let mut rng = match cfg.rng_seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let trace = crate::trace::default_propagator(rng.gen());
        let inner = Arc::new(Inner {
            node: node.clone(),
            cfg,
            local_addr,
            rng: Mutex::new(rng),
            conns: RwLock::new(HashMap::new()),
            remote_sups: Default::default(),
            node_monitors: Default::default(),
            shut: std::sync::atomic::AtomicBool::new(false),
            known: Mutex::new(HashMap::new()),
            types: RwLock::new(HashMap::new()),
            kinds: RwLock::new(HashMap::new()),
            funcs: RwLock::new(HashMap::new()),
            replies: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(Vec::new()),
            loads: Mutex::new(HashMap::new()),
            reported: Mutex::new(None),
            stats: Stats::default(),
            tasks: Mutex::new(Vec::new()),
            admission: admission::Admission::new(cfg_bounds.0, cfg_bounds.1),
            preauth_warnings: admission::WarnLimit::new(10, std::time::Duration::from_secs(1)),
            peer_warnings: admission::WarnLimit::new(10, std::time::Duration::from_secs(1)),
            retry: Mutex::new(HashMap::new()),
            resolver: RwLock::new(None),
            trace: RwLock::new(Some(trace)),
            past_traffic: Mutex::new(HashMap::new()),
            type_names: RwLock::new(HashMap::new()),
            refusals: Mutex::new(HashMap::new()),
        });
        node.install_distribution(Arc::new(Router(Arc::downgrade(&inner))));
        let acceptor = tokio::spawn(accept_loop(inner.clone(), listener));
        let housekeeping = tokio::spawn(housekeeping(Arc::downgrade(&inner)));
        inner
            .tasks
            .lock()
            .extend([acceptor.abort_handle(), housekeeping.abort_handle()]);
        for (name, addr) in inner.cfg.seeds.clone() {
            let t = tokio::spawn(keep_connected(Arc::downgrade(&inner), name, addr));
            inner.tasks.lock().push(t.abort_handle());
        }
        let dist = Dist { inner };
        crate::names::serve(&dist);
        crate::check::install(&dist);
        Ok(dist)
    }

    /// The node this distribution serves.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        self.inner.node.name()
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Connects to `name` at `addr` and waits until the connection is up, or fails with the
    /// reason (as `net_kernel:connect_node` answers false). A connection that never came up
    /// emits no node event; a failed authentication emits [`NodeEvent::AuthFailed`]. An
    /// explicit connect is tried at once, even while auto-connects to the node back off.
    pub async fn connect(&self, name: &str, addr: SocketAddr) -> Result<NodeInfo, DownReason> {
        let id = NodeId::from_name(name);
        self.inner.known.lock().insert(id, (name.to_string(), addr));
        let conn = self.inner.start_connect(id, name.to_string(), addr);
        wait_up(&conn).await
    }

    /// Closes the connection to `name`, if any (its links fire with `noconnection`).
    pub fn disconnect(&self, name: &str) -> bool {
        self.disconnect_with(name, DownReason::Disconnect)
    }

    /// Closes the connection to `name`, if any, and reports its [`NodeEvent::Down`] with
    /// `reason`: for services above the distribution that know why a node goes (a cluster
    /// membership closing the connection of a peer that announced its leave reports
    /// [`DownReason::Shutdown`]).
    pub fn disconnect_with(&self, name: &str, reason: DownReason) -> bool {
        let id = NodeId::from_name(name);
        let conn = self.inner.conns.read().get(&id).cloned();
        match conn {
            Some(c) => {
                self.inner.conn_down(&c, reason);
                true
            }
            None => false,
        }
    }

    /// Whether the connection to `node` is up now (a cheap check: no allocation).
    pub fn is_up(&self, node: NodeId) -> bool {
        self.inner
            .conns
            .read()
            .get(&node)
            .is_some_and(|c| c.is_up())
    }

    /// Names of the connected, visible nodes (hidden ones are left out), sorted.
    pub fn nodes(&self) -> Vec<String> {
        self.connected_where(|hidden| !hidden)
    }

    /// The connected nodes over hidden connections (OTP `nodes(hidden)`): hidden peers, and on
    /// a hidden node every peer (a hidden node's connections are hidden on both sides, so it
    /// does not list its visible peers among its visible nodes).
    pub fn nodes_hidden(&self) -> Vec<String> {
        self.connected_where(|hidden| hidden)
    }

    /// Connected peers that are not hidden nodes themselves, whether or not this node is
    /// hidden: the nodes a hidden tool that opted in to a service (e.g. a registry scope)
    /// talks to. On a visible node this is [`nodes`](Dist::nodes).
    pub fn visible_peers(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .conns
            .read()
            .values()
            .filter_map(|c| match c.phase() {
                Phase::Up(info) if !info.hidden => Some(info.name),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// Every connected node, visible or hidden (OTP `nodes(connected)`).
    pub fn nodes_connected(&self) -> Vec<String> {
        self.connected_where(|_| true)
    }

    fn connected_where(&self, keep: impl Fn(bool) -> bool) -> Vec<String> {
        let me_hidden = self.inner.cfg.hidden;
        let mut v: Vec<String> = self
            .inner
            .conns
            .read()
            .values()
            .filter_map(|c| match c.phase() {
                Phase::Up(info) if keep(info.hidden || me_hidden) => Some(info.name),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// The net tick time in effect (OTP `net_kernel:get_net_ticktime/0`).
    pub fn tick_time(&self) -> std::time::Duration {
        self.inner.cfg.tick_time
    }

    /// The application version this node announces in the handshake
    /// ([`DistConfig::app_version`](crate::DistConfig::app_version)).
    pub fn app_version(&self) -> &str {
        &self.inner.cfg.app_version
    }

    /// The cookie in effect (OTP `erlang:get_cookie/0`). Its `Debug` output is redacted.
    pub fn cookie(&self) -> &crate::Cookie {
        &self.inner.cfg.cookie
    }

    /// Subscribes to node up/down events (a bounded queue; see [`Stats::events_dropped`]).
    pub fn subscribe(&self) -> mpsc::Receiver<NodeEvent> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        self.inner.subscribers.lock().push(tx);
        rx
    }

    /// Registers a message type this node accepts from the network.
    pub fn register<M: Message>(&self) {
        self.inner.register::<M>();
    }

    /// A typed reference to `pid`, local or remote. Local pids are checked at once; for a
    /// remote pid the receiving node checks the type tag and refuses a mismatch.
    pub fn actor_ref<M: Message>(&self, pid: Pid) -> Result<ActorRef<M>, RefError> {
        if pid.node == self.inner.node.id() {
            return self.inner.node.actor_ref(pid);
        }
        Ok(self.inner.remote_ref(pid))
    }

    /// A typed reference to `pid` for system traffic: the services of the distribution
    /// itself (registry replication, membership) that must not be refused because user data
    /// filled the connection's outbound buffer. Its sends are never refused for room (and
    /// `send` never waits); they keep their order with everything else sent to `pid`. Not
    /// for user data: it bypasses backpressure.
    pub fn system_ref<M: Message>(&self, pid: Pid) -> Result<ActorRef<M>, RefError> {
        if pid.node == self.inner.node.id() {
            return self.inner.node.actor_ref(pid);
        }
        self.inner.know_type::<M>();
        Ok(EncodedRoute::actor_ref(
            pid,
            Arc::new(DistRoute::system(self.inner.clone())),
        ))
    }

    /// Decodes `payload`, a message of the type registered under `tag` that came from node
    /// `peer`, and delivers it to each local actor in `to`, exactly as if it had arrived in a
    /// frame on `peer`'s connection: pids, refs and reply handles inside resolve through that
    /// connection. This is for services that relay what a peer sent once to several local
    /// actors (a registry delivering a published message once per node, then to each local
    /// subscriber). Returns how many took it; the others (dead, another type, full mailbox)
    /// are counted in [`Stats::undelivered`] as refused frames are.
    ///
    /// Fails with [`DeliverError::NotConnected`] when `peer` is not connected and with
    /// [`DeliverError::UnknownTag`] for a type this node did not register.
    pub fn deliver_from(
        &self,
        peer: NodeId,
        tag: u64,
        payload: &[u8],
        to: &[Pid],
    ) -> Result<usize, DeliverError> {
        let wire = match self.inner.conns.read().get(&peer) {
            Some(c) => c.wire.clone(),
            None => return Err(DeliverError::NotConnected(peer)),
        };
        let dec = self.inner.types.read().get(&tag).cloned();
        let dec = dec.ok_or(DeliverError::UnknownTag(tag))?;
        let mut delivered = 0;
        for &pid in to {
            let mut cache = None;
            match dec.deliver(
                &self.inner.node,
                wire.clone(),
                pid,
                payload,
                &mut cache,
                None,
            ) {
                Ok(()) => delivered += 1,
                Err(e) => {
                    self.inner.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%pid, error = %e, "relayed message not delivered");
                }
            }
        }
        Ok(delivered)
    }

    /// The counters of refused or dropped input.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Closes every connection and stops listening, for good: no connection comes up
    /// afterwards (not even one being set up now, or one a send would start). Local actors
    /// keep running.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// Links and monitors that cross this node's connections, as tracked so that they fire on
    /// node-down. A watcher that exits removes its monitors (and the far side is told), so
    /// these counts return to what live processes hold: for leak checks.
    pub fn tracked(&self) -> Tracked {
        let mut t = Tracked::default();
        for c in self.inner.conns.read().values() {
            let tr = c.track.lock();
            t.links += tr.links.len();
            t.monitors_out += tr.monitors_out.len();
            t.monitors_in += tr.monitors_in.len();
        }
        t
    }

    /// The last load each connected node reported.
    pub fn loads(&self) -> HashMap<String, LoadReport> {
        let conns = self.inner.conns.read();
        self.inner
            .loads
            .lock()
            .iter()
            .filter_map(|(id, l)| conns.get(id).map(|c| (c.name.clone(), *l)))
            .collect()
    }

    /// This node's load now. It walks the process table (every mailbox's backlog) and reads
    /// `/proc/self/status`: O(live actors). For a cheap figure, and one of the same age as
    /// the peers' reports in [`loads`](Dist::loads), see [`reported_load`](Dist::reported_load).
    pub fn local_load(&self) -> LoadReport {
        self.inner.local_load()
    }

    /// This node's load as last reported to its peers (reports go out every second): what
    /// they see of this node, and as old as their reports in [`loads`](Dist::loads), so
    /// comparing it with theirs is fair. Cheap: no walk of the process table. Before the
    /// first report it is measured now ([`local_load`](Dist::local_load)).
    ///
    /// ```
    /// # use actor_dist::{Cookie, Dist, DistConfig};
    /// # #[tokio::main] async fn main() {
    /// let node = actor_core::Node::new("load@127.0.0.1");
    /// let dist = Dist::start(&node, DistConfig::new(Cookie::new("c").unwrap())).await.unwrap();
    /// // Nothing queued here: no backlog reported.
    /// assert_eq!(dist.reported_load().backlog, 0);
    /// # }
    /// ```
    pub fn reported_load(&self) -> LoadReport {
        if let Some(r) = *self.inner.reported.lock() {
            return r;
        }
        let r = self.inner.local_load();
        *self.inner.reported.lock() = Some(r);
        r
    }
}

impl Inner {
    fn identity(&self) -> Identity<'_> {
        Identity {
            name: self.node.name(),
            creation: self.node.creation(),
            hidden: self.cfg.hidden,
            listen: self.local_addr,
            app_version: &self.cfg.app_version,
            cookie: &self.cfg.cookie,
            capabilities: crate::wire::capability::ALL,
        }
    }

    /// A handshake challenge, always from the OS entropy source (never the node's seedable
    /// random source, which tests and simulations may fix).
    fn challenge(&self) -> [u8; 32] {
        rand::rngs::OsRng.gen()
    }

    /// A spawn or rpc request from `conn` refused by an allow-list: counted, logged
    /// (rate-limited).
    pub(crate) fn refused_request(&self, conn: &Conn, what: &str, name: &str) {
        self.stats.refused_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.peer_warnings.allow() {
            tracing::warn!(peer = %conn.name, what, name, suppressed = n, "request refused by the allow-list");
        }
    }

    pub(crate) fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register<M: Message>(&self) {
        self.know_type::<M>();
        let dec: Arc<dyn Decoder> = Arc::new(Typed::<M>::new());
        let prev = self.types.write().insert(M::tag(), dec);
        if let Some(p) = prev {
            debug_assert_eq!(p.name(), M::NAME, "two message types share a tag");
        }
    }

    /// The name of the type with `tag`, if this node knows it.
    pub(crate) fn type_name(&self, tag: u64) -> String {
        match self.type_names.read().get(&tag) {
            Some(n) => n.to_string(),
            None => format!("<tag {tag:#x}>"),
        }
    }

    /// The decoder of the type registered under `tag`.
    pub(crate) fn decoder(&self, tag: u64) -> Option<Arc<dyn Decoder>> {
        self.types.read().get(&tag).cloned()
    }

    /// The name of node `id`, as far as this node knows it.
    pub(crate) fn node_name(&self, id: NodeId) -> String {
        if let Some((name, _)) = self.known.lock().get(&id) {
            return name.clone();
        }
        match self.conns.read().get(&id) {
            Some(c) => c.name.clone(),
            None => id.to_string(),
        }
    }

    /// Takes one pending refusal of a call to `to` (see `refusals`).
    pub(crate) fn take_refusal(&self, to: Pid) -> Option<String> {
        let mut r = self.refusals.lock();
        let list = r.get_mut(&to)?;
        let ty = list.pop();
        if list.is_empty() {
            r.remove(&to);
        }
        ty
    }

    fn know_type<M: Message>(&self) {
        if !self.type_names.read().contains_key(&M::tag()) {
            self.type_names.write().insert(M::tag(), M::NAME);
        }
    }

    pub(crate) fn remote_ref<M: Message>(self: &Arc<Self>, pid: Pid) -> ActorRef<M> {
        self.know_type::<M>();
        EncodedRoute::actor_ref(pid, Arc::new(DistRoute::new(self.clone())))
    }

    /// Takes a connection down, once: links fire `noconnection`, monitors deliver
    /// `Down(noconnection)`, pending calls, spawns and rpcs to the node fail at once. Only a
    /// connection that was up emits [`NodeEvent::Down`].
    pub(crate) fn conn_down(self: &Arc<Self>, conn: &Arc<Conn>, reason: DownReason) {
        if !conn.close() {
            return;
        }
        let was_up = conn.is_up();
        {
            // Its traffic moves to the past totals in the same step (`Dist::traffic` takes
            // the same locks in the same order): a peer's totals never dip.
            let mut past = self.past_traffic.lock();
            let mut conns = self.conns.write();
            if conns.get(&conn.peer).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                conns.remove(&conn.peer);
            }
            let live: Vec<NodeId> = conns.keys().copied().collect();
            drop(conns);
            traffic::fold(
                &mut past,
                conn.peer,
                &conn.name,
                conn.traffic(),
                |n| live.contains(&n),
                traffic::MAX_PAST_PEERS,
            );
        }
        conn.abort_tasks();
        let t = conn.take_tracking();
        for (local, remote) in t.links {
            self.node.deliver_signal(
                local,
                Signal::Exit {
                    from: remote,
                    reason: ExitReason::NoConnection,
                    link: true,
                },
            );
        }
        for (mref, (watcher, target)) in t.monitors_out {
            self.node.deliver_signal(
                watcher,
                Signal::Down {
                    mref,
                    pid: target,
                    reason: ExitReason::NoConnection,
                },
            );
        }
        for (mref, (target, watcher)) in t.monitors_in {
            self.node.deliver_signal(
                target,
                Signal::Demonitor {
                    from: watcher,
                    mref,
                },
            );
        }
        // Dropping exported reply handles makes the waiting callers fail at once.
        let dropped: Vec<_> = {
            let mut r = self.replies.lock();
            let ids: Vec<u64> = r
                .iter()
                .filter(|(_, (n, _))| *n == conn.peer)
                .map(|(k, _)| *k)
                .collect();
            ids.into_iter().filter_map(|k| r.remove(&k)).collect()
        };
        drop(dropped);
        let failed: Vec<_> = {
            let mut p = self.pending.lock();
            let ids: Vec<u64> = p
                .iter()
                .filter(|(_, (n, _, _))| *n == conn.peer)
                .map(|(k, _)| *k)
                .collect();
            ids.into_iter().filter_map(|k| p.remove(&k)).collect()
        };
        for (_, _, tx) in failed {
            let _ = tx.send(Answer::Down(reason.clone()));
        }
        self.loads.lock().remove(&conn.peer);
        self.refusals.lock().retain(|pid, _| pid.node != conn.peer);
        if was_up {
            tracing::warn!(node = %self.node.name(), peer = %conn.name, ?reason, "nodedown");
            self.node_monitors.node_down(&self.node, &conn.name);
            self.emit(NodeEvent::Down {
                node: conn.name.clone(),
                reason: reason.clone(),
            });
        } else {
            // No up was seen, so no down is reported (OTP: `connect_node` answers false).
            tracing::info!(node = %self.node.name(), peer = %conn.name, ?reason, "connection failed");
        }
        // Published last: whoever waits for this connection to end (a seed reconnecting, a
        // connect) acts only after its Down event, so the next connection's Up follows it.
        conn.phase.send_replace(Phase::Down(reason));
    }

    fn emit(&self, ev: NodeEvent) {
        self.subscribers
            .lock()
            .retain(|tx| match tx.try_send(ev.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }
}
