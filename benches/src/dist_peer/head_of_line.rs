//! W13 head-of-line blocking: a bulk transfer of 4 MiB messages from A to B while an open-loop
//! probe calls an echo actor on B once per millisecond; the same probe without bulk traffic
//! (baseline) and against an echo actor on A itself (the floor of the method).

use super::*;

/// W13: head-of-line blocking. A bulk task sends `bulk_msgs` messages of 4 MiB to a sink on
/// B with `send().await`, back to back; meanwhile calls to an echo actor on B are started
/// once per millisecond (open loop, each in its own task) until the bulk transfer has been
/// taken by the sink; latency from each call's scheduled start. Then the same probe with no
/// bulk traffic (the baseline), and the same probe against an echo actor on node A itself
/// (`floor_call_*`): the floor of the method. A 1 ms tokio interval fires up to about 1 ms
/// late (the timer wheel's millisecond ticks, rounded up, and the wake of a parked worker),
/// and every delay of the probe's own runtime counts against each call scheduled meanwhile,
/// so the baseline is mostly this floor; what the link adds is the difference.
///
/// Diagnostics: `W13_BASE_FIRST=1` also runs, before the transfer, the probe with tasks
/// that only take their time (the timer alone) and the baseline (to tell a node still
/// digesting the transfer from the floor), printed as `#` lines; `W13_DUMP=<file>` appends
/// every probe's latencies (µs, in schedule order) to the file.
pub async fn w13_head_of_line(c: Counts) -> Metrics {
    let tick = c.tick;
    let b = start_b(tick).await;
    let dist = start_a(tick, &b, None).await;
    let mut events = dist.subscribe();
    let sink: ActorRef<SinkMsg> = spawn_on_b(&dist, "bench.sink", &()).await;
    let incr: ActorRef<IncrReq> = spawn_on_b(&dist, "bench.incr", &()).await;
    for i in 0..c.remote_warmup {
        assert_eq!(incr.call(|r| IncrReq(i, r), CALL_TIMEOUT).await, Ok(i + 1));
    }
    // Diagnostic (`W13_BASE_FIRST=1`): the baseline also before the bulk transfer, to tell
    // a node still digesting the transfer from the method's own floor.
    if std::env::var_os("W13_BASE_FIRST").is_some() {
        let (_, (_, raw)) = probe_with(None, Probe::For(c.w13_baseline)).await;
        eprintln!(
            "# W13 timer floor (tasks that only take their time): p50 {:.0} us p99 {:.0} us",
            raw.p(50.0) / 1e3,
            raw.p(99.0) / 1e3
        );
        let (_, (_, early)) = probe(&incr, Probe::For(c.w13_baseline)).await;
        eprintln!(
            "# W13 baseline before the bulk transfer: p50 {:.0} us p99 {:.0} us",
            early.p(50.0) / 1e3,
            early.p(99.0) / 1e3
        );
    }
    const MSG: usize = 4 << 20;
    let n = c.bulk_msgs;
    let bulk = tokio::spawn(async move {
        let start = Instant::now();
        for i in 0..n {
            sink.send(SinkMsg::Data(vec![i as u8; MSG]))
                .await
                .expect("bulk send");
        }
        let total = sink
            .call(SinkMsg::Total, Duration::from_secs(120))
            .await
            .expect("sink total");
        assert_eq!(total, n * MSG as u64);
        start.elapsed()
    });
    let (during, failed_during) = probe(&incr, Probe::Until(bulk)).await;
    let Probe::Done(bulk_time) = during else {
        unreachable!()
    };
    let (_, failed_base) = probe(&incr, Probe::For(c.w13_baseline)).await;
    // The floor of the method: the same probe against an echo actor in this process (no
    // network, no node B), so a reader sees what the distribution layer adds.
    let local: ActorRef<IncrReq> = dist.node().spawn(Incr).await.expect("spawn local echo");
    let (_, floor) = probe(&local, Probe::For(c.w13_baseline)).await;
    let mut nodedowns = 0;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, NodeEvent::Down { .. }) {
            nodedowns += 1;
        }
    }
    let (bulk_lat, base_lat) = (failed_during.1, failed_base.1);
    vec![
        ("bulk_call_p50", bulk_lat.p(50.0) / 1e3),
        ("bulk_call_p99", bulk_lat.p(99.0) / 1e3),
        ("base_call_p50", base_lat.p(50.0) / 1e3),
        ("base_call_p99", base_lat.p(99.0) / 1e3),
        ("floor_call_p50", floor.1.p(50.0) / 1e3),
        ("floor_call_p99", floor.1.p(99.0) / 1e3),
        ("calls_failed", (failed_during.0 + failed_base.0) as f64),
        (
            "bulk_throughput",
            (n * MSG as u64) as f64 / 1e6 / bulk_time.as_secs_f64(),
        ),
        ("nodedowns", nodedowns as f64),
    ]
}

/// How long W13's probe runs.
enum Probe {
    /// Until the bulk transfer ends (its duration is handed back in `Done`).
    Until(tokio::task::JoinHandle<Duration>),
    /// For a fixed time.
    For(Duration),
    Done(Duration),
}

/// Calls `incr` once per millisecond, each in its own task, while `run` lasts; returns the
/// latencies from each call's scheduled start, and the failed calls.
async fn probe(incr: &ActorRef<IncrReq>, run: Probe) -> (Probe, (u64, Latencies)) {
    probe_with(Some(incr), run).await
}

/// [`probe`]; with no actor (`None`) each task only takes its time (the timer's own floor).
async fn probe_with(incr: Option<&ActorRef<IncrReq>>, run: Probe) -> (Probe, (u64, Latencies)) {
    let start = tokio::time::Instant::now();
    let mut every = tokio::time::interval(Duration::from_millis(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = Vec::new();
    let mut k = 0u64;
    let (mut bulk, until) = match run {
        Probe::Until(h) => (Some(h), None),
        Probe::For(d) => (None, Some(start + d)),
        Probe::Done(_) => (None, Some(start)),
    };
    let done = loop {
        tokio::select! {
            biased;
            r = async { bulk.as_mut().unwrap().await }, if bulk.is_some() => {
                break Probe::Done(r.expect("bulk task"));
            }
            scheduled = every.tick() => {
                if until.is_some_and(|u| scheduled >= u) {
                    break Probe::Done(Duration::ZERO);
                }
                let incr = incr.cloned();
                k += 1;
                let n = k;
                calls.push(tokio::spawn(async move {
                    let Some(incr) = incr else {
                        return (true, scheduled.elapsed());
                    };
                    let r = incr.call(|reply| IncrReq(n, reply), CALL_TIMEOUT).await;
                    (r == Ok(n + 1), scheduled.elapsed())
                }));
            }
        }
    };
    let mut lat = Latencies::default();
    let mut failed = 0;
    let mut dump = std::env::var("W13_DUMP").ok().map(|p| {
        use std::io::Write;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        let mut f = std::io::BufWriter::new(f);
        writeln!(f, "# probe").unwrap();
        f
    });
    for (i, c) in calls.into_iter().enumerate() {
        let (ok, took) = c.await.expect("probe call task");
        if let Some(f) = dump.as_mut() {
            use std::io::Write;
            writeln!(f, "{i} {}", took.as_micros()).unwrap();
        }
        if ok {
            lat.record_ns(took.as_nanos() as u64);
        } else {
            failed += 1;
        }
    }
    (done, (failed, lat))
}
