//! Side-by-side benchmarks of `actor-core` against ractor 0.16, kameo 0.22, actix 0.13 and raw
//! tokio.
//!
//! The workloads (W1 spawn, W2 local tell, W2b many senders, W3 local ask, W4 ring, W7a raw
//! mpsc, W7d raw mpsc + oneshot ask, W8 statem
//! call, W9 local registry, W10 global name propagation) and their constants are fixed by
//! `WORKLOADS.md`; the same run measures every peer, so every ratio can be read off one run.
//! W8 has no ractor peer; when W3 runs in the same invocation, a comment line gives W8's
//! latencies over W3's plain actor call (`actor-core`), placement by placement. W9 and W10
//! have no ractor peer either: ractor has no gproc-style registry. When W6 runs in the same
//! invocation, a comment line gives W10's p50 over W6-task's (target <= 3).
//!
//! ```text
//! cargo run --release -p benches                    # all of W1-W12
//! cargo run --release -p benches -- W3 W4           # some of them
//! cargo run --release -p benches -- --quick         # smoke run: counts / 100, one round
//! ```
//!
//! For each workload the parent process runs 3 rounds; a round runs every peer variant once,
//! interleaved, each in a fresh child process (this binary re-executed with the hidden
//! arguments `--child <workload> <peer>`), so one measurement's heap and RSS cannot affect
//! another's. A child prints `metric=value` lines; the parent prints, per peer and metric, the
//! median of the runs with min, max and spread = (max - min) / median:
//!
//! ```text
//! peer=actor-core workload=W2 metric=throughput value=12345678 unit=msg/s min=... max=... spread=0.12 runs=3
//! ```
//!
//! Peer names carry the placement of the driving code:
//! - no suffix: tokio multi-thread runtime (default worker count), driver in `Runtime::block_on`
//!   on the main thread, as `#[tokio::main]` does;
//! - `-task`: the same runtime, the driver `tokio::spawn`ed onto a worker and awaited (where
//!   the caller of an actor application usually is: another actor);
//! - `-1t`: a current-thread runtime, everything on one thread.
//!
//! W1, W2, W3 and W4 run in both multi-thread placements for actor-core, ractor and kameo,
//! W3 also in `-1t`, W1, W2 and W4 also `actor-core-1t`; actix runs as `actix-1t` only (its own
//! single-threaded `System`, as its users run it). kameo and actix are packages of their own
//! (`kameo-peer/`, `actix-peer/`, built by this binary on first use, skipped under `--quick`;
//! `external.rs`). W1's floor runs as `raw-tokio` and `raw-tokio-1t` (a bare task per actor
//! waiting on a oneshot); W7a and W7d (raw tokio) run as `raw-tokio` and `raw-tokio-task` (W7d also
//! `-1t`); W2b runs as `actor-core`, `actor-core-task`, `ractor`, `kameo`, `actix-1t` and
//! `raw-tokio` (8 tokio tasks on one `unbounded_channel`); W8 as `statem` and `statem-task`; W9 as
//! `actor-registry` and `actor-registry-task` (`registry_peer.rs`).
//!
//! Distribution (`dist_peer.rs`): W5 remote tell, W6 remote ask, W11 remote spawn and W12
//! failure detection run as `actor-dist` between two OS processes (the child re-executes this
//! binary as node B with the hidden argument `--dist-node`); W5 and W6 also as
//! `ractor_cluster`, a package of its own (`ractor-cluster-peer/`, built by this binary on
//! first use, skipped under `--quick`; `external.rs`). W7b/W7c are the raw TCP
//! references (`raw_tcp.rs`). W10 (`registry_global.rs`) runs as `actor-registry` and
//! `actor-registry-task` across three OS processes: the child is node A and starts nodes B
//! and C the same way, with the hidden argument `--registry-node`; each node holds a replica
//! of one global registry scope. `--quick` runs 200 W10 registrations (not a hundredth).
//!
//! Entities (`actor-entity`, three OS processes each): W16 activation by key
//! (`entities.rs`), W17 durable transitions through the entity layer, local and on the
//! replicated log (`receipts.rs`), W18 failover of 1,000 entities of a node killed with
//! SIGKILL (`failover.rs`). Each runs with two entity kinds (`kinds.rs`): the bench's 2-state
//! switch (peers `actor-entity*`) and the entitlement governor of `examples` (peers
//! `entitlement*`), so the application's own machine is measured too.
//!
//! W21 (`split_brain.rs`) runs five membership nodes as OS processes (`--w21-node`), links
//! through proxies in the child; its peers are the scenarios `silent`, `one-way`, `flapping`.
//! W19 cluster formation (`formation.rs`) runs as `actor-cluster-<n>` for n = 10, 25, 50, 100
//! node processes (hidden argument `--w19-node`); `--quick` runs only `actor-cluster-10`.
//!
//! Lines starting with `#` are comments: the machine, the date, and actor-core's ratios to
//! ractor and to the best of the other peers.

mod actor_core_peer;
mod blackhole;
mod common;
mod dist_peer;
mod entities;
mod external;
mod failover;
mod formation;
mod kinds;
mod ractor_peer;
mod ratios;
mod raw;
mod raw_tcp;
mod receipts;
mod registry_global;
mod registry_peer;
mod split_brain;
mod statem_peer;
mod supervision;
mod workloads;

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rounds of a full run (each peer runs once per round).
const ROUNDS: usize = 3;

pub use common::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use kinds::{EntitlementKind, SwitchKind};
pub(crate) use workloads::{Workload, WORKLOADS};

// ---------------------------------------------------------------------------------------------
// Child: run one workload for one peer and print its metrics.

/// Where the driving code runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Multi-thread runtime, driver in `block_on` on the main thread.
    Main,
    /// Multi-thread runtime, driver spawned onto a worker.
    Task,
    /// Current-thread runtime.
    OneThread,
}

/// Splits `actor-core-task` into `("actor-core", Placement::Task)`.
pub(crate) fn split_peer(peer: &str) -> (&str, Placement) {
    if let Some(base) = peer.strip_suffix("-task") {
        (base, Placement::Task)
    } else if let Some(base) = peer.strip_suffix("-1t") {
        (base, Placement::OneThread)
    } else {
        (peer, Placement::Main)
    }
}

type Driver = Pin<Box<dyn Future<Output = Metrics> + Send>>;

/// The driver future of `workload` for the peer `base` (placement suffix removed).
fn driver(workload: &str, base: &str, c: Counts) -> Option<Driver> {
    Some(match (workload, base) {
        ("W1", "actor-core") => Box::pin(actor_core_peer::w1_spawn(c)),
        ("W2", "actor-core") => Box::pin(actor_core_peer::w2_tell(c)),
        ("W3", "actor-core") => Box::pin(actor_core_peer::w3_ask(c)),
        ("W2b", "actor-core") => Box::pin(actor_core_peer::w2b_many_senders(c)),
        ("W4", "actor-core") => Box::pin(actor_core_peer::w4_ring(c)),
        ("W1", "ractor") => Box::pin(ractor_peer::w1_spawn(c)),
        ("W2", "ractor") => Box::pin(ractor_peer::w2_tell(c)),
        ("W3", "ractor") => Box::pin(ractor_peer::w3_ask(c)),
        ("W2b", "ractor") => Box::pin(ractor_peer::w2b_many_senders(c)),
        ("W4", "ractor") => Box::pin(ractor_peer::w4_ring(c)),
        ("W1", "raw-tokio") => Box::pin(raw::w1_spawn(c)),
        ("W7a", "raw-tokio") => Box::pin(raw::w7a_mpsc(c)),
        ("W2b", "raw-tokio") => Box::pin(raw::w2b_many_senders(c)),
        ("W7d", "raw-tokio") => Box::pin(raw::w7d_ask(c)),
        ("W8", "statem") => Box::pin(statem_peer::w8_statem_call(c)),
        ("W9", "actor-registry") => Box::pin(registry_peer::w9_registry(c)),
        ("W5", "actor-dist") => Box::pin(dist_peer::w5_remote_tell(c)),
        ("W6", "actor-dist") => Box::pin(dist_peer::w6_remote_ask(c)),
        ("W10", "actor-registry") => Box::pin(registry_global::w10_global_names(c)),
        ("W10", "actor-registry-1m") => Box::pin(registry_global::w10_global_names_preloaded(c)),
        ("W11", "actor-dist") => Box::pin(dist_peer::w11_remote_spawn(c)),
        ("W12", "actor-dist") => Box::pin(dist_peer::w12_failure_detection(c)),
        ("W16", "actor-entity") => Box::pin(entities::w16_entity_activation::<SwitchKind>(c)),
        ("W16", "entitlement") => Box::pin(entities::w16_entity_activation::<EntitlementKind>(c)),
        ("W17", p) => {
            use receipts::{w17_entity_receipts as w17, Mode};
            match p {
                "actor-entity-local" => Box::pin(w17::<SwitchKind>(c, Mode::Local)),
                "entitlement-local" => Box::pin(w17::<EntitlementKind>(c, Mode::Local)),
                "actor-entity-replicated" => Box::pin(w17::<SwitchKind>(c, Mode::Replicated)),
                "entitlement-replicated" => Box::pin(w17::<EntitlementKind>(c, Mode::Replicated)),
                _ => return None,
            }
        }
        ("W18", "actor-entity") => Box::pin(failover::w18_failover::<SwitchKind>(c)),
        ("W18", "entitlement") => Box::pin(failover::w18_failover::<EntitlementKind>(c)),
        ("W13", "actor-dist") => Box::pin(dist_peer::w13_head_of_line(c)),
        ("W20", "actor-dist") => Box::pin(dist_peer::w20_preauth_flood(c)),
        ("W21", p) => {
            use split_brain::Scenario::*;
            let s = match p {
                "silent" => Silent,
                "one-way" => OneWay,
                "flapping" => Flapping,
                _ => return None,
            };
            Box::pin(split_brain::w21_split_brain(c, s))
        }
        ("W7b", "raw-tokio") => Box::pin(raw_tcp::w7b_pipe(c)),
        ("W7c", "raw-tokio") => Box::pin(raw_tcp::w7c_req_resp(c)),
        ("W14", "actor-core-10k") => {
            Box::pin(supervision::w14_dynamic_supervision(c.sup_children.0))
        }
        ("W14", "actor-core-100k") => {
            Box::pin(supervision::w14_dynamic_supervision(c.sup_children.1))
        }
        ("W15", "actor-core") => Box::pin(supervision::w15_monitor_churn(c)),
        ("W15", "actor-dist") => Box::pin(supervision::w15_remote_monitor_churn(c)),
        ("W19", peer) => Box::pin(formation::w19_formation(formation::nodes_of(peer)?)),
        _ => return None,
    })
}

fn run_child(workload: &str, peer: &str, quick: bool) -> ExitCode {
    if external::is_peer(peer) {
        return external::run_child(workload, peer, quick);
    }
    let counts = if quick { Counts::QUICK } else { Counts::FULL };
    let (base, placement) = split_peer(peer);
    let Some(fut) = driver(workload, base, counts) else {
        eprintln!("benches: no workload {workload} for peer {peer}");
        return ExitCode::from(2);
    };
    // A hung workload must not hang the whole run (or CI).
    let limit = Duration::from_secs(if quick { 120 } else { 600 });
    let (w, p) = (workload.to_owned(), peer.to_owned());
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("benches: {w} {p} did not finish within {limit:?}");
        std::process::exit(3);
    });

    let rt = match placement {
        Placement::OneThread => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Placement::Main | Placement::Task => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .expect("tokio runtime");
    let metrics = rt.block_on(async move {
        match placement {
            Placement::Task => tokio::spawn(fut).await.expect("driver task panicked"),
            Placement::Main | Placement::OneThread => fut.await,
        }
    });

    common::print_metrics(&metrics);
    // Skip tearing down the runtime and whatever actors are still alive.
    std::process::exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent: run the children, collect and print.

/// Runs one child and returns its metrics by name.
fn spawn_child(workload: &str, peer: &str, quick: bool) -> Result<HashMap<String, f64>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(["--child", workload, peer]);
    if quick {
        cmd.arg("--quick");
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    if !output.status.success() {
        return Err(format!("child exited with {}", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut metrics = HashMap::new();
    for line in stdout.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("bad child line {line:?}"))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|e| format!("bad value in {line:?}: {e}"))?;
        metrics.insert(name.trim().to_owned(), value);
    }
    Ok(metrics)
}

/// Median (mean of the middle two for an even count), min and max of `values`.
fn summarize(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

/// Few digits for large numbers, two decimals for small ones.
fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Medians of one invocation: `(workload, peer, metric)` to value.
type Medians = HashMap<(&'static str, &'static str, &'static str), f64>;

/// Runs every round of `w` and prints its lines; returns whether every child succeeded, and
/// adds the medians to `all`.
fn run_workload(w: &Workload, rounds: usize, quick: bool, all: &mut Medians) -> bool {
    // samples[peer][metric] = one value per successful run
    let mut samples: HashMap<&str, HashMap<&str, Vec<f64>>> = HashMap::new();
    let mut ok = true;
    for round in 1..=rounds {
        for &peer in w.peers {
            if !external::available(peer, quick) || formation::skipped(w.id, peer, quick) {
                continue;
            }
            match spawn_child(w.id, peer, quick) {
                Ok(metrics) => {
                    for &(metric, _) in workloads::optional_metrics(w.id) {
                        if let Some(&v) = metrics.get(metric) {
                            samples
                                .entry(peer)
                                .or_default()
                                .entry(metric)
                                .or_default()
                                .push(v);
                        }
                    }
                    for &(metric, _) in w.metrics {
                        match metrics.get(metric) {
                            Some(&v) => samples
                                .entry(peer)
                                .or_default()
                                .entry(metric)
                                .or_default()
                                .push(v),
                            None => {
                                ok = false;
                                println!("# error: {} {peer} round {round}: no {metric}", w.id);
                            }
                        }
                    }
                }
                Err(e) => {
                    ok = false;
                    println!("# error: {} {peer} round {round}: {e}", w.id);
                }
            }
        }
    }

    let mut medians: HashMap<(&str, &str), f64> = HashMap::new();
    let all_metrics = || w.metrics.iter().chain(workloads::optional_metrics(w.id));
    for &peer in w.peers {
        for &(metric, unit) in all_metrics() {
            let Some(values) = samples.get_mut(peer).and_then(|m| m.get_mut(metric)) else {
                continue;
            };
            let runs = values.len();
            let (median, min, max) = summarize(values);
            let spread = if median != 0.0 {
                (max - min) / median
            } else {
                0.0
            };
            medians.insert((peer, metric), median);
            all.insert((w.id, peer, metric), median);
            println!(
                "peer={peer} workload={} metric={metric} value={} unit={unit} min={} max={} spread={spread:.2} runs={runs}",
                w.id,
                fmt_value(median),
                fmt_value(min),
                fmt_value(max),
            );
        }
    }

    ratios::print_peer_ratios(w, &medians);
    let _ = std::io::stdout().flush();
    ok
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now (UTC), without a date crate.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `# ...` header: host, CPU, core count, date, settings.
fn print_header(rounds: usize, quick: bool) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "# benches host={host} cpu=\"{cpu}\" nproc={nproc} date={} rounds={rounds} quick={quick}",
        utc_now()
    );
}

const USAGE: &str =
    "usage: benches [W1 W2 W3 W4 W5 W6 W7a W7b W7c W8 W9 W10 W11 W12 W13 W14 W15 W16 W17 W18 W19 W20 W21 ...] [--quick]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");

    if args.first().map(String::as_str) == Some(dist_peer::W20_NODE_ARG) {
        return dist_peer::w20_node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(formation::NODE_ARG) {
        return formation::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(dist_peer::NODE_ARG) {
        return dist_peer::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(entities::NODE_ARG) {
        return entities::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(failover::NODE_ARG) {
        return failover::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(split_brain::NODE_ARG) {
        return split_brain::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(registry_global::NODE_ARG) {
        return registry_global::node_main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--child") {
        return match (args.get(1), args.get(2)) {
            (Some(w), Some(peer)) => run_child(w, peer, quick),
            _ => {
                eprintln!("usage: benches --child <workload> <peer> [--quick]");
                ExitCode::from(2)
            }
        };
    }

    let mut selected: Vec<&Workload> = Vec::new();
    for arg in args.iter().filter(|a| a.as_str() != "--quick") {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        match WORKLOADS.iter().find(|w| w.id.eq_ignore_ascii_case(arg)) {
            Some(w) => selected.push(w),
            None => {
                eprintln!("benches: unknown workload or flag {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if selected.is_empty() {
        selected = WORKLOADS.iter().collect();
    }

    let rounds = if quick { 1 } else { ROUNDS };
    print_header(rounds, quick);
    let started = Instant::now();
    let mut ok = true;
    let mut all = Medians::new();
    for w in selected {
        // W12's 20 trials are its repetitions: one round.
        let rounds = if w.id == "W12" { 1 } else { rounds };
        ok &= run_workload(w, rounds, quick, &mut all);
    }
    ratios::print_w8_vs_w3(&all);
    ratios::print_w3_vs_w7d(&all);
    dist_peer::print_ratios(&all, quick);
    registry_global::print_ratios(&all);
    ratios::print_w14_scale(&all);
    println!("# wall time {:.1} s", started.elapsed().as_secs_f64());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
