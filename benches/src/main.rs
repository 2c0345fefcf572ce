//! Side-by-side benchmarks of `actor-core` against ractor 0.16 and raw tokio.
//!
//! The workloads (W1 spawn, W2 local tell, W3 local ask, W4 ring, W7a raw mpsc, W8 statem
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
//! - `-1t`: a current-thread runtime, everything on one thread (W3 only).
//!
//! W1 and W2 to W4 run in both multi-thread placements, W3 also in `-1t`; W7a (raw tokio) runs
//! as `raw-tokio` and `raw-tokio-task`; W8 as `statem` and `statem-task`; W9 as
//! `actor-registry` and `actor-registry-task` (`registry_peer.rs`).
//!
//! Distribution (`dist_peer.rs`): W5 remote tell, W6 remote ask, W11 remote spawn and W12
//! failure detection run as `actor-dist` between two OS processes (the child re-executes this
//! binary as node B with the hidden argument `--dist-node`); W5 and W6 also as
//! `ractor_cluster`, a package of its own (`ractor-cluster-peer/`, built by this binary on
//! first use, skipped under `--quick`; `ractor_cluster_runner.rs`). W7b/W7c are the raw TCP
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
//! Lines starting with `#` are comments: the machine, the date, and actor-core/ractor ratios.

mod actor_core_peer;
mod blackhole;
mod dist_peer;
mod entities;
mod failover;
mod formation;
mod kinds;
mod ractor_cluster_runner;
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

use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rounds of a full run (each peer runs once per round).
const ROUNDS: usize = 3;

/// A child's result: `(metric, value)` pairs, in the order they are reported.
pub type Metrics = Vec<(&'static str, f64)>;

use kinds::{EntitlementKind, SwitchKind};
pub(crate) use workloads::{Workload, WORKLOADS};

/// The workload constants of `WORKLOADS.md`, or (mostly) a hundredth of them for `--quick`.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    /// W1: actors spawned.
    pub spawns: usize,
    /// W2: messages told to the counting actor.
    pub tells: u64,
    /// W3 and W8: measured calls.
    pub calls: u64,
    /// W3 and W8: warm-up calls before the measured ones.
    pub warmup: u64,
    /// W4: actors in the ring.
    pub ring: usize,
    /// W4: forwards of the token.
    pub hops: u64,
    /// W7a: messages through the raw channel.
    pub raw_msgs: u64,
    /// W5: messages told to the remote counting actor.
    pub remote_tells: u64,
    /// W6: measured remote calls.
    pub remote_calls: u64,
    /// W6 and W7c: warm-up calls or round trips before the measured ones.
    pub remote_warmup: u64,
    /// W11: measured remote spawns.
    pub remote_spawns: u64,
    /// W16: distinct entity keys activated, then called warm.
    pub entity_keys: u64,
    /// W17: state-changing calls per entity (64 entities).
    pub journal_calls: u64,
    /// W18: entities on the node that is killed.
    pub failover_keys: u64,
    /// W7b: frames through the raw TCP pipe.
    pub tcp_frames: u64,
    /// W7c: measured raw TCP round trips.
    pub tcp_round_trips: u64,
    /// W12 and W13: the tick time of both nodes.
    pub tick: Duration,
    /// W12: trials (each at a random phase of the tick cycle).
    pub w12_trials: usize,
    /// W13: 4 MiB messages of the bulk transfer.
    pub bulk_msgs: u64,
    /// W13: how long the baseline probe runs.
    pub w13_baseline: Duration,
    /// W20: idle unauthenticated sockets.
    pub w20_sockets: usize,
    /// W9: names registered (one per actor), then unregistered.
    pub reg_names: usize,
    /// W9: `where` lookups, split over the lookup tasks.
    pub reg_lookups: u64,
    /// W10: measured global registrations (after `remote_warmup` unmeasured ones).
    pub global_names: u64,
    /// W10 `actor-registry-1m`: names registered and replicated before the measured ones.
    pub global_preload: u64,
    /// W14: children of the dynamic supervisor (the small and the large run).
    pub sup_children: (usize, usize),
    /// W15: short-lived watchers of one target (a tenth of them across a node link).
    pub churn_watchers: usize,
}

impl Counts {
    const FULL: Counts = Counts {
        spawns: 100_000,
        tells: 5_000_000,
        calls: 500_000,
        warmup: 10_000,
        ring: 1_000,
        hops: 1_000_000,
        raw_msgs: 5_000_000,
        remote_tells: 1_000_000,
        remote_calls: 100_000,
        remote_warmup: 1_000,
        remote_spawns: 10_000,
        entity_keys: 20_000,
        journal_calls: 2_000,
        failover_keys: 1_000,
        tcp_frames: 1_000_000,
        tcp_round_trips: 100_000,
        tick: Duration::from_secs(2),
        w12_trials: 20,
        bulk_msgs: 200,
        w13_baseline: Duration::from_secs(10),
        w20_sockets: 500,
        reg_names: 100_000,
        reg_lookups: 1_000_000,
        global_names: 10_000,
        global_preload: 1_000_000,
        sup_children: (10_000, 100_000),
        churn_watchers: 1_000_000,
    };

    const QUICK: Counts = Counts {
        spawns: 1_000,
        tells: 50_000,
        calls: 5_000,
        warmup: 100,
        ring: 100,
        hops: 10_000,
        raw_msgs: 50_000,
        remote_tells: 10_000,
        remote_calls: 1_000,
        remote_warmup: 10,
        remote_spawns: 100,
        entity_keys: 1_000,
        journal_calls: 100,
        failover_keys: 100,
        tcp_frames: 10_000,
        tcp_round_trips: 1_000,
        tick: Duration::from_millis(500),
        w12_trials: 2,
        bulk_msgs: 10,
        w13_baseline: Duration::from_millis(500),
        w20_sockets: 50,
        reg_names: 1_000,
        reg_lookups: 10_000,
        global_names: 200,
        global_preload: 10_000,
        sup_children: (1_000, 10_000),
        churn_watchers: 10_000,
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the peers' workload functions.

/// Events per second.
pub fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

/// The process's resident set size (VmRSS in `/proc/self/status`), in bytes; 0 if unknown.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// W1's metrics from its two timings and two RSS readings.
pub fn spawn_metrics(
    actors: usize,
    spawn_phase: Duration,
    total: Duration,
    rss_before: u64,
    rss_alive: u64,
) -> Metrics {
    let n = actors as f64;
    vec![
        ("spawn_stop_per_actor", total.as_secs_f64() * 1e6 / n),
        ("spawn_per_actor", spawn_phase.as_secs_f64() * 1e6 / n),
        (
            "rss_per_actor",
            rss_alive.saturating_sub(rss_before) as f64 / n,
        ),
    ]
}

/// Per-request latencies of W3: an hdrhistogram (1 ns .. 60 s, 3 significant digits) plus
/// the exact sum for the mean.
pub struct Latencies {
    hist: Histogram<u64>,
    sum_ns: u128,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            hist: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
            sum_ns: 0,
        }
    }
}

impl Latencies {
    /// Records the latency of one request that was sent at `sent`.
    #[inline]
    pub fn record_since(&mut self, sent: Instant) {
        self.record_ns(sent.elapsed().as_nanos() as u64);
    }

    /// Records one latency of `ns` nanoseconds, measured by other means (W10: across
    /// processes).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.sum_ns += u128::from(ns);
        self.hist.saturating_record(ns);
    }

    /// Adds `other`'s latencies to these.
    pub fn add(&mut self, other: &Latencies) {
        self.sum_ns += other.sum_ns;
        self.hist.add(&other.hist).expect("same histogram bounds");
    }

    /// The `q`th percentile (ns); 0 when nothing was recorded.
    pub fn p(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q / 100.0) as f64
    }

    /// `mean`, `p50`, `p99` (ns) and `throughput` (requests / `wall`).
    pub fn metrics(&self, wall: Duration) -> Metrics {
        let n = self.hist.len();
        vec![
            ("mean", self.sum_ns as f64 / n as f64),
            ("p50", self.hist.value_at_quantile(0.50) as f64),
            ("p99", self.hist.value_at_quantile(0.99) as f64),
            ("throughput", rate(n, wall)),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Child: run one workload for one peer and print its metrics.

/// Where the driving code runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Multi-thread runtime, driver in `block_on` on the main thread.
    Main,
    /// Multi-thread runtime, driver spawned onto a worker.
    Task,
    /// Current-thread runtime.
    OneThread,
}

/// Splits `actor-core-task` into `("actor-core", Placement::Task)`.
fn split_peer(peer: &str) -> (&str, Placement) {
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
        ("W4", "actor-core") => Box::pin(actor_core_peer::w4_ring(c)),
        ("W1", "ractor") => Box::pin(ractor_peer::w1_spawn(c)),
        ("W2", "ractor") => Box::pin(ractor_peer::w2_tell(c)),
        ("W3", "ractor") => Box::pin(ractor_peer::w3_ask(c)),
        ("W4", "ractor") => Box::pin(ractor_peer::w4_ring(c)),
        ("W7a", "raw-tokio") => Box::pin(raw::w7a_mpsc(c)),
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
    if ractor_cluster_runner::is_peer(peer) {
        return ractor_cluster_runner::run_child(workload, peer, quick);
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

    let mut out = std::io::stdout().lock();
    for (name, value) in metrics {
        let _ = writeln!(out, "{name}={value}");
    }
    let _ = out.flush();
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
            if !ractor_cluster_runner::available(peer, quick)
                || formation::skipped(w.id, peer, quick)
            {
                continue;
            }
            match spawn_child(w.id, peer, quick) {
                Ok(metrics) => {
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
    for &peer in w.peers {
        for &(metric, unit) in w.metrics {
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

    // actor-core / ractor for each placement both ran in.
    for &(metric, _) in w.metrics {
        let ratios: Vec<String> = ["", "-task", "-1t"]
            .iter()
            .filter_map(|suffix| {
                let (ours, theirs) = (format!("actor-core{suffix}"), format!("ractor{suffix}"));
                let ours = medians.get(&(ours.as_str(), metric)).copied()?;
                let theirs = medians.get(&(theirs.as_str(), metric)).copied()?;
                Some(format!(
                    "actor-core{suffix}/ractor{suffix}={:.2}",
                    ours / theirs
                ))
            })
            .collect();
        if !ratios.is_empty() {
            println!("# {} {metric}: {}", w.id, ratios.join(" "));
        }
    }
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
