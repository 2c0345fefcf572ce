//! W16 entity activation (`actor-entity`), three OS processes: node A (this process) and
//! nodes B and C (this binary re-executed with `--entity-node`), each with a replica of the
//! registry scope the entities are named in, its own journal (redb in a temporary directory)
//! and an entity host with the default placement (least-loaded, counting placements in
//! flight).
//!
//! - Activation: from A, one first call by key to each of `entity_keys` distinct keys (20,000,
//!   not WORKLOADS.md's 100,000: each activation makes its epoch durable with one fsync, about
//!   1.5 ms on this VM, and 100,000 of them take four minutes per round) of a
//!   2-state statem entity (the call reads the state, so it measures the activation: the key's
//!   coordinator, placement, the epoch promised durably on the chosen node, start, naming).
//! - Warm calls: then one call per key again, from A, to the keys already active (every node
//!   answers calls by key from its own replica of the names, so A is no different from C).
//! - Spread: activations per node, max over min.
//!
//! Peers: `actor-entity` runs the bench's 2-state [`Switch`]; `entitlement` runs the
//! entitlement governor of `examples` (its activation also looks up the node's governor
//! environment and subscribes to its tenant's quota breaches; see `kinds.rs`).

use crate::dist_peer::{self, NodeProc};
use crate::kinds::{self, BenchKind, Switch};
use crate::{Counts, Latencies, Metrics};
use actor_core::Node;
use actor_dist::Dist;
use actor_entity::log::LocalLog;
use actor_entity::{Entities, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use examples::governors::{Governors, GovernorsConfig, StaticTenants};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hidden argument that runs node B or C.
pub const NODE_ARG: &str = "--entity-node";
const A: &str = "entity-a@127.0.0.1";
const B: &str = "entity-b@127.0.0.1";
const C: &str = "entity-c@127.0.0.1";
const SCOPE: &str = "bench-entities";
const LIVE_FN: &str = "bench.entities.live";
const T: Duration = Duration::from_secs(30);

/// Registers both workload kinds on a node's host: [`Switch`] and the governors (whose
/// environment server the entitlement governor needs on every node).
pub(crate) async fn register_kinds(entities: &Entities, global: &GlobalRegistry) -> Governors {
    entities
        .register::<Switch>()
        .await
        .expect("register the kind");
    let tenants = Arc::new(StaticTenants::new(kinds::tenants()));
    Governors::start(entities, global, GovernorsConfig::new(tenants))
        .await
        .expect("start the governors")
}

/// A node's entity host over a fresh journal; the directory lives as long as the value.
struct Host {
    entities: Entities,
    _govs: Governors,
    _global: GlobalRegistry,
    _dir: tempfile::TempDir,
}

async fn host(dist: &Dist) -> Host {
    let dir = tempfile::tempdir().expect("temporary directory");
    let journal = RedbJournal::open(JournalConfig::new(dir.path())).expect("open the journal");
    let global = GlobalRegistry::start(dist, GlobalConfig::new(SCOPE))
        .await
        .expect("start the registry scope");
    let cfg = EntityConfig {
        passivate_after: None,
        rebalance: None,
        ..EntityConfig::default()
    };
    let entities = Entities::start(
        dist,
        &global,
        Arc::new(LocalLog::new(Arc::new(journal))),
        cfg,
    )
    .await;
    let govs = register_kinds(&entities, &global).await;
    let e = entities.clone();
    dist.register_rpc(LIVE_FN, move |()| {
        let n = e.live() as u64;
        async move { n }
    });
    Host {
        entities,
        _govs: govs,
        _global: global,
        _dir: dir,
    }
}

/// Node B's or C's process.
pub fn node_main(args: &[String]) -> ExitCode {
    let Some(name) = args.first().filter(|n| n.as_str() == B || n.as_str() == C) else {
        eprintln!("usage: benches {NODE_ARG} {B}|{C}");
        return ExitCode::from(2);
    };
    dist_peer::serve_node(name, dist_peer::default_tick(), |dist| async move {
        host(&dist).await
    })
}

/// W16: activations by key from A, then warm calls; µs, per second, and the spread.
pub async fn w16_entity_activation<K: BenchKind>(c: Counts) -> Metrics {
    let b = NodeProc::start(&[NODE_ARG, B]).await;
    let cn = NodeProc::start(&[NODE_ARG, C]).await;
    let node = Node::new(A);
    let dist = Dist::start(&node, dist_peer::config(dist_peer::default_tick()))
        .await
        .expect("listen on 127.0.0.1");
    let h = host(&dist).await;
    dist.connect(B, b.addr).await.expect("connect to B");
    dist.connect(C, cn.addr).await.expect("connect to C");
    h._global.sync(T).await.expect("registry replicas synced");
    let deadline = Instant::now() + T;
    while dist.nodes().len() < 2 {
        assert!(Instant::now() < deadline, "B and C not both connected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let e = &h.entities;
    let n = c.entity_keys;
    let warm = (n / 100).max(10);
    for i in 0..warm {
        let r = e.call::<K::E>(&K::key("warm", i), K::read(), T).await;
        assert!(r.is_ok_and(|r| K::is_after(&r, 0)), "warm-up call {i}");
    }
    let mut act = Latencies::default();
    let start = Instant::now();
    for i in 0..n {
        let sent = Instant::now();
        let r = e.call::<K::E>(&K::key("key", i), K::read(), T).await;
        act.record_since(sent);
        assert!(r.is_ok_and(|r| K::is_after(&r, 0)), "first call to key {i}");
    }
    let act_wall = start.elapsed();
    let mut calls = Latencies::default();
    for i in 0..n {
        let sent = Instant::now();
        let r = e.call::<K::E>(&K::key("key", i), K::read(), T).await;
        calls.record_since(sent);
        assert!(r.is_ok_and(|r| K::is_after(&r, 0)), "warm call to key {i}");
    }
    let mut per_node = vec![e.live() as u64];
    for other in [B, C] {
        let live: u64 = dist
            .call(other, LIVE_FN, &(), T)
            .await
            .unwrap_or_else(|err| panic!("{LIVE_FN} on {other}: {err}"));
        per_node.push(live);
    }
    let (max, min) = (
        *per_node.iter().max().expect("three nodes"),
        *per_node.iter().min().expect("three nodes"),
    );
    vec![
        ("activate_p50", act.p(50.0) / 1e3),
        ("activate_p99", act.p(99.0) / 1e3),
        ("activations", n as f64 / act_wall.as_secs_f64()),
        ("spread", max as f64 / min.max(1) as f64),
        ("warm_call_p50", calls.p(50.0) / 1e3),
        ("warm_call_p99", calls.p(99.0) / 1e3),
    ]
}
