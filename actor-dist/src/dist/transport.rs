//! TLS over a transport's streams: the server name a node's certificate is checked for.

use crate::handshake::HandshakeError;

/// The TLS server name for a node called `name@host`.
pub(super) fn server_name(
    node: &str,
) -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>, HandshakeError> {
    let host = node.rsplit_once('@').map_or(node, |(_, h)| h);
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::Protocol(format!("no TLS server name in {node:?}: {e}")))
}
