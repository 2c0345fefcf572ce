//! W18 failover (`actor-entity` on the replicated receipt log), three OS processes: node A
//! (this process) and nodes B and C (this binary re-executed with `--w18-node`). Each node
//! runs a registry replica, a journal (redb, under one temporary directory A owns), a replica
//! server of the replicated log (members A, B, C; every key on all three, a write
//! acknowledged once a majority holds it durably) and an entity host whose placement puts
//! every new activation on B while B is up (least-loaded among the others after).
//!
//! 1. **Load.** From A, `failover_keys` entities (1,000) each get 10 state-changing calls in
//!    sequence (64 keys at a time); every reply is checked, so every one of the 10,000
//!    receipts is acknowledged. Every activation must be on B. Then A reads each key's
//!    receipts from the log (their ids: the acknowledged receipts).
//! 2. **Kill.** B gets SIGKILL. From the kill, A calls every key with a read (at most 64 in
//!    flight, each call retried until it answers): `rto_p50`, `rto_max` (ms from the kill
//!    until that key answered), `nodedown` (ms until A's node-down event for B).
//! 3. **Check.** Each answer must show the state after all 10 transitions (`states_wrong`
//!    counts those that do not), and each key's log, read from A (a survivor), must still hold
//!    every acknowledged receipt, by id (`receipts_missing`); `unanswered` counts keys that
//!    did not answer within 30 s.
//!
//! Peers: `actor-entity` (the 2-state [`Switch`](crate::kinds::Switch)) and `entitlement`
//! (the entitlement governor of `examples`), see `kinds.rs`.

use crate::dist_peer::{self, NodeProc};
use crate::entities::register_kinds;
use crate::kinds::BenchKind;
use crate::{Counts, Metrics};
use actor_core::Node;
use actor_dist::{Dist, NodeEvent};
use actor_entity::log::EntityLog;
use actor_entity::placement::{Candidate, LeastLoaded, PlaceWith, Placement, PreferLocal};
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog, StaticMembers};
use actor_entity::{Entities, Entity, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use examples::governors::Governors;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hidden argument that runs node B or C: `--w18-node <name> <journal dir> b|local`.
pub const NODE_ARG: &str = "--w18-node";
const A: &str = "w18-a@127.0.0.1";
const B: &str = "w18-b@127.0.0.1";
const C: &str = "w18-c@127.0.0.1";
const SCOPE: &str = "bench-failover";
const LIVE_FN: &str = "bench.w18.live";
const NODES_FN: &str = "bench.w18.nodes";
/// State-changing calls per key before the kill.
const STEPS: u64 = 10;
/// Calls in flight at once (loading and after the kill).
const IN_FLIGHT: u64 = 64;
/// Timeout of one call before the kill (and of anything set-up waits for).
const T: Duration = Duration::from_secs(30);
/// Timeout of one call attempt after the kill: an attempt that fails is made again.
const ATTEMPT: Duration = Duration::from_secs(1);
/// How long a key may take to answer after the kill before it counts as `unanswered`.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Where the cluster's activations go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// On B while B is up (W18), least-loaded among the others after.
    OnB,
    /// On the caller's node (W17 replicated: the entities on A, their replicas on B and C).
    Local,
}

impl Place {
    fn arg(self) -> &'static str {
        match self {
            Place::OnB => "b",
            Place::Local => "local",
        }
    }

    fn placement(self) -> Arc<dyn Placement> {
        match self {
            Place::OnB => Arc::new(PlaceWith(on_b)),
            Place::Local => Arc::new(PreferLocal(LeastLoaded)),
        }
    }
}

/// Every new activation on B while B is a candidate; least-loaded among the others after.
fn on_b(kind: &str, key: &str, candidates: &[Candidate]) -> Option<String> {
    if candidates.iter().any(|c| c.node == B) {
        return Some(B.to_string());
    }
    LeastLoaded.place(kind, key, candidates)
}

/// A node's host; lives as long as the node.
pub(crate) struct Host {
    pub(crate) entities: Entities,
    global: GlobalRegistry,
    _govs: Governors,
    _log: ReplicatedLog,
}

async fn host(dist: &Dist, dir: &Path, place: Place) -> Host {
    std::fs::create_dir_all(dir).expect("journal directory");
    let journal = RedbJournal::open(JournalConfig::new(dir)).expect("open the journal");
    let global = GlobalRegistry::start(dist, GlobalConfig::new(SCOPE))
        .await
        .expect("start the registry scope");
    // The member list is fixed (every node computes the same replica sets) and does not
    // depend on who is connected when the log starts.
    let members = [A, B, C].map(String::from).to_vec();
    let log = ReplicatedLog::start(
        dist,
        Arc::new(journal),
        ReplicatedConfig {
            replicas: 3,
            members: Some(Arc::new(StaticMembers(members))),
            ..ReplicatedConfig::default()
        },
    )
    .await
    .expect("start the replica server");
    let cfg = EntityConfig {
        placement: place.placement(),
        passivate_after: None,
        rebalance: None,
        ..EntityConfig::default()
    };
    let entities = Entities::start(
        dist,
        &global,
        Arc::new(log.clone()) as Arc<dyn EntityLog>,
        cfg,
    )
    .await;
    let govs = register_kinds(&entities, &global).await;
    let e = entities.clone();
    dist.register_rpc(LIVE_FN, move |()| {
        let n = e.live() as u64;
        async move { n }
    });
    let d = dist.clone();
    dist.register_rpc(NODES_FN, move |()| {
        let n = d.nodes().len() as u64;
        async move { n }
    });
    Host {
        entities,
        global,
        _govs: govs,
        _log: log,
    }
}

/// Node B's or C's process.
pub fn node_main(args: &[String]) -> ExitCode {
    let place = match args.get(2).map(String::as_str) {
        Some("b") => Some(Place::OnB),
        Some("local") => Some(Place::Local),
        _ => None,
    };
    let (Some(name), Some(dir), Some(place)) = (
        args.first().filter(|n| n.as_str() == B || n.as_str() == C),
        args.get(1),
        place,
    ) else {
        eprintln!("usage: benches {NODE_ARG} {B}|{C} <journal dir> b|local");
        return ExitCode::from(2);
    };
    let dir = std::path::PathBuf::from(dir);
    dist_peer::serve_node(name, dist_peer::default_tick(), |dist| async move {
        host(&dist, &dir, place).await
    })
}

/// Runs `f(i)` for every `i` in `0..n`, `width` at a time, and returns the outputs in order.
pub(crate) async fn each<T, F, Fut>(n: u64, width: u64, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let f = Arc::new(f);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..width.min(n) {
        let (next, f) = (next.clone(), f.clone());
        tasks.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return out;
                }
                out.push((i, f(i).await));
            }
        });
    }
    let mut all = Vec::with_capacity(n as usize);
    while let Some(part) = tasks.join_next().await {
        all.extend(part.expect("a worker panicked"));
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

/// The receipt ids of every key, read from A's log client (a majority's most up-to-date log).
async fn receipt_ids<K: BenchKind>(e: &Entities, n: u64) -> Vec<BTreeSet<u128>> {
    let e = e.clone();
    each(n, IN_FLIGHT, move |i| {
        let e = e.clone();
        async move {
            let key = K::key("key", i);
            match e.receipts(K::E::KIND, &key, 0, 1_000).await {
                Ok(rs) => rs.iter().map(|r| r.id).collect(),
                Err(err) => {
                    eprintln!("# W18: receipts of {key}: {err}");
                    BTreeSet::new()
                }
            }
        }
    })
    .await
}

/// Asks `node` for a count (`LIVE_FN`, `NODES_FN`).
async fn count(dist: &Dist, node: &str, rpc: &str) -> u64 {
    dist.call(node, rpc, &(), T)
        .await
        .unwrap_or_else(|e| panic!("{rpc} on {node}: {e}"))
}

/// Three nodes, each with its host on the replicated log: A here, B and C processes.
pub(crate) struct Cluster {
    /// The journals of all three (removed when dropped).
    pub(crate) _root: tempfile::TempDir,
    pub(crate) b: NodeProc,
    pub(crate) c: NodeProc,
    pub(crate) dist: Dist,
    pub(crate) host: Host,
}

/// Starts B and C, then A, connected in a full mesh with the registry replicas in sync.
pub(crate) async fn cluster(place: Place) -> Cluster {
    let root = tempfile::tempdir().expect("temporary directory");
    let dir = |name: &str| root.path().join(name).to_string_lossy().into_owned();
    let b = NodeProc::start(&[NODE_ARG, B, &dir("b"), place.arg()]).await;
    let cn = NodeProc::start(&[NODE_ARG, C, &dir("c"), place.arg()]).await;
    let dist = Dist::start(&Node::new(A), dist_peer::config(dist_peer::default_tick()))
        .await
        .expect("listen on 127.0.0.1");
    let h = host(&dist, &root.path().join("a"), place).await;
    dist.connect(B, b.addr).await.expect("connect to B");
    dist.connect(C, cn.addr).await.expect("connect to C");
    // A full mesh (B and C connect to each other through A), and the registry replicas.
    let deadline = Instant::now() + T;
    for node in [B, C] {
        while count(&dist, node, NODES_FN).await < 2 {
            assert!(Instant::now() < deadline, "{node} not connected to both");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    h.global.sync(T).await.expect("registry replicas synced");
    Cluster {
        _root: root,
        b,
        c: cn,
        dist,
        host: h,
    }
}

/// W18: the RTO of every entity of a killed node, and the receipts it acknowledged.
pub async fn w18_failover<K: BenchKind>(c: Counts) -> Metrics {
    let n = c.failover_keys;
    let Cluster {
        _root,
        mut b,
        c: cn,
        dist,
        host: h,
    } = cluster(Place::OnB).await;

    // 1. Load: 10 acknowledged transitions per key, every activation on B.
    let e = h.entities.clone();
    let load = Instant::now();
    let bad = each(n, IN_FLIGHT, move |i| {
        let e = e.clone();
        async move {
            let key = K::key("key", i);
            for s in 1..=STEPS {
                match e.call::<K::E>(&key, K::step(s), T).await {
                    Ok(r) if K::is_after(&r, s) => {}
                    Ok(_) => return Some(format!("{key} step {s}: not the expected state")),
                    Err(err) => return Some(format!("{key} step {s}: {err}")),
                }
            }
            None
        }
    })
    .await;
    let load = load.elapsed();
    if let Some(why) = bad.iter().flatten().next() {
        panic!("W18 load: {why}");
    }
    let on_b = count(&dist, B, LIVE_FN).await;
    assert_eq!(on_b, n, "every entity must be on B before the kill");
    let before = receipt_ids::<K>(&h.entities, n).await;
    let short = before
        .iter()
        .filter(|ids| ids.len() < STEPS as usize)
        .count();
    eprintln!(
        "# W18 {}: {n} entities x {STEPS} transitions on B in {:.1} s; receipts read back: {}{}",
        K::E::KIND,
        load.as_secs_f64(),
        before.iter().map(BTreeSet::len).sum::<usize>(),
        if short > 0 {
            format!(" ({short} keys with fewer than {STEPS})")
        } else {
            String::new()
        }
    );

    // 2. Kill B, then every key from A until it answers.
    let mut events = dist.subscribe();
    let killed = Instant::now();
    b.kill().expect("SIGKILL node B");
    let down = tokio::spawn(async move {
        loop {
            match tokio::time::timeout(GIVE_UP, events.recv()).await {
                Ok(Some(NodeEvent::Down { node, .. })) if node == B => {
                    return Some(killed.elapsed());
                }
                Ok(Some(_)) => {}
                _ => return None,
            }
        }
    });
    let e = h.entities.clone();
    let answers = each(n, IN_FLIGHT, move |i| {
        let e = e.clone();
        async move {
            let key = K::key("key", i);
            let mut attempts = 0u32;
            loop {
                attempts += 1;
                match e.call::<K::E>(&key, K::read(), ATTEMPT).await {
                    Ok(r) => return Some((killed.elapsed(), K::is_after(&r, STEPS), attempts)),
                    Err(_) if killed.elapsed() < GIVE_UP => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err(err) => {
                        eprintln!("# W18: {key} did not answer: {err}");
                        return None;
                    }
                }
            }
        }
    })
    .await;
    let nodedown = down.await.ok().flatten();

    // 3. Check the answers and the receipts, from A.
    let after = receipt_ids::<K>(&h.entities, n).await;
    let missing: usize = before
        .iter()
        .zip(&after)
        .map(|(b, a)| b.difference(a).count() + (STEPS as usize).saturating_sub(b.len()))
        .sum();
    let mut rtos: Vec<Duration> = answers.iter().flatten().map(|a| a.0).collect();
    rtos.sort();
    let unanswered = answers.iter().filter(|a| a.is_none()).count();
    let wrong = answers.iter().flatten().filter(|a| !a.1).count();
    let retried = answers.iter().flatten().filter(|a| a.2 > 1).count();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p50 = rtos.get(rtos.len().saturating_sub(1) / 2).copied();
    eprintln!(
        "# W18 {}: {} answered, {retried} after more than one attempt; first {:.0} ms",
        K::E::KIND,
        rtos.len(),
        rtos.first().map_or(f64::NAN, |d| ms(*d)),
    );
    drop(cn);
    vec![
        ("rto_p50", p50.map_or(f64::NAN, ms)),
        ("rto_max", rtos.last().map_or(f64::NAN, |d| ms(*d))),
        ("receipts_missing", missing as f64),
        ("states_wrong", wrong as f64),
        ("unanswered", unanswered as f64),
        ("nodedown", nodedown.map_or(f64::NAN, ms)),
    ]
}
