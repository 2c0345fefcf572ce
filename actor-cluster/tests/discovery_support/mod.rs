//! Shared by the discovery tests: a real DNS server on loopback (hickory-server with an
//! in-memory zone whose records a test changes while it runs), nodes, and polling helpers.
#![allow(dead_code)]

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use hickory_server::proto::rr::rdata::{A, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

/// The zone every test serves.
pub const ZONE: &str = "cluster.test.";

/// A DNS server for [`ZONE`] on 127.0.0.1 (UDP). Records have TTL 0 and the SOA minimum is 0,
/// so a resolver asks again at every poll and never caches a negative answer.
pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    server: Option<Server<Catalog>>,
    silent: Option<UdpSocket>,
    serial: u32,
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).expect("a valid name")
}

impl TestDns {
    pub async fn start() -> TestDns {
        let origin = name(ZONE);
        let zone = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            name("ns.cluster.test."),
            name("admin.cluster.test."),
            1,
            60,
            60,
            60,
            0,
        );
        assert!(
            zone.upsert(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1)
                .await
        );
        let zone = Arc::new(zone);
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut dns = TestDns {
            addr,
            zone,
            server: None,
            silent: None,
            serial: 1,
        };
        dns.serve(socket);
        dns
    }

    fn serve(&mut self, socket: UdpSocket) {
        let mut catalog = Catalog::new();
        let handler: Arc<dyn ZoneHandler> = self.zone.clone();
        catalog.upsert(LowerName::new(&name(ZONE)), vec![handler]);
        let mut server = Server::new(catalog);
        server.register_socket(socket);
        self.server = Some(server);
    }

    fn next_serial(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }

    /// Adds an A record `host` → `ip`.
    pub async fn add_a(&mut self, host: &str, ip: Ipv4Addr) {
        let serial = self.next_serial();
        let r = Record::from_rdata(name(host), 0, RData::A(A(ip)));
        assert!(self.zone.upsert(r, serial).await);
    }

    /// Adds an SRV record `srv_name` → `target:port`.
    pub async fn add_srv(&mut self, srv_name: &str, target: &str, port: u16) {
        let serial = self.next_serial();
        let srv = SRV::new(10, 10, port, name(target));
        let r = Record::from_rdata(name(srv_name), 0, RData::SRV(srv));
        assert!(self.zone.upsert(r, serial).await);
    }

    /// Removes the A record `host` → `ip` (the others of `host` stay).
    pub async fn remove_a(&mut self, host: &str, ip: Ipv4Addr) {
        let key = RrKey::new(LowerName::new(&name(host)), RecordType::A);
        let mut records = self.zone.records_mut().await;
        let Some(set) = records.get(&key).cloned() else {
            return;
        };
        let mut set = (*set).clone();
        set.remove(&Record::from_rdata(name(host), 0, RData::A(A(ip))), 0);
        if set.is_empty() {
            records.remove(&key);
            return;
        }
        records.insert(key, Arc::new(set));
    }

    /// Stops answering: queries fail at once (nothing listens on the port).
    pub async fn stop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.shutdown_gracefully().await;
        }
    }

    /// Keeps the port but never answers: queries time out.
    pub async fn go_silent(&mut self) {
        self.stop().await;
        self.silent = Some(UdpSocket::bind(self.addr).await.unwrap());
    }

    /// Answers again, with the records it had.
    pub async fn resume(&mut self) {
        self.stop().await;
        self.silent = None;
        let socket = UdpSocket::bind(self.addr).await.unwrap();
        self.serve(socket);
    }
}

/// A node listening on `listen`, with distribution, short tick and set-up times.
pub async fn node(name: &str, listen: SocketAddr) -> Dist {
    node_with(name, listen, "discovery-secret").await
}

/// A node with `cookie`.
pub async fn node_with(name: &str, listen: SocketAddr, cookie: &str) -> Dist {
    let cfg = DistConfig::new(Cookie::new(cookie).unwrap())
        .listen(listen)
        .tick_time(Duration::from_secs(5));
    let mut cfg = cfg;
    cfg.setup_timeout = Duration::from_secs(2);
    Dist::start(&Node::new(name), cfg)
        .await
        .expect("start distribution")
}

/// Polls `cond` every 10 ms until it holds, failing after `within`.
pub async fn eventually(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
