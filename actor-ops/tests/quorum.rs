//! Health follows actor-cluster's membership quorum: `/health` answers 503 on a node cut off
//! from its peers (minority or deciding), the majority stays 200, and `actorctl nodes` and
//! the metrics show the phase. Per-peer traffic shows in the metrics and `actorctl nodes`.

mod common;

use actor_cluster::membership::{Membership, MembershipConfig};
use actor_core::Node;
use actor_dist::Dist;
use actor_ops::protocol::QuorumPhase;
use actor_ops::{Ops, OpsHttp};
use common::*;
use std::time::Duration;

struct N {
    dist: Dist,
    _m: Membership,
    ops: Ops,
    http: OpsHttp,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_follow_the_membership_quorum_and_traffic_is_scraped_per_peer() {
    let mut ns: Vec<N> = Vec::new();
    for i in 1..=3 {
        let name = format!("q{i}@127.0.0.1");
        let dist = Dist::start(&Node::new(&name), dist_config(COOKIE))
            .await
            .unwrap();
        for n in &ns {
            dist.connect(n.dist.name(), n.dist.local_addr())
                .await
                .unwrap();
        }
        let m = Membership::start(&dist, MembershipConfig::new().started(i as u64));
        let ops = Ops::builder(&dist).membership(&m).install();
        let http = ops
            .serve("127.0.0.1:0".parse().unwrap(), Duration::from_secs(60))
            .await
            .unwrap();
        ns.push(N {
            dist,
            _m: m,
            ops,
            http,
        });
    }
    for n in &ns {
        let ops = n.ops.clone();
        eventually(|| {
            let ops = ops.clone();
            async move {
                ops.health()
                    .quorum
                    .is_some_and(|q| q.phase == QuorumPhase::Quorate && q.members == 3)
            }
        })
        .await;
        assert_eq!(get(n.http.local_addr(), "/health").await.0, 200);
    }
    // actorctl shows the phase of every node.
    let addr = ns[0].dist.local_addr().to_string();
    let argv = [
        "actorctl",
        "--node",
        ns[0].dist.name(),
        "--addr",
        &addr,
        "--cookie",
        COOKIE,
        "nodes",
    ];
    let (mut o, mut e) = (Vec::new(), Vec::new());
    assert_eq!(actor_ops::cli::run(argv, &mut o, &mut e).await, 0);
    let out = String::from_utf8(o).unwrap();
    assert_eq!(out.matches("quorate 3/3").count(), 3, "{out}");
    // Per-peer traffic: in the node table's links, and scraped from /metrics.
    assert!(
        out.contains("FRAMES_OUT") && out.contains("BYTES_IN"),
        "{out}"
    );
    let (_, body) = get(ns[0].http.local_addr(), "/metrics").await;
    for (name, dir) in [
        ("actor_dist_peer_frames_total", "out"),
        ("actor_dist_peer_frames_total", "in"),
        ("actor_dist_peer_bytes_total", "out"),
        ("actor_dist_peer_bytes_total", "in"),
    ] {
        let line = body
            .lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{"))
                    && l.contains("node=\"q2@127.0.0.1\"")
                    && l.contains(&format!("direction=\"{dir}\""))
            })
            .unwrap_or_else(|| panic!("no {name} {dir} for q2 in {body}"));
        let v: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
        assert!(v > 0.0, "{line}");
    }

    // Cut node 3 off: it is read-only (deciding, then minority) and its probe says 503.
    ns[2].dist.shutdown();
    let h3 = ns[2].http.local_addr();
    eventually(|| async { get(h3, "/health").await.0 == 503 }).await;
    let (_, why) = get(h3, "/health").await;
    assert!(
        why.contains("minority") || why.contains("deciding"),
        "{why}"
    );
    let phase = ns[2].ops.health().quorum.unwrap().phase;
    assert_ne!(phase, QuorumPhase::Quorate);
    let (_, metrics) = get(h3, "/metrics").await;
    assert!(
        metrics.contains("actor_quorum_phase{phase=\"quorate\"} 0"),
        "{metrics}"
    );
    // The other two are a majority: quorate over the two of them, 200.
    for n in &ns[..2] {
        let (ops, h) = (n.ops.clone(), n.http.local_addr());
        eventually(|| {
            let ops = ops.clone();
            async move {
                ops.health()
                    .quorum
                    .is_some_and(|q| q.quorate && q.reachable == 2)
                    && get(h, "/health").await.0 == 200
            }
        })
        .await;
    }
}
