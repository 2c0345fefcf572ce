//! Finding a node without having been told its address: a [`NodeResolver`] consulted when a
//! connect by name has no address (the role epmd plays in Erlang), and dialling an address
//! whose node name is unknown (a DNS A record carries no node name).
//!
//! Addresses a node was given (seeds, [`Dist::connect`]) or learnt (peer lists, a peer's own
//! report once connected) come first; the resolver is asked only when none is known. What it
//! answers is used for that connect and not remembered as configured: once the connection is
//! up, the peer's reported listen address is remembered as for any peer.

use super::setup::wait_up;
use super::{Dist, Inner};
use crate::conn::Conn;
use crate::events::{DownReason, NodeInfo};
use crate::handshake::{self, HandshakeError, PeerInfo};
use crate::transport::boxed;
use actor_core::NodeId;
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Resolves a node name to the address it listens on, when this node knows none: the role
/// epmd plays in Erlang. Installed with [`Dist::set_resolver`] (the cluster layer's discovery
/// installs one: from its strategy's answers, or from the host in `name@host` with a port or
/// an SRV record).
///
/// It is consulted by connects by name ([`Dist::connect_node`], and the auto-connect of
/// `spawn_on`, rpc and everything built on them) when no address is known for the node. It is
/// not consulted for a send to a pid of a node never heard of: a pid carries no name, only a
/// node id.
///
/// ```
/// use actor_dist::NodeResolver;
/// use futures::future::BoxFuture;
/// use std::net::SocketAddr;
///
/// /// Every node listens on port 4370 of the host in its name.
/// struct FixedPort;
/// impl NodeResolver for FixedPort {
///     fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SocketAddr, String>> {
///         Box::pin(async move {
///             let host = name.rsplit_once('@').map(|(_, h)| h).ok_or("no host in the name")?;
///             let ip = host.parse::<std::net::IpAddr>().map_err(|e| e.to_string())?;
///             Ok(SocketAddr::new(ip, 4370))
///         })
///     }
/// }
/// ```
pub trait NodeResolver: Send + Sync + 'static {
    /// The address `name` listens on, or why it cannot be found. It should answer within the
    /// node's `setup_timeout` (a slower answer fails the connect).
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SocketAddr, String>>;
}

impl Dist {
    /// Installs (`Some`) or removes (`None`) the resolver consulted when a connect by name has
    /// no address for the node ([`NodeResolver`]).
    pub fn set_resolver(&self, resolver: Option<Arc<dyn NodeResolver>>) {
        *self.inner.resolver.write() = resolver;
    }

    /// Connects to the node called `name` and waits until the connection is up, as
    /// `net_kernel:connect_node/1`: at the address known for it (given or learnt), else at the
    /// one the resolver answers ([`Dist::set_resolver`]). Tried at once, even while
    /// auto-connects to the node back off.
    pub async fn connect_node(&self, name: &str) -> Result<NodeInfo, DownReason> {
        if name == self.name() {
            return Err(DownReason::ConnectionSetupFailed(format!(
                "{name} is this node"
            )));
        }
        let id = NodeId::from_name(name);
        let known = self.inner.known.lock().get(&id).cloned();
        let addr = match known {
            Some((_, addr)) => addr,
            None => self.inner.resolve(name).await?,
        };
        let conn = self.inner.start_connect(id, name.to_string(), addr);
        wait_up(&conn).await
    }

    /// Connects to whichever node listens at `addr`, learning its name first: the node is
    /// asked for its name (a probe that proves nothing and changes nothing on either side),
    /// then connected to by that name, which the connection's handshake proves. For addresses
    /// that come without a node name, such as DNS A records. Fails when `addr` is this node.
    /// With TLS, the peer's certificate must be valid for the IP address of `addr`.
    pub async fn connect_addr(&self, addr: SocketAddr) -> Result<NodeInfo, DownReason> {
        let name = self.node_name_at(addr).await?;
        if name == self.name() {
            return Err(DownReason::ConnectionSetupFailed(format!(
                "{addr} is this node"
            )));
        }
        self.connect(&name, addr).await
    }

    /// The name of the node listening at `addr` (this node's own name if it is this node),
    /// as it says in the handshake's first message: a probe that proves nothing (not even the
    /// cookie) and changes nothing on either side. Dial it by that name to have it proved.
    /// Within the set-up timeout.
    pub async fn node_name_at(&self, addr: SocketAddr) -> Result<String, DownReason> {
        tokio::time::timeout(self.inner.cfg.setup_timeout, self.inner.probe(addr))
            .await
            .map_err(|_| DownReason::ConnectionSetupFailed("setup timeout".into()))?
            .map(|peer| peer.name)
            .map_err(|e| DownReason::ConnectionSetupFailed(format!("{addr}: {e}")))
    }
}

impl Inner {
    /// The resolver's address for `name`, within the set-up timeout.
    async fn resolve(&self, name: &str) -> Result<SocketAddr, DownReason> {
        let resolver = self.resolver.read().clone();
        let Some(resolver) = resolver else {
            return Err(DownReason::ConnectionSetupFailed(format!(
                "no address known for {name}"
            )));
        };
        match tokio::time::timeout(self.cfg.setup_timeout, resolver.resolve(name)).await {
            Ok(Ok(addr)) => Ok(addr),
            Ok(Err(e)) => Err(DownReason::ConnectionSetupFailed(format!(
                "{name} not resolved: {e}"
            ))),
            Err(_) => Err(DownReason::ConnectionSetupFailed(format!(
                "{name} not resolved: timeout"
            ))),
        }
    }

    /// For an auto-connect by name that found no connection and started none: resolves the
    /// name and starts a connection, unless auto-connect is off, the node is shutting down or
    /// the node's backoff runs (then the error says why).
    pub(super) async fn resolve_and_connect(
        self: &Arc<Self>,
        id: NodeId,
        name: &str,
    ) -> Result<Arc<Conn>, DownReason> {
        if self.retry.lock().contains_key(&id) {
            return Err(DownReason::ConnectionSetupFailed(format!(
                "{name} could not be reached; not retried before the backoff"
            )));
        }
        let blocked = !self.cfg.auto_connect
            || self.shut.load(Ordering::SeqCst)
            || self.known.lock().contains_key(&id)
            || name == self.node.name();
        if blocked {
            return Err(DownReason::ConnectionSetupFailed(format!(
                "no address known for {name}"
            )));
        }
        let addr = self.resolve(name).await?;
        Ok(self.start_connect(id, name.to_string(), addr))
    }

    /// Asks the node at `addr` for its name ([`handshake::probe`]).
    async fn probe(&self, addr: SocketAddr) -> Result<PeerInfo, HandshakeError> {
        let tcp = self.cfg.transport.connect(addr).await?;
        let mut stream = match &self.cfg.tls {
            None => tcp,
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                let name = tokio_rustls::rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                boxed(connector.connect(name, tcp).await?)
            }
        };
        handshake::probe(&mut *stream, &self.identity(), self.challenge()).await
    }
}
