//! A TCP proxy for one link between two nodes, with the faults of a real network: a silent
//! cut in either direction (bytes are held, not dropped, as TCP retransmission would: the
//! stream resumes intact when the cut heals, unless the nodes gave up on it first), and a
//! reset (every connection closed, new ones refused) that the nodes notice at once.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Shared switches of one proxy.
struct Switches {
    /// Client -> target flows.
    up: watch::Sender<bool>,
    /// Target -> client flows.
    down: watch::Sender<bool>,
    /// Bumped to close every connection; new ones are refused while `refusing`.
    reset: watch::Sender<(u64, bool)>,
    /// Where to forward (set once the target listens).
    target: watch::Sender<Option<SocketAddr>>,
}

/// A proxy in front of one node, for one dialling node.
#[derive(Clone)]
pub struct LinkProxy {
    pub addr: SocketAddr,
    sw: Arc<Switches>,
}

async fn wait_flow(rx: &mut watch::Receiver<bool>) -> bool {
    rx.wait_for(|f| *f).await.is_ok()
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !wait_flow(&mut flow).await {
            return;
        }
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Held while the direction is cut.
        if !wait_flow(&mut flow).await {
            return;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

impl LinkProxy {
    /// A proxy whose target is set later with [`set_target`](LinkProxy::set_target).
    pub async fn start() -> LinkProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sw = Arc::new(Switches {
            up: watch::channel(true).0,
            down: watch::channel(true).0,
            reset: watch::channel((0, false)).0,
            target: watch::channel(None).0,
        });
        let s = sw.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (gen, refusing) = *s.reset.borrow();
                let target = *s.target.borrow();
                let (false, Some(target)) = (refusing, target) else {
                    drop(inbound);
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_r, in_w) = inbound.into_split();
                    let (out_r, out_w) = outbound.into_split();
                    let up = tokio::spawn(pump(in_r, out_w, s.up.subscribe()));
                    let down = tokio::spawn(pump(out_r, in_w, s.down.subscribe()));
                    let mut reset = s.reset.subscribe();
                    let _ = reset.wait_for(|(g, _)| *g != gen).await;
                    up.abort();
                    down.abort();
                });
            }
        });
        LinkProxy { addr, sw }
    }

    /// A proxy in front of `target`.
    pub async fn to(target: SocketAddr) -> LinkProxy {
        let p = LinkProxy::start().await;
        p.set_target(target);
        p
    }

    pub fn set_target(&self, target: SocketAddr) {
        self.sw.target.send_replace(Some(target));
    }

    /// Silently stops both directions (connections stay open, bytes are held).
    pub fn cut(&self) {
        self.sw.up.send_replace(false);
        self.sw.down.send_replace(false);
    }

    /// Silently stops one direction: `dialler_to_target` or the reverse.
    pub fn cut_one_way(&self, dialler_to_target: bool) {
        if dialler_to_target {
            self.sw.up.send_replace(false);
        } else {
            self.sw.down.send_replace(false);
        }
    }

    /// Closes every connection and refuses new ones until [`heal`](LinkProxy::heal).
    pub fn reset(&self) {
        self.sw.reset.send_modify(|(g, r)| {
            *g += 1;
            *r = true;
        });
    }

    /// Everything flows again and new connections are accepted.
    pub fn heal(&self) {
        self.sw.up.send_replace(true);
        self.sw.down.send_replace(true);
        self.sw.reset.send_modify(|(_, r)| *r = false);
    }
}
