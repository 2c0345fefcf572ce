//! DNS polling ([`DnsStrategy`]) and host resolution for node names ([`HostResolution`]),
//! through `hickory-resolver`.

use super::{DiscoveryError, Peer, Strategy};
use futures::future::BoxFuture;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A DNS client: the system's configuration (`/etc/resolv.conf`) or given name servers.
/// Answers are cached for their TTL, as any resolver does (a record with TTL 0 is asked for
/// at every poll). Cheap to clone.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
}

impl fmt::Debug for Dns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dns { .. }")
    }
}

impl Dns {
    /// The system's resolver configuration (`/etc/resolv.conf` on Unix, with its search
    /// domains: Kubernetes' short service names work).
    pub fn system() -> Result<Dns, DiscoveryError> {
        let mut b = TokioResolver::builder_tokio().map_err(dns_error)?;
        b.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Ok(Dns {
            resolver: b.build().map_err(dns_error)?,
        })
    }

    /// Asks the name servers at `servers` (UDP, then TCP for truncated answers), each with
    /// `timeout` per attempt, no search domains and no hosts file.
    pub fn with_servers(servers: &[SocketAddr], timeout: Duration) -> Result<Dns, DiscoveryError> {
        let name_servers = servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut b = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let opts = b.options_mut();
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = timeout;
        opts.attempts = 1;
        Ok(Dns {
            resolver: b.build().map_err(dns_error)?,
        })
    }

    /// A resolver configured by hand.
    pub fn from_resolver(resolver: TokioResolver) -> Dns {
        Dns { resolver }
    }

    /// The addresses of `host` (A and AAAA records), each with `port`. No records (or no such
    /// name) is an empty list, not an error.
    pub async fn addrs(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, DiscoveryError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        match self.resolver.lookup_ip(host).await {
            Ok(l) => Ok(l.iter().map(|ip| SocketAddr::new(ip, port)).collect()),
            Err(e) if no_records(&e) => Ok(Vec::new()),
            Err(e) => Err(dns_error(e)),
        }
    }

    /// The SRV records of `name`: each target host (without the final dot) and port, the
    /// preferred first (lowest priority, then highest weight). No records is an empty list.
    pub async fn srv(&self, name: &str) -> Result<Vec<(String, u16)>, DiscoveryError> {
        let lookup = match self.resolver.srv_lookup(name).await {
            Ok(l) => l,
            Err(e) if no_records(&e) => return Ok(Vec::new()),
            Err(e) => return Err(dns_error(e)),
        };
        let mut found: Vec<(u16, std::cmp::Reverse<u16>, String, u16)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some((
                    srv.priority,
                    std::cmp::Reverse(srv.weight),
                    srv.target.to_utf8().trim_end_matches('.').to_string(),
                    srv.port,
                )),
                _ => None,
            })
            .collect();
        found.sort();
        found.dedup();
        Ok(found.into_iter().map(|(_, _, t, p)| (t, p)).collect())
    }
}

fn no_records(e: &NetError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

fn dns_error(e: NetError) -> DiscoveryError {
    match e {
        NetError::Timeout => DiscoveryError::Timeout,
        e => DiscoveryError::Dns(e.to_string()),
    }
}

/// What a [`DnsStrategy`] asks.
#[derive(Clone, Debug)]
enum Query {
    A { name: String, port: u16 },
    Srv { name: String },
}

/// DNS polling: the A/AAAA records of one name with a configured port (libcluster's `DNSPoll`,
/// `Kubernetes.DNS`), or the SRV records of one name, each a target host and port
/// (`Kubernetes.DNSSRV`).
///
/// Without [`node_basename`](DnsStrategy::node_basename) the peers come without names, and the
/// runner asks each for its name when it first dials it; with it, an A record `10.0.0.5` is the
/// node `basename@10.0.0.5` and an SRV target `pod-0.svc.ns` the node `basename@pod-0.svc.ns`
/// (the usual naming of nodes in Kubernetes).
#[derive(Clone, Debug)]
pub struct DnsStrategy {
    dns: Dns,
    query: Query,
    basename: Option<String>,
}

impl DnsStrategy {
    /// Peers at the A and AAAA records of `name`, each listening on `port`.
    pub fn a(dns: Dns, name: impl Into<String>, port: u16) -> DnsStrategy {
        DnsStrategy {
            dns,
            query: Query::A {
                name: name.into(),
                port,
            },
            basename: None,
        }
    }

    /// Peers at the SRV records of `name` (e.g. `_dist._tcp.app.ns.svc.cluster.local`): each
    /// record's target host (resolved through its A/AAAA records) and port.
    pub fn srv(dns: Dns, name: impl Into<String>) -> DnsStrategy {
        DnsStrategy {
            dns,
            query: Query::Srv { name: name.into() },
            basename: None,
        }
    }

    /// Names each peer `basename@host`, with the host of its record (an A record's address,
    /// an SRV record's target).
    pub fn node_basename(mut self, basename: impl Into<String>) -> DnsStrategy {
        self.basename = Some(basename.into());
        self
    }

    fn name_for(&self, host: &str) -> Option<String> {
        self.basename.as_ref().map(|b| format!("{b}@{host}"))
    }

    async fn poll(&self) -> Result<Vec<Peer>, DiscoveryError> {
        match &self.query {
            Query::A { name, port } => Ok(self
                .dns
                .addrs(name, *port)
                .await?
                .into_iter()
                .map(|addr| Peer {
                    name: self.name_for(&addr.ip().to_string()),
                    addr,
                })
                .collect()),
            Query::Srv { name } => {
                let targets = self.dns.srv(name).await?;
                let resolved = futures::future::join_all(
                    targets
                        .iter()
                        .map(|(host, port)| self.dns.addrs(host, *port)),
                )
                .await;
                let mut peers = Vec::new();
                for ((host, _), addrs) in targets.iter().zip(resolved) {
                    match addrs {
                        // One address per target: a node listens once.
                        Ok(addrs) => peers.extend(addrs.into_iter().take(1).map(|addr| Peer {
                            name: self.name_for(host),
                            addr,
                        })),
                        Err(e) => tracing::debug!(%host, error = %e, "SRV target not resolved"),
                    }
                }
                Ok(peers)
            }
        }
    }
}

impl Strategy for DnsStrategy {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>> {
        Box::pin(self.poll())
    }
}

/// How a node name `name@host` resolves to an address when no peer of the current answer has
/// that name ([`DiscoveryConfig::resolve_hosts`](super::DiscoveryConfig::resolve_hosts)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostResolution {
    /// Every node listens on this port of its host's address (A/AAAA records, or the host
    /// itself when it is an IP address).
    Port(u16),
    /// The SRV record `<service>.<host>` (e.g. service `_dist._tcp`) gives the port (and the
    /// target host, whose address is used).
    Srv {
        /// The service and protocol labels, e.g. `_dist._tcp`.
        service: String,
    },
}

impl HostResolution {
    /// The address of `name` (`name@host`) through `dns`.
    pub async fn resolve(&self, dns: &Dns, name: &str) -> Result<SocketAddr, String> {
        let host = host_of(name).ok_or_else(|| format!("no host in node name {name:?}"))?;
        let addrs = match self {
            HostResolution::Port(port) => dns.addrs(host, *port).await,
            HostResolution::Srv { service } => {
                let targets = dns
                    .srv(&format!("{service}.{host}"))
                    .await
                    .map_err(|e| e.to_string())?;
                let Some((target, port)) = targets.into_iter().next() else {
                    return Err(format!("no SRV record {service}.{host}"));
                };
                dns.addrs(&target, port).await
            }
        };
        let addrs = addrs.map_err(|e| e.to_string())?;
        addrs
            .into_iter()
            .next()
            .ok_or_else(|| format!("no address for {host}"))
    }
}

/// The host part of a node name `name@host`.
pub(crate) fn host_of(name: &str) -> Option<&str> {
    match name.rsplit_once('@') {
        Some((n, h)) if !n.is_empty() && !h.is_empty() => Some(h),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_a_node_name() {
        assert_eq!(host_of("a@h.example"), Some("h.example"));
        assert_eq!(host_of("a@10.0.0.1"), Some("10.0.0.1"));
        assert_eq!(host_of("a@b@h"), Some("h"));
        for bad in ["a", "@h", "a@", "", "@"] {
            assert_eq!(host_of(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_host_that_is_an_address_needs_no_dns() {
        // A name server that does not exist: never asked.
        let dns = Dns::with_servers(&["127.0.0.1:9".parse().unwrap()], Duration::from_millis(50))
            .unwrap();
        let r = HostResolution::Port(4370);
        assert_eq!(
            r.resolve(&dns, "a@10.1.2.3").await,
            Ok("10.1.2.3:4370".parse().unwrap())
        );
        assert_eq!(
            r.resolve(&dns, "a@::1").await,
            Ok("[::1]:4370".parse().unwrap())
        );
        assert!(r.resolve(&dns, "nohost").await.is_err());
    }

    #[tokio::test]
    async fn basename_names_peers_by_host() {
        let dns = Dns::with_servers(&[], Duration::from_millis(50)).unwrap();
        let s = DnsStrategy::a(dns, "nodes.example", 4370).node_basename("app");
        assert_eq!(s.name_for("10.0.0.5").as_deref(), Some("app@10.0.0.5"));
    }
}
