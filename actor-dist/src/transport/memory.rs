//! An in-memory network of hosts for tests: listeners in a map owned by the network value,
//! streams that are `tokio::io::duplex` pipes, links that a test can cut and heal.

use super::{boxed, BoxStream, Listener, Transport};
use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc;

/// Bytes buffered in each direction of an in-memory stream.
const PIPE: usize = 256 * 1024;
/// Connections a listener holds before `accept` takes them (beyond: refused).
const BACKLOG: usize = 128;
/// The first port handed out on a host.
const FIRST_PORT: u16 = 1024;

/// An in-memory network: hosts (one per node, [`MemoryNetwork::host`]) that listen and
/// connect through it. Cheap to clone (a handle); nothing is shared between two networks.
///
/// [`cut`](MemoryNetwork::cut) breaks every stream between two hosts at once (both ends see
/// a reset, as after a TCP reset) and refuses new connects between them until
/// [`heal`](MemoryNetwork::heal); a node sees its peer go down with `connection_closed`.
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    net: Arc<Mutex<Net>>,
}

impl std::fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let net = self.net.lock();
        f.debug_struct("MemoryNetwork")
            .field("listeners", &net.listeners.len())
            .field("links", &net.links.len())
            .finish()
    }
}

#[derive(Default)]
struct Net {
    listeners: HashMap<SocketAddr, mpsc::Sender<(BoxStream, SocketAddr)>>,
    next_port: HashMap<IpAddr, u16>,
    /// Live streams: (connecting host, accepting host, state). Dead ones are pruned as new
    /// ones are made, so the list is bounded by the live streams.
    links: Vec<(IpAddr, IpAddr, Weak<Link>)>,
    /// Host pairs that cannot connect (each pair in both orders).
    cut: HashSet<(IpAddr, IpAddr)>,
}

impl Net {
    fn port(&mut self, ip: IpAddr) -> u16 {
        loop {
            let next = self.next_port.entry(ip).or_insert(FIRST_PORT);
            let port = *next;
            *next = next.checked_add(1).unwrap_or(FIRST_PORT);
            if !self.listeners.contains_key(&SocketAddr::new(ip, port)) {
                return port;
            }
        }
    }
}

impl MemoryNetwork {
    /// A new, empty network.
    pub fn new() -> Self {
        MemoryNetwork::default()
    }

    /// The transport of the host at `ip` (use an address in `127.0.0.0/8`, one per node): it
    /// listens on `ip` (whatever address the node's config names) and connects from it.
    pub fn host(&self, ip: IpAddr) -> Arc<MemoryTransport> {
        Arc::new(MemoryTransport {
            net: self.clone(),
            ip,
        })
    }

    /// Breaks every stream between hosts `a` and `b` (both ends fail at their next read or
    /// write) and refuses new connects between them until [`heal`](MemoryNetwork::heal).
    pub fn cut(&self, a: IpAddr, b: IpAddr) {
        let broken: Vec<Arc<Link>> = {
            let mut net = self.net.lock();
            net.cut.insert((a, b));
            net.cut.insert((b, a));
            net.links
                .iter()
                .filter(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
                .filter_map(|(_, _, l)| l.upgrade())
                .collect()
        };
        for l in broken {
            l.break_off();
        }
    }

    /// Lets hosts `a` and `b` connect again.
    pub fn heal(&self, a: IpAddr, b: IpAddr) {
        let mut net = self.net.lock();
        net.cut.remove(&(a, b));
        net.cut.remove(&(b, a));
    }

    /// Streams open on the network (both ends alive).
    pub fn open_streams(&self) -> usize {
        let mut net = self.net.lock();
        net.links.retain(|(_, _, l)| l.strong_count() == 2);
        net.links.len()
    }
}

/// One host's view of a [`MemoryNetwork`]: the [`Transport`] of one node.
#[derive(Debug)]
pub struct MemoryTransport {
    net: MemoryNetwork,
    ip: IpAddr,
}

impl Transport for MemoryTransport {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let mut net = self.net.net.lock();
            let port = match addr.port() {
                0 => net.port(self.ip),
                p => p,
            };
            let at = SocketAddr::new(self.ip, port);
            if net.listeners.contains_key(&at) {
                return Err(io::ErrorKind::AddrInUse.into());
            }
            let (tx, rx) = mpsc::channel(BACKLOG);
            net.listeners.insert(at, tx);
            Ok(Box::new(MemoryListener {
                rx,
                at,
                net: Arc::downgrade(&self.net.net),
            }) as Box<dyn Listener>)
        })
    }

    fn connect(&self, to: SocketAddr) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let mut net = self.net.net.lock();
            if net.cut.contains(&(self.ip, to.ip())) {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            let Some(tx) = net.listeners.get(&to).cloned() else {
                return Err(io::ErrorKind::ConnectionRefused.into());
            };
            let from = SocketAddr::new(self.ip, net.port(self.ip));
            let (near, far) = tokio::io::duplex(PIPE);
            let link = Arc::new(Link::default());
            net.links.retain(|(_, _, l)| l.strong_count() > 0);
            net.links.push((self.ip, to.ip(), Arc::downgrade(&link)));
            drop(net);
            let far = MemStream {
                io: far,
                link: link.clone(),
                side: 1,
            };
            tx.try_send((boxed(far), from))
                .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            Ok(boxed(MemStream {
                io: near,
                link,
                side: 0,
            }))
        })
    }
}

struct MemoryListener {
    rx: mpsc::Receiver<(BoxStream, SocketAddr)>,
    at: SocketAddr,
    net: Weak<Mutex<Net>>,
}

impl Listener for MemoryListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        Box::pin(async move {
            match self.rx.recv().await {
                Some(c) => Ok(c),
                None => Err(io::ErrorKind::NotConnected.into()),
            }
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.at)
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        if let Some(net) = self.net.upgrade() {
            net.lock().listeners.remove(&self.at);
        }
    }
}

/// The state both ends of one stream share: whether the network broke it, and who waits.
#[derive(Default)]
struct Link {
    broken: AtomicBool,
    /// Read and write wakers of each side.
    wakers: [AtomicWaker; 4],
}

impl Link {
    fn break_off(&self) {
        self.broken.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            w.wake();
        }
    }
}

/// One end of an in-memory stream.
struct MemStream {
    io: DuplexStream,
    link: Arc<Link>,
    side: usize,
}

impl MemStream {
    fn check(&self, cx: &Context<'_>, slot: usize) -> io::Result<()> {
        self.link.wakers[self.side * 2 + slot].register(cx.waker());
        if self.link.broken.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx, 0)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx, 1)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx, 1)?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[tokio::test]
    async fn streams_carry_bytes_and_are_forgotten_when_closed() {
        let net = MemoryNetwork::new();
        let (a, b) = (net.host(ip(1)), net.host(ip(2)));
        let mut l = b.listen("0.0.0.0:0".parse().unwrap()).await.unwrap();
        let at = l.local_addr().unwrap();
        assert_eq!(at.ip(), ip(2));
        for _ in 0..10 {
            let mut c = a.connect(at).await.unwrap();
            let (mut s, from) = l.accept().await.unwrap();
            assert_eq!(from.ip(), ip(1));
            c.write_all(b"ping").await.unwrap();
            let mut buf = [0; 4];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            drop(s);
            assert_eq!(c.read(&mut buf).await.unwrap(), 0, "end of stream");
        }
        assert_eq!(net.open_streams(), 0);
        assert!(net.net.lock().links.len() <= 1, "closed streams are pruned");
        drop(l);
        assert!(
            net.net.lock().listeners.is_empty(),
            "a dropped listener is gone"
        );
        let refused = a.connect(at).await.err().unwrap();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn a_cut_breaks_both_ends_until_healed() {
        let net = MemoryNetwork::new();
        let (a, b) = (net.host(ip(1)), net.host(ip(2)));
        let mut l = b.listen(SocketAddr::new(ip(2), 4000)).await.unwrap();
        let mut c = a.connect(l.local_addr().unwrap()).await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let mut buf = [0; 1];
            s.read(&mut buf).await
        });
        tokio::task::yield_now().await;
        net.cut(ip(2), ip(1));
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::ConnectionReset,
            "a waiting read wakes"
        );
        assert!(c.write_all(b"x").await.is_err());
        assert!(a.connect(l.local_addr().unwrap()).await.is_err());
        net.heal(ip(1), ip(2));
        assert!(a.connect(l.local_addr().unwrap()).await.is_ok());
    }
}
