//! [`Dist`]: distribution for one node: listener, connections, routing, node events.

use crate::config::DistConfig;
use crate::conn::{Conn, Phase, PushError, PushFrameError};
use crate::events::{DownReason, NodeEvent, NodeInfo};
use crate::handshake::{self, HandshakeError, Identity, PeerInfo};
use crate::message::{Decoder, DeliverError, Message, Typed};
use crate::wire::{
    decode_frame, encode_frame, frame_len, Frame, LoadReport, RemoteSpawnError, RpcFailure,
};
use actor_core::{
    ActorRef, CallError, Distribution, EncodeFn, EncodedRoute, ExitReason, Node, NodeId, Pid,
    RawRoute, RawSendError, Ref, RefError, ReplyDelivery, ReplySink, RouteError, Signal,
    WireContext,
};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::AbortHandle;

/// Handshakes in progress at once; more wait (a silent peer holds a slot at most
/// `setup_timeout`).
const MAX_PENDING_HANDSHAKES: usize = 64;
/// Refusal reasons the initiator understands as "the other connection wins".
const SIMULTANEOUS: &str = "simultaneous connect";
const ALREADY_CONNECTED: &str = "already connected";
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
    /// Replies for calls that had already given up.
    pub late_replies: AtomicU64,
    /// Node events a slow subscriber missed.
    pub events_dropped: AtomicU64,
}

/// A reply handle exported to a peer: which node it went to, and the waiting caller.
type Exported = (NodeId, Box<dyn ReplyDelivery>);

/// An answer to a spawn or rpc request.
pub(crate) enum Answer {
    Spawn(Result<Pid, RemoteSpawnError>),
    Rpc(Result<Vec<u8>, RpcFailure>),
    Down(DownReason),
}

pub(crate) struct Inner {
    pub(crate) node: Node,
    pub(crate) cfg: DistConfig,
    pub(crate) local_addr: SocketAddr,
    rng: Mutex<StdRng>,
    conns: RwLock<HashMap<NodeId, Arc<Conn>>>,
    /// What other nodes may start under this node's supervisors.
    pub(crate) remote_sups: crate::remote_sup::Registered,
    /// Set by [`Dist::shutdown`]: no connection comes up any more.
    shut: std::sync::atomic::AtomicBool,
    known: Mutex<HashMap<NodeId, (String, SocketAddr)>>,
    types: RwLock<HashMap<u64, Arc<dyn Decoder>>>,
    pub(crate) kinds: RwLock<HashMap<String, Arc<crate::spawn::Kind>>>,
    pub(crate) funcs: RwLock<HashMap<String, crate::rpc::RpcFn>>,
    replies: Mutex<HashMap<u64, Exported>>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, (NodeId, oneshot::Sender<Answer>)>>,
    subscribers: Mutex<Vec<mpsc::Sender<NodeEvent>>>,
    pub(crate) loads: Mutex<HashMap<NodeId, LoadReport>>,
    pub(crate) stats: Stats,
    tasks: Mutex<Vec<AbortHandle>>,
    handshakes: Semaphore,
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

thread_local! {
    /// Encode buffers reused across sends: (payload, frame).
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The object installed on the node: routes signals to other nodes.
struct Router(Weak<Inner>);

impl Distribution for Router {
    fn signal(&self, to: Pid, signal: Signal) -> Result<(), RouteError> {
        match self.0.upgrade() {
            Some(inner) => inner.route_signal(to, signal),
            None => Err(RouteError::NoConnection(to.node)),
        }
    }

    fn shutdown(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.shutdown();
        }
    }
}

impl Inner {
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

/// Reply handles for calls that cross a connection.
struct Wire {
    inner: Weak<Inner>,
    peer: NodeId,
}

impl WireContext for Wire {
    fn export_reply(&self, delivery: Box<dyn ReplyDelivery>) -> Ref {
        match self.inner.upgrade() {
            Some(inner) => inner.export_reply(self.peer, delivery),
            None => Ref {
                node: NodeId(0),
                id: 0,
                creation: 0,
            },
        }
    }
    fn reply_sink(&self, _addr: Ref) -> Arc<dyn ReplySink> {
        Arc::new(Sink(self.inner.clone()))
    }
    fn node(&self) -> Option<Node> {
        self.inner.upgrade().map(|i| i.node.clone())
    }
    fn raw_route(&self) -> Option<Arc<dyn RawRoute>> {
        self.inner
            .upgrade()
            .map(|i| Arc::new(DistRoute::new(i)) as Arc<dyn RawRoute>)
    }
}

struct Sink(Weak<Inner>);

impl ReplySink for Sink {
    fn abandon(&self, addr: Ref, reason: Option<ExitReason>) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        if addr.node == inner.node.id() {
            let d = inner.replies.lock().remove(&addr.id);
            if let Some((_, d)) = d {
                d.abandon(reason);
            }
            return;
        }
        if let Some(conn) = inner.conn_for(addr.node, false) {
            let _ = inner.send_frame(
                &conn,
                &Frame::Abandon {
                    id: addr.id,
                    reason,
                },
                true,
            );
        }
    }

    fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool {
        let Some(inner) = self.0.upgrade() else {
            return false;
        };
        if addr.node == inner.node.id() {
            // A handle that came back home: deliver here.
            return inner.deliver_reply(addr.id, &payload);
        }
        let Some(conn) = inner.conn_for(addr.node, true) else {
            return false;
        };
        inner
            .send_frame(
                &conn,
                &Frame::Reply {
                    id: addr.id,
                    payload: &payload,
                },
                true,
            )
            .is_ok()
    }
}

/// A byte stream a connection runs over.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// A connection's transport: plain TCP (split without locking) or TLS.
enum Link {
    Tcp(TcpStream),
    Tls(Box<dyn Stream>),
}

impl Link {
    fn stream(&mut self) -> &mut dyn Stream {
        match self {
            Link::Tcp(s) => s,
            Link::Tls(s) => s.as_mut(),
        }
    }

    fn split(self) -> (BoxRead, BoxWrite) {
        match self {
            Link::Tcp(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Link::Tls(s) => {
                let (r, w) = tokio::io::split(s);
                (Box::new(r), Box::new(w))
            }
        }
    }
}

/// The TLS server name for a node called `name@host`.
fn server_name(
    node: &str,
) -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>, HandshakeError> {
    let host = node.rsplit_once('@').map_or(node, |(_, h)| h);
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::Protocol(format!("no TLS server name in {node:?}: {e}")))
}

/// What a connection's reader remembers between frames.
#[derive(Default)]
struct ReaderCache {
    decoder: Option<(u64, Arc<dyn Decoder>)>,
    target: crate::message::TargetCache,
}

/// Why a frame could not be queued.
#[derive(Debug)]
pub(crate) enum SendFail {
    NoConnection,
    Full,
    Encode(String),
}

impl From<PushError> for SendFail {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Full => SendFail::Full,
            PushError::Closed => SendFail::NoConnection,
        }
    }
}

impl Dist {
    /// Starts distribution on `node` (named `name@host` when it was created): binds the
    /// listener, installs the route to other nodes, and connects to the configured seeds.
    pub async fn start(node: &Node, cfg: DistConfig) -> std::io::Result<Dist> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let local_addr = listener.local_addr()?;
        let rng = match cfg.rng_seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let inner = Arc::new(Inner {
            node: node.clone(),
            cfg,
            local_addr,
            rng: Mutex::new(rng),
            conns: RwLock::new(HashMap::new()),
            remote_sups: Default::default(),
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
            stats: Stats::default(),
            tasks: Mutex::new(Vec::new()),
            handshakes: Semaphore::new(MAX_PENDING_HANDSHAKES),
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
        Ok(Dist { inner })
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

    /// Connects to `name` at `addr` and waits until the connection is up (or failed).
    pub async fn connect(&self, name: &str, addr: SocketAddr) -> Result<NodeInfo, DownReason> {
        let id = NodeId::from_name(name);
        self.inner.known.lock().insert(id, (name.to_string(), addr));
        let conn = self.inner.start_connect(id, name.to_string(), addr);
        wait_up(&conn).await
    }

    /// Closes the connection to `name`, if any (its links fire with `noconnection`).
    pub fn disconnect(&self, name: &str) -> bool {
        let id = NodeId::from_name(name);
        let conn = self.inner.conns.read().get(&id).cloned();
        match conn {
            Some(c) => {
                self.inner.conn_down(&c, DownReason::Disconnect);
                true
            }
            None => false,
        }
    }

    /// Names of the connected, visible nodes (hidden ones are left out), sorted.
    pub fn nodes(&self) -> Vec<String> {
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
            match dec.deliver(&self.inner.node, wire.clone(), pid, payload, &mut cache) {
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

    /// This node's load now.
    pub fn local_load(&self) -> LoadReport {
        self.inner.local_load()
    }
}

async fn wait_up(conn: &Arc<Conn>) -> Result<NodeInfo, DownReason> {
    let mut rx = conn.phase.subscribe();
    let phase = rx
        .wait_for(|p| !matches!(p, Phase::Connecting))
        .await
        .map(|p| p.clone())
        .unwrap_or(Phase::Down(DownReason::ConnectionClosed));
    match phase {
        Phase::Up(info) => Ok(info),
        Phase::Down(r) => Err(r),
        Phase::Connecting => unreachable!(),
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
        }
    }

    fn challenge(&self) -> [u8; 32] {
        self.rng.lock().gen()
    }

    pub(crate) fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register<M: Message>(&self) {
        let dec: Arc<dyn Decoder> = Arc::new(Typed::<M>::new());
        let prev = self.types.write().insert(M::tag(), dec);
        if let Some(p) = prev {
            debug_assert_eq!(p.name(), M::NAME, "two message types share a tag");
        }
    }

    pub(crate) fn remote_ref<M: Message>(self: &Arc<Self>, pid: Pid) -> ActorRef<M> {
        EncodedRoute::actor_ref(pid, Arc::new(DistRoute::new(self.clone())))
    }

    fn new_conn(self: &Arc<Self>, id: NodeId, name: String) -> Arc<Conn> {
        let wire = Arc::new(Wire {
            inner: Arc::downgrade(self),
            peer: id,
        });
        Arc::new(Conn::new(id, name, wire, self.cfg.outbound_limit))
    }

    /// The connection to `id`, starting one if allowed and the address is known.
    pub(crate) fn conn_for(self: &Arc<Self>, id: NodeId, auto: bool) -> Option<Arc<Conn>> {
        if let Some(c) = self.conns.read().get(&id) {
            if !c.is_closed() {
                return Some(c.clone());
            }
        }
        if !(auto && self.cfg.auto_connect) || self.shut.load(Ordering::SeqCst) {
            return None;
        }
        let (name, addr) = self.known.lock().get(&id).cloned()?;
        Some(self.start_connect(id, name, addr))
    }

    /// The connection to the node called `name`, connecting if needed, once it is up.
    pub(crate) async fn conn_up_by_name(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<Conn>, DownReason> {
        let id = NodeId::from_name(name);
        let conn = self.conn_for(id, true).ok_or_else(|| {
            DownReason::ConnectionSetupFailed(format!("no address known for {name}"))
        })?;
        wait_up(&conn).await?;
        Ok(conn)
    }

    fn start_connect(self: &Arc<Self>, id: NodeId, name: String, addr: SocketAddr) -> Arc<Conn> {
        let mut conns = self.conns.write();
        if let Some(c) = conns.get(&id) {
            if !c.is_closed() {
                return c.clone();
            }
        }
        let conn = self.new_conn(id, name);
        conns.insert(id, conn.clone());
        drop(conns);
        let t = tokio::spawn(connect_task(self.clone(), conn.clone(), addr));
        conn.tasks.lock().push(t.abort_handle());
        conn
    }

    /// Brings a handshaken connection up: starts its reader, writer and ticker.
    fn conn_up(self: &Arc<Self>, conn: &Arc<Conn>, link: Link, peer: PeerInfo) {
        if conn.is_closed() {
            return;
        }
        if self.shut.load(Ordering::SeqCst) {
            self.conn_down(conn, DownReason::Disconnect);
            return;
        }
        let info = NodeInfo {
            name: peer.name,
            creation: peer.creation,
            hidden: peer.hidden,
            listen: peer.listen,
            app_version: peer.app_version,
        };
        // An address we were given (seed, explicit connect) wins over the one the peer
        // reports: it may be reachable only through a proxy or NAT.
        self.known
            .lock()
            .entry(conn.peer)
            .or_insert((info.name.clone(), info.listen));
        // Up is published before the connection's tasks start, so that a connection dying at
        // once can never have its Down delivered ahead of its Up.
        conn.phase.send_replace(Phase::Up(info.clone()));
        tracing::info!(node = %self.node.name(), peer = %info.name, "nodeup");
        self.emit(NodeEvent::Up(info.clone()));
        let (rd, wr) = link.split();
        let reader = tokio::spawn(read_loop(self.clone(), conn.clone(), rd));
        let writer = tokio::spawn(write_loop(self.clone(), conn.clone(), wr));
        let ticker = tokio::spawn(tick_loop(self.clone(), conn.clone()));
        conn.tasks.lock().extend([
            reader.abort_handle(),
            writer.abort_handle(),
            ticker.abort_handle(),
        ]);
        if self.cfg.transitive && !self.cfg.hidden && !info.hidden {
            let peers = self.visible_peers(conn.peer);
            let _ = self.send_frame(conn, &Frame::Peers(peers), true);
        }
        let _ = self.send_frame(conn, &Frame::Load(self.local_load()), true);
    }

    fn visible_peers(&self, except: NodeId) -> Vec<(String, SocketAddr)> {
        self.conns
            .read()
            .values()
            .filter(|c| c.peer != except)
            .filter_map(|c| match c.phase() {
                Phase::Up(i) if !i.hidden => Some((i.name, i.listen)),
                _ => None,
            })
            .collect()
    }

    /// Takes a connection down, once: links fire `noconnection`, monitors deliver
    /// `Down(noconnection)`, pending calls, spawns and rpcs to the node fail at once.
    /// An incoming handshake failed. A connection it only reserved goes quietly (nobody knew
    /// of it but a connect that waits on it and now fails); one it took over goes down.
    fn setup_failed(self: &Arc<Self>, conn: &Arc<Conn>, reserved: bool, reason: DownReason) {
        if !reserved {
            return self.conn_down(conn, reason);
        }
        if !conn.close() {
            return;
        }
        conn.phase.send_replace(Phase::Down(reason));
        let mut conns = self.conns.write();
        if conns.get(&conn.peer).is_some_and(|c| Arc::ptr_eq(c, conn)) {
            conns.remove(&conn.peer);
        }
    }

    pub(crate) fn conn_down(self: &Arc<Self>, conn: &Arc<Conn>, reason: DownReason) {
        if !conn.close() {
            return;
        }
        let was_up = conn.is_up();
        conn.phase.send_replace(Phase::Down(reason.clone()));
        {
            let mut conns = self.conns.write();
            if conns.get(&conn.peer).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                conns.remove(&conn.peer);
            }
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
                .filter(|(_, (n, _))| *n == conn.peer)
                .map(|(k, _)| *k)
                .collect();
            ids.into_iter().filter_map(|k| p.remove(&k)).collect()
        };
        for (_, tx) in failed {
            let _ = tx.send(Answer::Down(reason.clone()));
        }
        self.loads.lock().remove(&conn.peer);
        if was_up {
            tracing::warn!(node = %self.node.name(), peer = %conn.name, ?reason, "nodedown");
        } else {
            tracing::warn!(node = %self.node.name(), peer = %conn.name, ?reason, "connection failed");
        }
        self.emit(NodeEvent::Down {
            node: conn.name.clone(),
            reason,
        });
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

    /// Encodes `frame` and queues it on `conn`.
    pub(crate) fn send_frame(
        &self,
        conn: &Conn,
        frame: &Frame<'_>,
        control: bool,
    ) -> Result<(), SendFail> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let buf = &mut s.1;
            buf.clear();
            encode_frame(frame, self.cfg.max_frame, buf)
                .map_err(|e| SendFail::Encode(e.to_string()))?;
            conn.push(buf, control).map_err(SendFail::from)
        })
    }

    /// Encodes a message for `to` and queues it (data: subject to backpressure).
    fn send_encoded(
        &self,
        conn: &Conn,
        to: Pid,
        tag: u64,
        encode: EncodeFn<'_>,
    ) -> Result<(), SendFail> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let payload = &mut s.0;
            payload.clear();
            actor_core::with_wire_context(conn.wire.clone(), || encode(payload))
                .map_err(SendFail::Encode)?;
            conn.push_frame(&Frame::Send { to, tag, payload }, self.cfg.max_frame, false)
                .map_err(|e| match e {
                    PushFrameError::Full => SendFail::Full,
                    PushFrameError::Closed => SendFail::NoConnection,
                    PushFrameError::Encode(why) => SendFail::Encode(why),
                })
        })
    }

    fn route_signal(self: &Arc<Self>, to: Pid, signal: Signal) -> Result<(), RouteError> {
        let conn = self
            .conn_for(to.node, true)
            .ok_or(RouteError::NoConnection(to.node))?;
        // Tracking is updated under its lock together with the push, so that a concurrent
        // nodedown either sees the entry (and fires it) or the push fails (and the caller
        // fires it): never both, never neither.
        let mut track = conn.track.lock();
        self.send_frame(
            &conn,
            &Frame::Signal {
                to,
                signal: signal.clone(),
            },
            true,
        )
        .map_err(|_| RouteError::NoConnection(to.node))?;
        track.outgoing(to, &signal);
        Ok(())
    }

    fn export_reply(&self, peer: NodeId, delivery: Box<dyn ReplyDelivery>) -> Ref {
        let id = self.fresh_id();
        self.replies.lock().insert(id, (peer, delivery));
        Ref {
            node: self.node.id(),
            id,
            creation: self.node.creation(),
        }
    }

    fn deliver_reply(&self, id: u64, payload: &[u8]) -> bool {
        let d = self.replies.lock().remove(&id);
        match d {
            Some((_, d)) => d.deliver(payload),
            None => {
                self.stats.late_replies.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub(crate) fn expect_answer(&self, peer: NodeId) -> (u64, oneshot::Receiver<Answer>) {
        let id = self.fresh_id();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, (peer, tx));
        (id, rx)
    }

    pub(crate) fn forget_answer(&self, id: u64) {
        self.pending.lock().remove(&id);
    }

    fn answer(&self, id: u64, a: Answer) {
        if let Some((_, tx)) = self.pending.lock().remove(&id) {
            let _ = tx.send(a);
        }
    }

    pub(crate) fn local_load(&self) -> LoadReport {
        LoadReport {
            actors: self.node.process_count() as u64,
            backlog: self.node.backlog() as u64,
            memory: crate::rss_bytes(),
        }
    }

    /// Handles one frame from `conn`.
    fn dispatch(self: &Arc<Self>, conn: &Arc<Conn>, frame: Frame<'_>, cache: &mut ReaderCache) {
        match frame {
            Frame::Tick => {}
            Frame::Send { to, tag, payload } => {
                let dec = match &cache.decoder {
                    Some((t, d)) if *t == tag => Some(d.clone()),
                    _ => {
                        let d = self.types.read().get(&tag).cloned();
                        cache.decoder = d.clone().map(|d| (tag, d));
                        cache.target = None;
                        d
                    }
                };
                match dec {
                    None => {
                        self.stats.unknown_tags.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(peer = %conn.name, tag = format_args!("{tag:#x}"), "message of unknown type refused");
                    }
                    Some(d) => {
                        if let Err(e) = d.deliver(
                            &self.node,
                            conn.wire.clone(),
                            to,
                            payload,
                            &mut cache.target,
                        ) {
                            self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(peer = %conn.name, %to, error = %e, "message not delivered");
                        }
                    }
                }
            }
            Frame::Signal { to, signal } => {
                conn.track.lock().incoming(to, &signal);
                self.node.deliver_signal(to, signal);
            }
            Frame::Reply { id, payload } => {
                self.deliver_reply(id, payload);
            }
            Frame::Abandon { id, reason } => {
                let d = self.replies.lock().remove(&id);
                if let Some((_, d)) = d {
                    d.abandon(reason);
                }
            }
            Frame::Spawn {
                req,
                kind,
                msg_tag,
                args,
                link,
            } => {
                crate::spawn::serve(
                    self.clone(),
                    conn.clone(),
                    req,
                    kind.to_string(),
                    msg_tag,
                    args.to_vec(),
                    link,
                );
            }
            Frame::SpawnResult { req, result } => self.answer(req, Answer::Spawn(result)),
            Frame::Rpc { req, func, args } => {
                crate::rpc::serve(
                    self.clone(),
                    conn.clone(),
                    req,
                    func.to_string(),
                    args.to_vec(),
                );
            }
            Frame::RpcResult { req, result } => {
                self.answer(req, Answer::Rpc(result.map(|b| b.to_vec())))
            }
            Frame::Peers(peers) => {
                if self.cfg.transitive && !self.cfg.hidden {
                    for (name, addr) in peers {
                        if name == self.node.name() {
                            continue;
                        }
                        let id = NodeId::from_name(&name);
                        self.known.lock().entry(id).or_insert((name.clone(), addr));
                        if !self.conns.read().contains_key(&id) {
                            self.start_connect(id, name, addr);
                        }
                    }
                }
            }
            Frame::Load(report) => {
                self.loads.lock().insert(conn.peer, report);
            }
            Frame::Stop { to, reason } => {
                self.node.stop(to, reason);
            }
        }
    }
}

/// The route to other nodes that typed references are built on. It remembers the last
/// connection it used, so a stream of sends does no map lookup per message.
pub(crate) struct DistRoute(pub(crate) Arc<Inner>, Mutex<Option<Arc<Conn>>>);

impl DistRoute {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        DistRoute(inner, Mutex::new(None))
    }
}

impl RawRoute for DistRoute {
    fn send(&self, to: Pid, tag: u64, encode: EncodeFn<'_>) -> Result<(), RawSendError> {
        let mut cached = self.1.lock();
        let conn = match cached.as_ref() {
            Some(c) if c.peer == to.node && !c.is_closed() => c,
            _ => {
                let c = self
                    .0
                    .conn_for(to.node, true)
                    .ok_or(RawSendError::NoConnection)?;
                cached.insert(c)
            }
        };
        // Encoded under the route's own lock: no clone of the connection per send.
        self.0
            .send_encoded(conn, to, tag, encode)
            .map_err(|e| match e {
                SendFail::Full => RawSendError::Full,
                SendFail::NoConnection => RawSendError::NoConnection,
                SendFail::Encode(why) => RawSendError::Encode(why),
            })
    }

    fn call_failure(&self, to: Pid) -> CallError {
        match self.0.conns.read().get(&to.node) {
            Some(c) if c.is_up() => CallError::NoReply,
            _ => CallError::Exit(ExitReason::NoConnection),
        }
    }

    fn stop(&self, to: Pid, reason: ExitReason) -> bool {
        match self.0.conn_for(to.node, true) {
            Some(c) => self
                .0
                .send_frame(&c, &Frame::Stop { to, reason }, true)
                .is_ok(),
            None => false,
        }
    }

    fn ready(
        &self,
        to: Pid,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let Some(conn) = self.0.conn_for(to.node, true) else {
                return;
            };
            let notified = conn.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if conn.backlog() >= self.0.cfg.outbound_limit / 2 && !conn.is_closed() {
                notified.await;
            }
        })
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let holder = inner.clone();
            let Ok(_slot) = holder.handshakes.acquire().await else {
                return;
            };
            accept_task(inner, stream, from).await;
        });
    }
}

async fn accept_task(inner: Arc<Inner>, tcp: TcpStream, from: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let mut link = match &inner.cfg.tls {
        None => Link::Tcp(tcp),
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
            match tokio::time::timeout(inner.cfg.setup_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => Link::Tls(Box::new(s)),
                Ok(Err(e)) => {
                    inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let challenge = inner.challenge();
    let me = inner.identity();
    // The connection this handshake takes over (our own connect in flight), or reserves (none
    // existed: `true`), so that a connect started meanwhile waits for it instead of dialling.
    let adopted: Mutex<Option<(Arc<Conn>, bool)>> = Mutex::new(None);
    let admit = |peer: &PeerInfo| -> Result<(), String> {
        if peer.name == inner.node.name() {
            return Err("a node with my name".into());
        }
        let id = NodeId::from_name(&peer.name);
        if let Some((known, _)) = inner.known.lock().get(&id) {
            if known != &peer.name {
                return Err(format!(
                    "node id collision between {known} and {}",
                    peer.name
                ));
            }
        }
        let mut conns = inner.conns.write();
        match conns.get(&id) {
            Some(c) if !c.is_closed() => match c.phase() {
                // Simultaneous connect: the connection initiated by the greater name
                // survives, on both sides, so exactly one remains.
                Phase::Connecting => {
                    if inner.node.name() > peer.name.as_str() {
                        return Err(SIMULTANEOUS.into());
                    }
                    c.adopted.store(true, Ordering::Release);
                    *adopted.lock() = Some((c.clone(), false));
                }
                // Same incarnation already connected: keep the connection we have. A new
                // creation means the peer restarted; its new connection replaces the old.
                Phase::Up(info) if info.creation == peer.creation => {
                    return Err(ALREADY_CONNECTED.into());
                }
                _ => {}
            },
            _ => {
                // Reserve the peer's slot: our own connect, if one starts before this
                // handshake ends, finds this connection and waits for it.
                let c = inner.new_conn(id, peer.name.clone());
                c.adopted.store(true, Ordering::Release);
                conns.insert(id, c.clone());
                *adopted.lock() = Some((c, true));
            }
        }
        Ok(())
    };
    let res = tokio::time::timeout(
        inner.cfg.setup_timeout,
        handshake::accept_named(link.stream(), &me, challenge, admit),
    )
    .await;
    let adopted = adopted.into_inner();
    match res {
        Ok(Ok(peer)) => {
            let id = NodeId::from_name(&peer.name);
            let (conn, old) = {
                let mut conns = inner.conns.write();
                match conns.get(&id).cloned() {
                    Some(c) if !c.is_closed() && matches!(c.phase(), Phase::Connecting) => {
                        (c, None)
                    }
                    existing => {
                        let c = inner.new_conn(id, peer.name.clone());
                        conns.insert(id, c.clone());
                        (c, existing.filter(|e| !e.is_closed()))
                    }
                }
            };
            if let Some(old) = old {
                // The peer connected again: its old connection is dead (e.g. it restarted).
                inner.conn_down(&old, DownReason::ConnectionClosed);
            }
            inner.conn_up(&conn, link, peer);
        }
        Ok(Err((e, name))) => {
            if let Some((c, reserved)) = adopted {
                inner.setup_failed(
                    &c,
                    reserved,
                    DownReason::ConnectionSetupFailed(e.to_string()),
                );
            }
            refused(&inner, from, name, e);
        }
        Err(_) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, "handshake timed out");
            if let Some((c, reserved)) = adopted {
                inner.setup_failed(
                    &c,
                    reserved,
                    DownReason::ConnectionSetupFailed("handshake timeout".into()),
                );
            }
        }
    }
}

fn refused(inner: &Arc<Inner>, from: SocketAddr, name: Option<String>, e: HandshakeError) {
    match e {
        HandshakeError::AuthFailed => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, peer = ?name, "connection refused: wrong cookie");
            inner.emit(NodeEvent::Down {
                node: name.unwrap_or_else(|| from.to_string()),
                reason: DownReason::AuthFailed,
            });
        }
        HandshakeError::WeRefused(r) => {
            tracing::debug!(%from, peer = ?name, reason = %r, "connection refused")
        }
        e => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, peer = ?name, error = %e, "handshake failed");
        }
    }
}

async fn connect_task(inner: Arc<Inner>, conn: Arc<Conn>, addr: SocketAddr) {
    let challenge = inner.challenge();
    let res = tokio::time::timeout(inner.cfg.setup_timeout, async {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let mut link = match &inner.cfg.tls {
            None => Link::Tcp(tcp),
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                Link::Tls(Box::new(
                    connector.connect(server_name(&conn.name)?, tcp).await?,
                ))
            }
        };
        let me = inner.identity();
        let peer = handshake::initiate(link.stream(), &me, challenge).await?;
        Ok::<_, HandshakeError>((link, peer))
    })
    .await;
    if conn.adopted.load(Ordering::Acquire) {
        return; // The incoming connection from the same peer owns `conn` now.
    }
    match res {
        Ok(Ok((s, peer))) if peer.name == conn.name => inner.conn_up(&conn, s, peer),
        Ok(Ok((_, peer))) => inner.conn_down(
            &conn,
            DownReason::ConnectionSetupFailed(format!(
                "{addr} is {}, not {}",
                peer.name, conn.name
            )),
        ),
        Ok(Err(HandshakeError::Refused(r))) if r == SIMULTANEOUS || r == ALREADY_CONNECTED => {
            // The peer's own connection to us wins; wait for it to adopt `conn`.
            let mut rx = conn.phase.subscribe();
            let adopted = tokio::time::timeout(
                inner.cfg.setup_timeout,
                rx.wait_for(|p| !matches!(p, Phase::Connecting)),
            )
            .await;
            if adopted.is_err() && !conn.adopted.load(Ordering::Acquire) {
                inner.conn_down(
                    &conn,
                    DownReason::ConnectionSetupFailed("simultaneous connect lost".into()),
                );
            }
        }
        Ok(Err(HandshakeError::AuthFailed)) => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %conn.name, %addr, "connection refused: wrong cookie");
            inner.conn_down(&conn, DownReason::AuthFailed);
        }
        Ok(Err(e)) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            inner.conn_down(&conn, DownReason::ConnectionSetupFailed(e.to_string()));
        }
        Err(_) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            inner.conn_down(
                &conn,
                DownReason::ConnectionSetupFailed("setup timeout".into()),
            );
        }
    }
}

async fn read_loop(inner: Arc<Inner>, conn: Arc<Conn>, rd: BoxRead) {
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut body = Vec::new();
    let mut cache = ReaderCache::default();
    let reason = loop {
        let mut prefix = [0u8; 4];
        if rd.read_exact(&mut prefix).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        let len = match frame_len(prefix, inner.cfg.max_frame) {
            Ok(l) => l,
            Err(e) => {
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, error = %e, "closing connection");
                break DownReason::ConnectionClosed;
            }
        };
        body.resize(len, 0);
        if rd.read_exact(&mut body).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        conn.received.fetch_add(1, Ordering::Relaxed);
        match decode_frame(&body) {
            Ok(frame) => inner.dispatch(&conn, frame, &mut cache),
            Err(e) => {
                // The length prefix keeps frame boundaries intact: skip this one.
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, error = %e, "undecodable frame skipped");
            }
        }
    };
    inner.conn_down(&conn, reason);
}

async fn write_loop(inner: Arc<Inner>, conn: Arc<Conn>, mut wr: BoxWrite) {
    let mut spare: Vec<u8> = Vec::new();
    let reason = loop {
        if conn.take_outbound(&mut spare).is_none() {
            break DownReason::Disconnect;
        }
        if spare.is_empty() {
            conn.wake_writer.notified().await;
            continue;
        }
        conn.room.notify_waiters();
        if wr.write_all(&spare).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        conn.sent.fetch_add(1, Ordering::Relaxed);
        spare.clear();
        if spare.capacity() > 4 << 20 {
            spare = Vec::new();
        }
    };
    let _ = wr.shutdown().await;
    inner.conn_down(&conn, reason);
}

/// Heartbeats: a tick every quarter tick time when nothing else was sent; nodedown with
/// `net_tick_timeout` once nothing has been received for a whole tick time. Liveness is
/// checked every eighth of the tick time on a drift-free interval, so detection falls
/// between 1 and 1.125 tick times after the last frame (Erlang: between 1 and 1.25).
async fn tick_loop(inner: Arc<Inner>, conn: Arc<Conn>) {
    let eighth = inner.cfg.tick_time / 8;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + eighth, eighth);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rx = conn.received.load(Ordering::Relaxed);
    let mut last_tx = conn.sent_tick();
    let mut silent = 0u32;
    let mut step = 0u64;
    loop {
        every.tick().await;
        step += 1;
        let rx = conn.received.load(Ordering::Relaxed);
        if rx == last_rx {
            silent += 1;
            if silent >= 8 {
                inner.conn_down(&conn, DownReason::NetTickTimeout);
                return;
            }
        } else {
            silent = 0;
            last_rx = rx;
        }
        if step.is_multiple_of(2) {
            if conn.sent_tick() == last_tx {
                let _ = inner.send_frame(&conn, &Frame::Tick, true);
            }
            last_tx = conn.sent_tick();
        }
    }
}

/// Node-level chores: drop reply handles whose callers gave up; send load reports.
async fn housekeeping(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.replies.lock().retain(|_, (_, d)| !d.is_closed());
        let report = inner.local_load();
        let conns: Vec<_> = inner
            .conns
            .read()
            .values()
            .filter(|c| c.is_up())
            .cloned()
            .collect();
        for c in conns {
            let _ = inner.send_frame(&c, &Frame::Load(report), true);
        }
    }
}

/// Keeps a seed connected, reconnecting with exponential backoff and jitter.
async fn keep_connected(inner: Weak<Inner>, name: String, addr: SocketAddr) {
    let id = NodeId::from_name(&name);
    let mut delay = None::<Duration>;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.known.lock().insert(id, (name.clone(), addr));
        let conn = strong.start_connect(id, name.clone(), addr);
        let (base, cap) = strong.cfg.backoff;
        drop(strong);
        match wait_up(&conn).await {
            Ok(_) => {
                delay = None;
                let mut rx = conn.phase.subscribe();
                let _ = rx.wait_for(|p| matches!(p, Phase::Down(_))).await;
            }
            Err(_) => {
                let d = delay.map_or(base, |d| (d * 2).min(cap));
                delay = Some(d);
                let jitter = match inner.upgrade() {
                    Some(s) => s.rng.lock().gen_range(0.5..1.5),
                    None => return,
                };
                tokio::time::sleep(d.mul_f64(jitter)).await;
            }
        }
    }
}
