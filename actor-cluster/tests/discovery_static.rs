//! Discovery from a static list and from custom strategies, and node names resolved without
//! configuring the peer (`name@host` with a port or an SRV record).

mod discovery_support;

use actor_cluster::discovery::{
    Discovery, DiscoveryConfig, DiscoveryError, Dns, HostResolution, Peer, StaticList, Strategy,
};
use discovery_support::{eventually, node, TestDns};
use futures::future::BoxFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(10);

fn cfg() -> DiscoveryConfig {
    DiscoveryConfig::default()
        .interval(Duration::from_millis(50))
        .poll_timeout(Duration::from_millis(300))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .rng_seed(3)
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn has(dist: &actor_dist::Dist, peer: &str) -> bool {
    dist.nodes().iter().any(|n| n == peer)
}

/// A port where nothing listens.
async fn dead_addr() -> SocketAddr {
    let l = tokio::net::TcpListener::bind(local()).await.unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_list_dials_named_and_unnamed_peers_and_skips_itself() {
    let a = node("a@localhost", local()).await;
    let b = node("b@localhost", local()).await;
    let c = node("c@localhost", local()).await;
    let dead = dead_addr().await;
    let list = StaticList::new([
        Peer::named("b@localhost", b.local_addr()),
        Peer::addr(c.local_addr()),
        Peer::addr(a.local_addr()),
        Peer::addr(dead),
    ]);
    let d = Discovery::start(&a, list, cfg());
    eventually("b and c connected", WITHIN, || {
        has(&a, "b@localhost") && has(&a, "c@localhost")
    })
    .await;
    eventually("the dead address failed", WITHIN, || {
        d.status()
            .peers
            .iter()
            .any(|p| p.addr == dead && p.failures >= 2)
    })
    .await;
    let st = d.status();
    assert_eq!(st.connected, 2, "{st:?}");
    let by_addr = |addr| st.peers.iter().find(|p| p.addr == addr).unwrap();
    assert_eq!(
        by_addr(c.local_addr()).name.as_deref(),
        Some("c@localhost"),
        "name learnt"
    );
    assert!(by_addr(a.local_addr()).is_self);
    assert!(st.dial_failures >= 2);
    assert_eq!(st.poll_errors, 0);

    // A peer that goes away and comes back is dialled again.
    assert!(a.disconnect("b@localhost"));
    eventually("b reconnected", WITHIN, || has(&a, "b@localhost")).await;
}

/// A custom strategy that answers, answers nothing, fails, or hangs, as a test says.
struct Scripted {
    peers: Vec<Peer>,
    mode: Arc<AtomicU8>,
}

const ANSWER: u8 = 0;
const EMPTY: u8 = 1;
const FAIL: u8 = 2;
const HANG: u8 = 3;

impl Strategy for Scripted {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>> {
        Box::pin(async move {
            match self.mode.load(Ordering::SeqCst) {
                ANSWER => Ok(self.peers.clone()),
                EMPTY => Ok(Vec::new()),
                FAIL => Err(DiscoveryError::Other("scripted failure".into())),
                _ => std::future::pending().await,
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_strategy_no_news_is_no_change() {
    let a = node("a@custom", local()).await;
    let b = node("b@custom", local()).await;
    let mode = Arc::new(AtomicU8::new(ANSWER));
    let strategy = Scripted {
        peers: vec![Peer::named("b@custom", b.local_addr())],
        mode: mode.clone(),
    };
    let d = Discovery::start(&a, strategy, cfg());
    eventually("b connected", WITHIN, || has(&a, "b@custom")).await;
    let answer = d.status().peers;

    for (m, what) in [(EMPTY, "empty"), (FAIL, "failing"), (HANG, "hanging")] {
        mode.store(m, Ordering::SeqCst);
        let st = d.status();
        eventually(what, WITHIN, || {
            let now = d.status();
            now.empty_answers + now.poll_errors >= st.empty_answers + st.poll_errors + 2
        })
        .await;
        let now = d.status();
        assert_eq!(now.peers, answer, "{what}: the previous answer stays");
        assert!(has(&a, "b@custom"), "{what}: nobody is disconnected");
    }
    let st = d.status();
    assert!(st.empty_answers >= 2 && st.poll_errors >= 4, "{st:?}");
    assert_eq!(st.last_error.as_deref(), Some("timed out"));

    // A capped answer: beyond max_peers, peers are ignored and counted.
    drop(d);
    let many: Vec<Peer> = (0..10)
        .map(|i| Peer::addr(SocketAddr::from(([127, 0, 0, 1], 1000 + i))))
        .collect();
    let strategy = Scripted {
        peers: many,
        mode: Arc::new(AtomicU8::new(ANSWER)),
    };
    let d = Discovery::start(&a, strategy, cfg().max_peers(4));
    eventually("capped", WITHIN, || d.status().peers_ignored >= 6).await;
    assert_eq!(d.status().peers.len(), 4);
}

/// `name@host` resolves without configuring the peer: the host's A record and a configured
/// port, or the host's SRV record; with discovery stopped, nothing resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_at_host_resolves_through_a_port_or_an_srv_record() {
    let mut dns = TestDns::start().await;
    // b listens on 127.0.0.9:<port>, and DNS knows b.cluster.test as 127.0.0.9.
    let b = node("b@b.cluster.test", SocketAddr::from(([127, 0, 0, 9], 0))).await;
    dns.add_a("b.cluster.test.", Ipv4Addr::new(127, 0, 0, 9))
        .await;
    // c listens anywhere on 127.0.0.1; its SRV record says where.
    let c = node("c@c.cluster.test", local()).await;
    dns.add_a("c.cluster.test.", Ipv4Addr::LOCALHOST).await;
    dns.add_srv(
        "_dist._tcp.c.cluster.test.",
        "c.cluster.test.",
        c.local_addr().port(),
    )
    .await;
    let resolver = Dns::with_servers(&[dns.addr], Duration::from_millis(500)).unwrap();

    // By port: an explicit connect by name.
    let a = node("a@a.cluster.test", local()).await;
    let port = HostResolution::Port(b.local_addr().port());
    let da = Discovery::start(
        &a,
        StaticList::default(),
        cfg().resolve_hosts(resolver.clone(), port),
    );
    let info = a
        .connect_node("b@b.cluster.test")
        .await
        .expect("b resolved");
    assert_eq!(info.name, "b@b.cluster.test");

    // By SRV: an rpc to a node never configured connects on its own.
    let e = node("e@e.cluster.test", local()).await;
    let srv = HostResolution::Srv {
        service: "_dist._tcp".into(),
    };
    let de = Discovery::start(
        &e,
        StaticList::default(),
        cfg().resolve_hosts(resolver, srv),
    );
    let found = e.whereis_on("c@c.cluster.test", "nobody").await;
    assert_eq!(found.ok(), Some(None));
    assert!(has(&e, "c@c.cluster.test"));

    // A name DNS does not know fails with the reason.
    let err = e.connect_node("z@z.cluster.test").await.unwrap_err();
    assert!(format!("{err:?}").contains("not resolved"), "{err:?}");

    // Discovery stopped: its resolver is gone.
    drop((da, de));
    let err = a.connect_node("c@c.cluster.test").await.unwrap_err();
    assert!(format!("{err:?}").contains("no address known"), "{err:?}");
}
