//! Discovery: where peers are, and how a node name resolves to an address.
//!
//! A [`Strategy`] answers one question, "which peers are there now?", with a list of
//! [`Peer`]s (a socket address, and the node name where the source knows it). The
//! [`Discovery`] runner on each node asks it every [`DiscoveryConfig::interval`], dials the
//! peers it is not connected to (through `actor-dist`), backs off per peer on failures, and
//! keeps counters a test or an operator can read ([`Discovery::status`]). Once connected,
//! `actor-dist`'s transitive connects complete the mesh, as in Erlang.
//!
//! Strategies:
//! - [`StaticList`]: a fixed list (seeds), with or without names;
//! - [`DnsStrategy`]: DNS polling through `hickory-resolver`: A/AAAA records of one name with a
//!   configured port, or SRV records (target host and port each). A Kubernetes headless service
//!   is just DNS: its A records list the ready pods, its SRV records name them;
//! - your own: implement [`Strategy`] (a cloud API, a file, a service registry).
//!
//! ```
//! use actor_cluster::discovery::{Discovery, DiscoveryConfig, Peer, StaticList};
//! use actor_core::Node;
//! use actor_dist::{Cookie, Dist, DistConfig};
//! use std::time::Duration;
//!
//! # #[tokio::main] async fn main() {
//! let cookie = Cookie::new("secret").unwrap();
//! let a = Node::new("a@localhost");
//! let b = Node::new("b@localhost");
//! let da = Dist::start(&a, DistConfig::new(cookie.clone())).await.unwrap();
//! let db = Dist::start(&b, DistConfig::new(cookie)).await.unwrap();
//!
//! // b finds a from a static list (a name is optional: an address alone is probed for it).
//! let list = StaticList::new([Peer::named("a@localhost", da.local_addr())]);
//! let cfg = DiscoveryConfig::default().interval(Duration::from_millis(100));
//! let discovery = Discovery::start(&db, list, cfg);
//! while db.nodes() != ["a@localhost"] {
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! assert_eq!(discovery.status().connected, 1);
//! # }
//! ```
//!
//! ## Semantics
//!
//! - **DNS lies, so DNS never disconnects.** A peer that vanishes from the answers is no longer
//!   dialled, but a live connection to it stays: a node is down when its connection says so
//!   (heartbeats), not when a record is late, and the membership layer decides who leaves. An
//!   answer that is empty, an error, or slower than [`DiscoveryConfig::poll_timeout`] changes
//!   nothing: the previous answer stays in force (empty answers and errors are counted in
//!   [`DiscoveryStatus`] and logged, rate-limited). A wrong answer (an address where no node, or a
//!   node of another cluster, listens) costs failed dials, counted and backed off per peer;
//!   nothing that is connected is touched.
//! - **Dialling**: one dial at a time per peer; a failed peer waits an exponential backoff with
//!   jitter ([`DiscoveryConfig::backoff`], jitter from a seedable source) before the next; a
//!   connected peer is not dialled. A peer that proves to be this node (its own A record) is
//!   skipped from then on.
//! - **Names**: a peer with a name is connected to by name (the handshake proves it). A peer
//!   without one (an A record) is first asked for its name ([`actor_dist::Dist::connect_addr`]:
//!   a probe that proves nothing and changes nothing), then connected to by name; the name is
//!   remembered while the address stays in the answers. [`DnsStrategy::node_basename`] names
//!   peers `basename@host` as libcluster does, with no probe.
//! - **Bounds**: at most [`DiscoveryConfig::max_peers`] peers are taken from one answer (the
//!   rest are counted and ignored); per-peer state lives only while the peer is in the answer.
//!
//! ## Name resolution (epmd's role)
//!
//! [`Discovery::start`] installs a [`actor_dist::NodeResolver`] on the node: a connect by name
//! with no known address (`Dist::connect_node`, `spawn_on`, rpc...) finds it in the current
//! answer of the strategy, else, when [`DiscoveryConfig::resolve_hosts`] is set, from the host
//! in `name@host`: its A/AAAA records with a configured port, or an SRV record
//! `_service._tcp.host` ([`HostResolution`]). So a cluster needs no per-peer configuration: an
//! Erlang node asks epmd on the peer's host for the port; here the port is fixed by
//! configuration or published in DNS.
//!
//! ## Compared with libcluster and epmd
//!
//! - libcluster's `Epmd` strategy is [`StaticList`]; `DNSPoll` and `Kubernetes.DNS` are
//!   [`DnsStrategy::a`] (with `node_basename`), `Kubernetes.DNSSRV` is [`DnsStrategy::srv`];
//!   `Gossip` (multicast) and the Kubernetes API strategy have no built-in counterpart here
//!   (a custom [`Strategy`] can do either). libcluster disconnects nodes that vanish from some
//!   strategies' answers; this runner never does (see above).
//! - epmd maps a name to a port on the name's host; here the port comes from configuration or
//!   an SRV record, and there is no extra daemon per host.
//! - As in Erlang, discovery only opens connections; liveness stays with the connection's
//!   heartbeats and membership decisions with the membership layer.

mod dns;
mod runner;
mod static_list;

pub use dns::{Dns, DnsStrategy, HostResolution};
pub use runner::{Discovery, DiscoveryConfig, DiscoveryStatus, PeerStatus};
pub use static_list::StaticList;

use futures::future::BoxFuture;
use std::net::SocketAddr;

/// A peer a strategy found: where it listens, and its node name where the source knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    /// Its node name (`name@host`), if known.
    pub name: Option<String>,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Peer {
    /// A peer known by name and address.
    pub fn named(name: impl Into<String>, addr: SocketAddr) -> Peer {
        Peer {
            name: Some(name.into()),
            addr,
        }
    }

    /// A peer known by address only (its name is learnt when it is dialled).
    pub fn addr(addr: SocketAddr) -> Peer {
        Peer { name: None, addr }
    }
}

/// Why a strategy could not answer. The runner counts it, logs it (rate-limited), and keeps
/// the previous answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// A DNS lookup failed (server failure, refused, unreachable...).
    #[error("dns: {0}")]
    Dns(String),
    /// The source did not answer in time.
    #[error("timed out")]
    Timeout,
    /// Anything else (custom strategies).
    #[error("{0}")]
    Other(String),
}

/// Where peers are: a static list, DNS, or anything a user implements.
///
/// `discover` returns the peers there are now (this node may be among them: the runner skips
/// it). An `Err` or an empty list means "no news": the runner keeps the previous answer. The
/// runner bounds each call by [`DiscoveryConfig::poll_timeout`] and never calls it twice at
/// once.
///
/// ```
/// use actor_cluster::discovery::{DiscoveryError, Peer, Strategy};
/// use futures::future::BoxFuture;
///
/// /// Peers listed one per line in a file (`name@host addr` or just `addr`).
/// struct FileList(std::path::PathBuf);
///
/// impl Strategy for FileList {
///     fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>> {
///         Box::pin(async move {
///             // A small local file: reading it blocking is fine.
///             let text = std::fs::read_to_string(&self.0)
///                 .map_err(|e| DiscoveryError::Other(e.to_string()))?;
///             Ok(text
///                 .lines()
///                 .filter_map(|l| match l.split_once(' ') {
///                     Some((name, addr)) => Some(Peer::named(name, addr.parse().ok()?)),
///                     None => Some(Peer::addr(l.trim().parse().ok()?)),
///                 })
///                 .collect())
///         })
///     }
/// }
/// ```
pub trait Strategy: Send + Sync + 'static {
    /// The peers there are now.
    fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>>;
}

impl<S: Strategy + ?Sized> Strategy for std::sync::Arc<S> {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>> {
        (**self).discover()
    }
}
