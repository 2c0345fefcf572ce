//! Multi-node helpers: nodes with distribution on 127.0.0.1 in this process, each with a
//! replica of one global scope; an actor that reports the messages it gets; a TCP proxy that
//! can partition a link (close it and refuse new connections) and heal it.

use actor_core::{Actor, ActorRef, Context, Node, Pid};
use actor_dist::{Cookie, Dist, DistConfig, Message};
use actor_registry::{GlobalConfig, GlobalRegistry};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

pub const T: Duration = Duration::from_secs(10);
pub const SCOPE: &str = "test";

/// Nodes that connect only where a test says so (no transitive connects): the tests' own
/// connects are sequential, so no two connection attempts race.
pub fn config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("registry-test").unwrap());
    cfg.tick_time = Duration::from_secs(2);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg
}

/// Connects `late` to every member of `ms`, one after the other.
pub async fn join_cluster(late: &Member, ms: &[&Member]) {
    for m in ms {
        late.dist
            .connect(m.name(), m.dist.local_addr())
            .await
            .unwrap();
    }
}

/// A node with distribution and a replica of the scope `SCOPE`.
pub struct Member {
    pub dist: Dist,
    pub global: GlobalRegistry,
}

impl Member {
    pub fn node(&self) -> &Node {
        self.dist.node()
    }
    pub fn name(&self) -> &str {
        self.dist.name()
    }
}

pub async fn member(name: &str) -> Member {
    member_with(name, config(), GlobalConfig::new(SCOPE)).await
}

pub async fn member_with(name: &str, cfg: DistConfig, g: GlobalConfig) -> Member {
    let node = Node::new(name);
    let dist = Dist::start(&node, cfg).await.unwrap();
    dist.register::<Note>();
    let global = GlobalRegistry::start(&dist, g).await.unwrap();
    Member { dist, global }
}

/// `n` members named `prefix0@127.0.0.1`..., fully connected and synced.
pub async fn cluster(n: usize) -> Vec<Member> {
    let mut ms = Vec::new();
    for i in 0..n {
        ms.push(member(&format!("n{i}@127.0.0.1")).await);
    }
    for i in 0..n {
        for j in i + 1..n {
            ms[i]
                .dist
                .connect(ms[j].name(), ms[j].dist.local_addr())
                .await
                .unwrap();
        }
    }
    for m in &ms {
        synced(m, n - 1).await;
    }
    ms
}

/// Waits until `m`'s replica is synced with `peers` others.
pub async fn synced(m: &Member, peers: usize) {
    let deadline = tokio::time::Instant::now() + T;
    while m.global.peers().len() != peers {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: synced with {:?}, connected to {:?}, wanted {peers} peers",
            m.name(),
            m.global.peers(),
            m.dist.nodes()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Polls `cond` until it holds (at most `T`): for state that converges without an event to
/// wait on.
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in {T:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A message that crosses nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note(pub u64);

impl Message for Note {
    const NAME: &'static str = "registry-test.Note";
}

/// Reports every note it gets, with its own pid, on a channel.
pub struct Sub {
    pub tx: mpsc::UnboundedSender<(Pid, u64)>,
}

impl Actor for Sub {
    type Msg = Note;
    async fn handle(&mut self, n: Note, ctx: &mut Context<Self>) {
        let _ = self.tx.send((ctx.pid(), n.0));
    }
}

pub async fn sub(node: &Node, tx: &mpsc::UnboundedSender<(Pid, u64)>) -> ActorRef<Note> {
    node.spawn(Sub { tx: tx.clone() }).await.unwrap()
}

/// A TCP proxy in front of `target`. `partition()` closes every proxied connection and
/// refuses new ones (until `heal()`), like a network split that the nodes notice.
pub struct Proxy {
    pub addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    cut: Arc<(AtomicU64, Notify)>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing = Arc::new(AtomicBool::new(false));
        let cut = Arc::new((AtomicU64::new(0), Notify::new()));
        let (r, c) = (refusing.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if r.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let c = c.clone();
                tokio::spawn(async move {
                    let born = c.0.load(Ordering::SeqCst);
                    let (mut inbound, mut outbound) = (inbound, outbound);
                    loop {
                        let notified = c.1.notified();
                        tokio::pin!(notified);
                        notified.as_mut().enable();
                        if c.0.load(Ordering::SeqCst) != born {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                            _ = &mut notified => {}
                        }
                    }
                });
            }
        });
        Proxy {
            addr,
            refusing,
            cut,
        }
    }

    pub fn partition(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.cut.0.fetch_add(1, Ordering::SeqCst);
        self.cut.1.notify_waiters();
    }

    pub fn heal(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

/// A TCP proxy in front of `target` whose replies (target -> client) can be dropped
/// silently while requests still flow: a one-way cut, as a firewall rule or a broken route
/// in one direction makes. The connection is not closed by the proxy: the nodes must notice
/// the silence themselves (net tick).
pub struct OneWayProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl OneWayProxy {
    pub async fn start(target: SocketAddr) -> OneWayProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let c = cut.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (mut in_r, mut in_w) = inbound.into_split();
                let (mut out_r, mut out_w) = outbound.into_split();
                // Requests: always forwarded.
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut in_r, &mut out_w).await;
                    let _ = out_w.shutdown().await;
                });
                // Replies: dropped while cut.
                let c = c.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match out_r.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if c.load(Ordering::SeqCst) {
                            continue;
                        }
                        if in_w.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = in_w.shutdown().await;
                });
            }
        });
        OneWayProxy { addr, cut }
    }

    /// Drops every reply from now on (the connection stays open).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// Lets replies through again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
