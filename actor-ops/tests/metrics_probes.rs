//! The HTTP listener: metrics scraped over HTTP and parsed; probes flip when a node is cut off.

mod common;

use common::*;
use std::collections::HashMap;
use std::time::Duration;

/// Prometheus text format: `name{labels} value` lines, comments skipped.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (
                k.to_string(),
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrape_and_probes_flip_when_cut_off() {
    let (_dir, ms) = cluster("met").await;
    let mut https = Vec::new();
    for m in &ms {
        https.push(
            m.ops
                .serve("127.0.0.1:0".parse().unwrap(), Duration::from_secs(60))
                .await
                .unwrap(),
        );
    }
    ms[0].entities.call::<Counter>("k", 1, T).await.unwrap();
    let owner = ms
        .iter()
        .position(|m| m.entities.live() == 1)
        .expect("one activation");

    for h in &https {
        assert_eq!(get(h.local_addr(), "/health").await.0, 200);
        assert_eq!(get(h.local_addr(), "/ready").await.0, 200);
    }
    let (code, body) = get(https[owner].local_addr(), "/metrics").await;
    assert_eq!(code, 200);
    let m = parse(&body);
    assert!(m["actor_processes"] > 0.0, "{body}");
    assert_eq!(m["actor_peers{kind=\"visible\"}"], 2.0);
    assert_eq!(m["actor_healthy"], 1.0);
    assert_eq!(m["actor_ready"], 1.0);
    assert_eq!(m["actor_entity_activations_total"], 1.0);
    assert_eq!(m["actor_entity_live"], 1.0);
    assert!(m["actor_journal_commits_total"] >= 1.0, "{body}");
    assert_eq!(m["actor_dist_bad_frames_total"], 0.0);
    assert_eq!(
        m["actor_registry_entries{scope=\"app\",kind=\"name\"}"],
        1.0
    );
    assert_eq!(m["actor_registry_conflicts_total{scope=\"app\"}"], 0.0);
    assert!(
        body.contains("# TYPE actor_dist_auth_failures_total counter"),
        "{body}"
    );

    // A wrong cookie shows up in the counters.
    let addr = ms[0].dist.local_addr().to_string();
    let (mut o, mut e) = (Vec::new(), Vec::new());
    let argv = [
        "actorctl",
        "--node",
        ms[0].dist.name(),
        "--addr",
        &addr,
        "--cookie",
        "nope",
        "nodes",
    ];
    assert_eq!(actor_ops::cli::run(argv, &mut o, &mut e).await, 3);
    let h0 = https[0].local_addr();
    eventually(|| async {
        let m = parse(&get(h0, "/metrics").await.1);
        m["actor_dist_auth_failures_total"] >= 1.0
            && m["actor_dist_node_events_total{event=\"auth_failed\"}"] >= 1.0
    })
    .await;

    // Cut node 2 off: it sees none of its expected peers and says so; the other two are a
    // majority and stay healthy.
    ms[2].dist.shutdown();
    let h2 = https[2].local_addr();
    eventually(|| async { get(h2, "/health").await.0 == 503 }).await;
    let (_, why) = get(h2, "/health").await;
    assert!(why.contains("minority"), "{why}");
    assert_eq!(get(h2, "/ready").await.0, 503);
    for h in &https[..2] {
        let a = h.local_addr();
        eventually(|| async {
            let m = parse(&get(a, "/metrics").await.1);
            m["actor_peers{kind=\"visible\"}"] == 1.0
        })
        .await;
        assert_eq!(get(a, "/health").await.0, 200);
    }
    let m = parse(&get(h0, "/metrics").await.1);
    assert!(m["actor_dist_node_events_total{event=\"down\"}"] >= 1.0);
    let m2 = parse(&get(h2, "/metrics").await.1);
    assert_eq!(m2["actor_healthy"], 0.0);

    // Node 1 loses node 0 as well: alone, it is in a minority too.
    ms[1].dist.shutdown();
    let h0c = h0;
    eventually(|| async { get(h0c, "/health").await.0 == 503 }).await;
}

#[tokio::test]
async fn a_node_expecting_no_peers_is_healthy_alone_and_listener_stops_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let journal = std::sync::Arc::new(
        actor_journal::RedbJournal::open(actor_journal::JournalConfig::new(dir.path())).unwrap(),
    );
    let a = member("solo@127.0.0.1", journal, 0).await;
    let http = a
        .ops
        .serve("127.0.0.1:0".parse().unwrap(), Duration::from_millis(100))
        .await
        .unwrap();
    let addr = http.local_addr();
    assert_eq!(
        get(addr, "/health").await,
        (200, "no peers expected".to_string())
    );
    assert_eq!(get(addr, "/ready").await.0, 200);
    assert_eq!(get(addr, "/nope").await.0, 404);
    drop(http);
    eventually(|| async { tokio::net::TcpStream::connect(addr).await.is_err() }).await;
}
