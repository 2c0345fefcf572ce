//! What every peer's workload code shares: the constants of `WORKLOADS.md` ([`Counts`]), the
//! metrics a child reports, RSS and latency helpers.
//!
//! Included as a module by the main bench binary and, through `#[path]`, by the peer packages
//! built on their own (`kameo-peer/`, `actix-peer/`), so that every peer measures with the same
//! constants and the same histogram.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// A child's result: `(metric, value)` pairs, in the order they are reported.
pub type Metrics = Vec<(&'static str, f64)>;

/// The workload constants of `WORKLOADS.md`, or (mostly) a hundredth of them for `--quick`.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    /// W1: actors spawned.
    pub spawns: usize,
    /// W2: messages told to the counting actor.
    pub tells: u64,
    /// W2b: sender tasks.
    pub senders: usize,
    /// W2b: messages each sender tells.
    pub tells_per_sender: u64,
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
    /// The constants of `WORKLOADS.md`.
    pub const FULL: Counts = Counts {
        spawns: 100_000,
        tells: 5_000_000,
        senders: 8,
        tells_per_sender: 625_000,
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

    /// A smoke run's counts.
    pub const QUICK: Counts = Counts {
        spawns: 1_000,
        tells: 50_000,
        senders: 8,
        tells_per_sender: 6_250,
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

/// Prints `metric=value` lines, as a child reports them.
pub fn print_metrics(metrics: &Metrics) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for (name, value) in metrics {
        let _ = writeln!(out, "{name}={value}");
    }
    let _ = out.flush();
}
