//! The byte streams connections run over: plain TCP or TLS.

use crate::handshake::HandshakeError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream a connection runs over.
pub(crate) trait AnyStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AnyStream for T {}

pub(super) type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
pub(super) type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// The byte stream of one connection: plain TCP (split without locking) or TLS.
pub(super) enum Stream {
    Tcp(TcpStream),
    Tls(Box<dyn AnyStream>),
}

impl Stream {
    pub(super) fn stream(&mut self) -> &mut dyn AnyStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => s.as_mut(),
        }
    }

    pub(super) fn split(self) -> (BoxRead, BoxWrite) {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Stream::Tls(s) => {
                let (r, w) = tokio::io::split(s);
                (Box::new(r), Box::new(w))
            }
        }
    }
}

/// The TLS server name for a node called `name@host`.
pub(super) fn server_name(
    node: &str,
) -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>, HandshakeError> {
    let host = node.rsplit_once('@').map_or(node, |(_, h)| h);
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::Protocol(format!("no TLS server name in {node:?}: {e}")))
}
