//! Discovery through a real DNS server on loopback whose records change during the test:
//! nodes appear and join; a removed record stops dialling but disconnects nobody; empty,
//! failing and silent DNS change nothing.

mod discovery_support;

use actor_cluster::discovery::{Discovery, DiscoveryConfig, DiscoveryStatus, Dns, DnsStrategy};
use discovery_support::{eventually, node, TestDns};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(10);

fn cfg() -> DiscoveryConfig {
    DiscoveryConfig::default()
        .interval(Duration::from_millis(50))
        .poll_timeout(Duration::from_millis(500))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .rng_seed(7)
}

fn has(dist: &actor_dist::Dist, peer: &str) -> bool {
    dist.nodes().iter().any(|n| n == peer)
}

/// Waits until `discovery` has polled `n` more times than now.
async fn polls(discovery: &Discovery, n: u64) -> DiscoveryStatus {
    let target = discovery.status().polls + n;
    eventually("more polls", WITHIN, || discovery.status().polls >= target).await;
    discovery.status()
}

/// Three nodes on three loopback addresses and one port (as pods behind a headless service).
/// Only the first runs discovery; the A records of `nodes.cluster.test` say where the others
/// are, and change during the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_appear_join_vanish_and_bad_dns_disconnects_nobody() {
    let mut dns = TestDns::start().await;
    let ip = |last: u8| Ipv4Addr::new(127, 0, 0, last);
    // One port on every address: the first node picks it.
    let n1 = node("n1@127.0.0.2", SocketAddr::from((ip(2), 0))).await;
    let port = n1.local_addr().port();
    let n2 = node("n2@127.0.0.3", SocketAddr::from((ip(3), port))).await;
    let n3 = node("n3@127.0.0.4", SocketAddr::from((ip(4), port))).await;

    dns.add_a("nodes.cluster.test.", ip(2)).await;
    let resolver = Dns::with_servers(&[dns.addr], Duration::from_millis(200)).unwrap();
    let strategy = DnsStrategy::a(resolver, "nodes.cluster.test.", port);
    let d = Discovery::start(&n1, strategy, cfg());

    // Only itself in DNS: it is skipped, nobody is dialled.
    eventually("own record seen", WITHIN, || {
        d.status().peers.iter().any(|p| p.is_self)
    })
    .await;
    assert!(n1.nodes().is_empty());

    // n2 appears in DNS, then n3: each is dialled and joins (names learnt from the peers).
    dns.add_a("nodes.cluster.test.", ip(3)).await;
    eventually("n2 joined", WITHIN, || has(&n1, "n2@127.0.0.3")).await;
    dns.add_a("nodes.cluster.test.", ip(4)).await;
    eventually("n3 joined", WITHIN, || has(&n1, "n3@127.0.0.4")).await;
    // n3 may have joined through n2's peer list before discovery dialled it: the status
    // catches up at its next poll.
    eventually("both counted connected", WITHIN, || {
        d.status().connected == 2
    })
    .await;
    let st = d.status();
    assert_eq!(st.connected, 2, "{st:?}");
    assert_eq!(st.peers.len(), 3);
    assert!(st
        .peers
        .iter()
        .any(|p| p.name.as_deref() == Some("n3@127.0.0.4") && p.connected));

    // n3's record is removed: no longer a peer of the answer, but still connected.
    dns.remove_a("nodes.cluster.test.", ip(4)).await;
    eventually("n3 out of the answer", WITHIN, || {
        !d.status().peers.iter().any(|p| p.addr.ip() == ip(4))
    })
    .await;
    assert!(
        has(&n1, "n3@127.0.0.4"),
        "a vanished record disconnects nobody"
    );
    // ... and once its connection ends, it is not dialled again.
    assert!(n1.disconnect("n3@127.0.0.4"));
    let attempts = d.status().dial_attempts;
    polls(&d, 5).await;
    assert!(!has(&n1, "n3@127.0.0.4"), "a removed record is not dialled");
    assert_eq!(d.status().dial_attempts, attempts);

    // An empty answer (no records at all) changes nothing.
    dns.remove_a("nodes.cluster.test.", ip(2)).await;
    dns.remove_a("nodes.cluster.test.", ip(3)).await;
    let before = d.status();
    eventually("an empty answer", WITHIN, || {
        d.status().empty_answers > before.empty_answers
    })
    .await;
    let st = d.status();
    assert_eq!(st.peers, before.peers, "the previous answer stays in force");
    assert!(has(&n1, "n2@127.0.0.3"));

    // DNS down (nothing listens): errors, counted; nothing changes.
    dns.stop().await;
    eventually("a failing poll", WITHIN, || {
        d.status().poll_errors > st.poll_errors
    })
    .await;
    assert!(has(&n1, "n2@127.0.0.3"));
    assert_eq!(d.status().peers.len(), st.peers.len());

    // DNS silent (a black hole): timeouts, counted; nothing changes.
    dns.go_silent().await;
    let errors = d.status().poll_errors;
    eventually("a slow poll", WITHIN, || {
        d.status().poll_errors >= errors + 2
    })
    .await;
    assert!(has(&n1, "n2@127.0.0.3"));
    assert!(d.status().last_error.is_some());

    // DNS back with n3 again: it is dialled again and joins.
    dns.resume().await;
    dns.add_a("nodes.cluster.test.", ip(4)).await;
    eventually("n3 back", WITHIN, || has(&n1, "n3@127.0.0.4")).await;
    assert!(has(&n1, "n2@127.0.0.3"));
    drop((n2, n3));
}

/// SRV records name the nodes' hosts and ports; with a node basename, peers are dialled by
/// name (`disc@<target>`) without asking them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_records_with_a_basename_dial_by_name() {
    let mut dns = TestDns::start().await;
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let n1 = node("disc@n1.cluster.test", any).await;
    let n2 = node("disc@n2.cluster.test", any).await;
    let n3 = node("disc@n3.cluster.test", any).await;
    for (host, d) in [("n1", &n1), ("n2", &n2)] {
        let target = format!("{host}.cluster.test.");
        dns.add_a(&target, Ipv4Addr::LOCALHOST).await;
        dns.add_srv("_dist._tcp.cluster.test.", &target, d.local_addr().port())
            .await;
    }
    let resolver = Dns::with_servers(&[dns.addr], Duration::from_millis(200)).unwrap();
    let strategy = DnsStrategy::srv(resolver, "_dist._tcp.cluster.test.").node_basename("disc");
    let d = Discovery::start(&n1, strategy, cfg());
    eventually("n2 joined", WITHIN, || has(&n1, "disc@n2.cluster.test")).await;
    let st = d.status();
    let names: Vec<_> = st.peers.iter().filter_map(|p| p.name.clone()).collect();
    assert_eq!(names.len(), 2, "{st:?}");
    assert!(names.contains(&"disc@n1.cluster.test".to_string()));
    assert!(st.peers.iter().any(|p| p.is_self));

    // n3 appears.
    dns.add_a("n3.cluster.test.", Ipv4Addr::LOCALHOST).await;
    dns.add_srv(
        "_dist._tcp.cluster.test.",
        "n3.cluster.test.",
        n3.local_addr().port(),
    )
    .await;
    eventually("n3 joined", WITHIN, || has(&n1, "disc@n3.cluster.test")).await;
    // n3 was learnt by n2 through the mesh too.
    eventually("full mesh", WITHIN, || has(&n2, "disc@n3.cluster.test")).await;
}

/// An A record that points at a node of another cluster (another cookie) is a wrong answer:
/// dials fail and back off, counted; the peers that are connected stay connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_answer_fails_dials_and_backs_off() {
    let mut dns = TestDns::start().await;
    let ip = |last: u8| Ipv4Addr::new(127, 0, 0, last);
    let n1 = node("w1@127.0.0.6", SocketAddr::from((ip(6), 0))).await;
    let port = n1.local_addr().port();
    let _n2 = node("w2@127.0.0.7", SocketAddr::from((ip(7), port))).await;
    let stranger =
        discovery_support::node_with("x@127.0.0.8", SocketAddr::from((ip(8), port)), "other").await;
    for last in [6, 7, 8] {
        dns.add_a("nodes.cluster.test.", ip(last)).await;
    }
    let resolver = Dns::with_servers(&[dns.addr], Duration::from_millis(200)).unwrap();
    let cfg = cfg().backoff(Duration::from_millis(100), Duration::from_millis(400));
    let d = Discovery::start(
        &n1,
        DnsStrategy::a(resolver, "nodes.cluster.test.", port),
        cfg,
    );
    eventually("w2 joined", WITHIN, || has(&n1, "w2@127.0.0.7")).await;
    eventually("failures counted", WITHIN, || {
        d.status()
            .peers
            .iter()
            .any(|p| p.addr.ip() == ip(8) && p.failures >= 3)
    })
    .await;
    let st = d.status();
    assert!(st.dial_failures >= 3, "{st:?}");
    // Backed off: over 20 polls (50 ms apart, so at least 1 s) at most a handful of
    // attempts (cap 400 ms, jitter 0.5..1.5), not one per poll.
    let before = st.dial_attempts;
    let started = tokio::time::Instant::now();
    let after = polls(&d, 20).await.dial_attempts;
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (after - before) as f64 <= 1.0 + secs / 0.2,
        "{} attempts in {secs:.2} s",
        after - before
    );
    assert!(has(&n1, "w2@127.0.0.7"));
    assert!(stranger.nodes().is_empty());
}
