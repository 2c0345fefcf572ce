//! The `actor-registry` peer of W10: propagation of global names across three nodes.
//!
//! Three OS processes on 127.0.0.1, each a node with distribution ([`Dist`]) and a replica of
//! the global scope `w10` ([`GlobalRegistry`]). The bench child is node A; it starts nodes B
//! and C by re-executing the bench binary with the hidden arguments `--registry-node <name>`
//! (through [`dist_peer::NodeProc`] and [`dist_peer::serve_node`], as W5/W6 start node B), and
//! connects to both (B and C then connect to each other: the mesh is transitive). Before
//! anything is measured, A waits until every replica is synced with the other two.
//!
//! Then A registers names `("w10", i)` one after another, each for its own local actor
//! spawned beforehand, after an unmeasured warm-up of names `("w10-warmup", i)`. A thread on
//! C (outside C's runtime, so both its workers stay free for the connection and the replica)
//! spins on C's `where_` for the next expected name, takes the time as soon as it is found
//! and tells it to an actor on A; A registers the next name only after that. Both ends read
//! `CLOCK_MONOTONIC`, one clock for every process of the machine, so the latency of name `i`
//! is C's found-time minus A's time just before `register`: from A's call until C's `where_`
//! sees the name, with nothing of the way back included. p50/p99/mean in µs.

use crate::dist_peer::{self, NodeProc};
use crate::{Counts, Latencies, Medians, Metrics};
use actor_core::{Actor, Context, Pid};
use actor_dist::{Dist, Message};
use actor_registry::{GlobalConfig, GlobalRegistry, Key, Kind};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The hidden first argument that makes the bench binary run as node B or C of W10.
pub const NODE_ARG: &str = "--registry-node";

const A: &str = "a@127.0.0.1";
const B: &str = "b@127.0.0.1";
const C: &str = "c@127.0.0.1";
const SCOPE: &str = "w10";
/// rpc on B and C: how many peers their replica is synced with.
const PEERS_FN: &str = "bench.w10.peers";
/// rpc on C: start the watcher thread.
const WATCH_FN: &str = "bench.w10.watch";
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long A waits for C to see one name (or for the replicas to sync) before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// `CLOCK_MONOTONIC` in ns: the same clock in every process of this machine.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The `i`-th name A registers: the warm-up names first, then the measured ones.
fn key(i: u64, warmup: u64) -> Key {
    if i < warmup {
        Key::from(("w10-warmup", i as i64))
    } else {
        Key::from(("w10", (i - warmup) as i64))
    }
}

/// C to A: name number `i` was found by C's `where_` at `found_at` (`CLOCK_MONOTONIC` ns).
#[derive(Serialize, Deserialize)]
struct Found {
    i: u64,
    found_at: u64,
}

impl Message for Found {
    const NAME: &'static str = "bench.w10.Found";
}

/// What A asks C's watcher to do: wait for `total` names, the first `warmup` of them the
/// warm-up names, and report each to `ack` (an actor on A).
#[derive(Serialize, Deserialize)]
struct Watch {
    warmup: u64,
    total: u64,
    ack: Pid,
}

/// On A: hands C's reports to the driver.
struct Acks(mpsc::UnboundedSender<Found>);

impl Actor for Acks {
    type Msg = Found;
    async fn handle(&mut self, msg: Found, _ctx: &mut Context<Self>) {
        let _ = self.0.send(msg);
    }
}

/// On A: an actor that only holds a name.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
}

// ---------------------------------------------------------------------------------------------
// Nodes B and C.

/// Node B's or C's process: `--registry-node <name>`. Starts its replica of the scope and the
/// rpcs A uses, prints `LISTEN <addr>`, serves until stdin closes.
pub fn node_main(args: &[String]) -> ExitCode {
    let Some(name) = args.first().filter(|n| n.as_str() == B || n.as_str() == C) else {
        eprintln!("usage: benches {NODE_ARG} {B}|{C}");
        return ExitCode::from(2);
    };
    dist_peer::serve_node(name, dist_peer::default_tick(), |dist| async move {
        let g = GlobalRegistry::start(&dist, GlobalConfig::new(SCOPE))
            .await
            .expect("start the global scope");
        dist.register::<Found>();
        let g2 = g.clone();
        dist.register_rpc(PEERS_FN, move |()| {
            let n = g2.peers().len();
            async move { n }
        });
        let (d, g2) = (dist.clone(), g.clone());
        dist.register_rpc(WATCH_FN, move |w: Watch| {
            let started = start_watcher(&d, &g2, w);
            async move { started }
        });
        g
    })
}

/// C: starts the thread that spins on `where_` for each name in turn. `Err` if `ack` is no
/// reachable actor.
fn start_watcher(dist: &Dist, g: &GlobalRegistry, w: Watch) -> Result<(), String> {
    let ack = dist.actor_ref::<Found>(w.ack).map_err(|e| e.to_string())?;
    let keys: Vec<Key> = (0..w.total).map(|i| key(i, w.warmup)).collect();
    let g = g.clone();
    let rt = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let _rt = rt.enter();
        for (i, key) in keys.iter().enumerate() {
            let mut spins = 0u32;
            while g.where_(key).is_none() {
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(64) {
                    // Let whatever shares this core run (2 cores, 3 nodes).
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
            let found_at = mono_ns();
            let report = Found {
                i: i as u64,
                found_at,
            };
            if ack.tell(report).is_err() {
                return;
            }
        }
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Node A: the workload.

/// How many peers `node`'s replica is synced with.
async fn remote_peers(dist: &Dist, node: &str) -> usize {
    dist.call(node, PEERS_FN, &(), RPC_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("rpc {PEERS_FN} on {node}: {e}"))
}

/// W10: sequential global registrations on A; for each, the time until C's `where_` finds
/// it; µs.
pub async fn w10_global_names(c: Counts) -> Metrics {
    w10(c, 0).await
}

/// W10 with `c.global_preload` names (1,000,000) already registered on A and replicated to
/// B and C before the measured registrations: propagation must stay flat as the scope grows
/// (the target: p50 within 1.5x of the plain W10 figure).
pub async fn w10_global_names_preloaded(c: Counts) -> Metrics {
    w10(c, c.global_preload).await
}

async fn w10(c: Counts, preload: u64) -> Metrics {
    let b = NodeProc::start(&[NODE_ARG, B]).await;
    let cn = NodeProc::start(&[NODE_ARG, C]).await;
    let node = actor_core::Node::new(A);
    let dist = Dist::start(&node, dist_peer::config(dist_peer::default_tick()))
        .await
        .expect("listen on 127.0.0.1");
    let g = GlobalRegistry::start(&dist, GlobalConfig::new(SCOPE))
        .await
        .expect("start the global scope");
    dist.register::<Found>();
    // Preloaded names: a few holders with many names each (a process may hold any number).
    let mut holders = Vec::new();
    for chunk in 0..preload.div_ceil(250_000) {
        let h = node.spawn(Idle).await.expect("spawn");
        let lo = chunk * 250_000;
        for i in lo..(lo + 250_000).min(preload) {
            g.register(Kind::Name, Key::from(("preloaded", i as i64)), h.pid(), ())
                .expect("preload");
        }
        holders.push(h);
    }
    dist.connect(B, b.addr).await.expect("connect to B");
    dist.connect(C, cn.addr).await.expect("connect to C");

    // Every replica synced with the other two.
    let synced_by = Instant::now() + WAIT_LIMIT;
    if preload > 0 {
        g.sync(WAIT_LIMIT)
            .await
            .expect("the preloaded state synced");
    }
    loop {
        if g.peers().len() == 2
            && remote_peers(&dist, B).await == 2
            && remote_peers(&dist, C).await == 2
        {
            break;
        }
        assert!(
            Instant::now() < synced_by,
            "replicas not synced within {WAIT_LIMIT:?}: A's peers {:?}",
            g.peers()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let warmup = c.remote_warmup;
    let total = warmup + c.global_names;
    let mut pids = Vec::with_capacity(total as usize);
    let mut actors = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let a = node.spawn(Idle).await.expect("spawn");
        pids.push(a.pid());
        actors.push(a);
    }
    let keys: Vec<Key> = (0..total).map(|i| key(i, warmup)).collect();

    let (tx, mut found) = mpsc::unbounded_channel();
    let acks = node.spawn(Acks(tx)).await.expect("spawn the ack actor");
    let watch = Watch {
        warmup,
        total,
        ack: acks.pid(),
    };
    let started: Result<(), String> = dist
        .call(C, WATCH_FN, &watch, RPC_TIMEOUT)
        .await
        .expect("rpc watch on C");
    started.expect("C's watcher");

    let mut lat = Latencies::default();
    let wall = Instant::now();
    for (i, (key, &pid)) in keys.into_iter().zip(&pids).enumerate() {
        let i = i as u64;
        let before = mono_ns();
        g.register(Kind::Name, key, pid, ()).expect("register");
        let report = tokio::time::timeout(WAIT_LIMIT, found.recv())
            .await
            .unwrap_or_else(|_| panic!("C did not find name {i} within {WAIT_LIMIT:?}"))
            .expect("ack actor stopped");
        assert_eq!(report.i, i, "C reported names out of order");
        assert!(
            report.found_at >= before,
            "C found name {i} before A registered it: the clocks differ"
        );
        if i >= warmup {
            lat.record_ns(report.found_at - before);
        }
    }
    let wall = wall.elapsed();
    drop(actors);
    drop(holders);
    dist_peer::micros(&lat, wall)
}

/// `# W10 p50 over W6-task p50: ...`: W10 in both placements beside the same run's W6 with
/// the caller on a worker, when both ran.
pub fn print_ratios(all: &Medians) {
    let Some(w6) = dist_peer::median(all, "W6", "actor-dist-task", "p50") else {
        return;
    };
    let ratios: Vec<String> = ["actor-registry", "actor-registry-task"]
        .iter()
        .filter_map(|peer| {
            let w10 = dist_peer::median(all, "W10", peer, "p50")?;
            Some(format!("W10 {peer}/W6 actor-dist-task={:.2}", w10 / w6))
        })
        .collect();
    if !ratios.is_empty() {
        println!(
            "# W10 p50 over W6-task p50: {} (target <= 3)",
            ratios.join(" ")
        );
    }
}
