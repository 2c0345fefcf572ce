//! The transport seam: how a node listens and connects. A [`Transport`] gives ordered,
//! reliable byte streams ([`ByteStream`]); everything above it (handshake, TLS, framing,
//! ticks) is the same whatever carries the bytes.
//!
//! - [`Tcp`] (the default): `TcpStream`s with `TCP_NODELAY`, split into halves without a lock.
//! - TLS is a layer over any transport ([`DistConfig::tls`](crate::DistConfig::tls)): the
//!   TLS session runs over the transport's stream, then the cookie handshake inside it.
//! - [`MemoryNetwork`]: an in-memory network for tests (one per test, no process-wide
//!   state): each node gets a host address on it, streams are `tokio::io::duplex` pipes, and
//!   the test can cut and heal links between hosts. Being free of sockets and of wall-clock
//!   time, it runs under paused `tokio::time`, and it is the shape a deterministic network
//!   simulation (turmoil) plugs into: implement [`Transport`] over its listeners and streams.
//!
//! Addresses stay `SocketAddr`s, so node addresses, seeds and peer lists mean the same on
//! every transport; an in-memory host is an address in `127.0.0.0/8` that only exists on
//! its [`MemoryNetwork`].

mod memory;

pub use memory::{MemoryNetwork, MemoryTransport};

use futures::future::BoxFuture;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The read half of a connection's stream.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection's stream.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;
/// A connection's stream, boxed.
pub type BoxStream = Box<dyn ByteStream>;

/// An ordered, reliable byte stream a connection runs over.
///
/// Wrap any `AsyncRead + AsyncWrite` type with [`boxed`]; implement it directly only to
/// split into halves more cheaply than [`tokio::io::split`] (as `TcpStream` does).
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    /// Splits the stream into halves that a reader and a writer task own separately.
    fn into_halves(self: Box<Self>) -> (BoxRead, BoxWrite) {
        let (r, w) = tokio::io::split(self);
        (Box::new(r), Box::new(w))
    }
}

impl ByteStream for TcpStream {
    fn into_halves(self: Box<Self>) -> (BoxRead, BoxWrite) {
        let (r, w) = (*self).into_split();
        (Box::new(r), Box::new(w))
    }
}

/// Any byte stream as a [`BoxStream`] (split with [`tokio::io::split`]).
pub fn boxed<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(s: S) -> BoxStream {
    Box::new(Wrapped(s))
}

struct Wrapped<S>(S);

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for Wrapped<S> {}

impl<S: AsyncRead + Unpin> AsyncRead for Wrapped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wrapped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Accepts the connections made to one listening address.
pub trait Listener: Send + 'static {
    /// The next incoming connection and the address it comes from.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>>;
    /// The address it listens on (with the port picked, if 0 was asked).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// How a node listens and connects: the seam between the distribution protocol and the
/// network. See the [module docs](self).
///
/// ```
/// use actor_dist::transport::MemoryNetwork;
/// use actor_dist::{Cookie, Dist, DistConfig};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let net = MemoryNetwork::new();
/// let cfg = |host: [u8; 4]| {
///     DistConfig::new(Cookie::new("secret").unwrap())
///         .transport(net.host(host.into()))
/// };
/// let a = Dist::start(&actor_core::Node::new("a@mem"), cfg([127, 0, 0, 2])).await.unwrap();
/// let b = Dist::start(&actor_core::Node::new("b@mem"), cfg([127, 0, 0, 3])).await.unwrap();
/// a.connect(b.name(), b.local_addr()).await.unwrap();
/// assert_eq!(a.nodes(), vec!["b@mem".to_string()]);
/// # });
/// ```
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Listens on `addr` (port 0: a free port).
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>>;
    /// Opens a stream to `addr`.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<BoxStream>>;
}

/// Plain TCP (the default transport), with `TCP_NODELAY` on every stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tcp;

impl Transport for Tcp {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<Box<dyn Listener>>> {
        Box::pin(async move {
            let l = TcpListener::bind(addr).await?;
            Ok(Box::new(TcpAcceptor(l)) as Box<dyn Listener>)
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<BoxStream>> {
        Box::pin(async move {
            let s = TcpStream::connect(addr).await?;
            let _ = s.set_nodelay(true);
            Ok(Box::new(s) as BoxStream)
        })
    }
}

struct TcpAcceptor(TcpListener);

impl Listener for TcpAcceptor {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, from) = self.0.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((Box::new(s) as BoxStream, from))
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}
