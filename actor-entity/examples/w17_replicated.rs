//! W17 (replicated): durable receipts per second from 64 concurrent entities, each performing
//! 2,000 state-changing appends (receipt about 200 bytes, 8-byte event), each awaited until a
//! majority of its key's three replicas holds it durably; ack latency p50/p99. Three nodes in
//! one process (Dist over 127.0.0.1, one RedbJournal each in its own directory); the entities
//! are spread over the three nodes.
//!
//! `cargo run --release -p actor-entity --example w17_replicated [-- --quick]`
//!
//! Prints `peer=actor-entity workload=W17 metric=... value=... unit=...` lines.

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::{EntityLog, LocalLog};
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog};

use actor_journal::{receipt_id, EntityKey, JournalConfig, JournalStore, Receipt, RedbJournal};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITERS: u64 = 64;

fn receipt(key: &EntityKey, writer: u64, epoch: u64, seq: u64) -> Receipt {
    let (from, to) = if seq.is_multiple_of(2) {
        ("active", "suspended")
    } else {
        ("suspended", "active")
    };
    Receipt {
        id: receipt_id(writer, seq),
        time: Receipt::now_micros(),
        tenant: format!("tenant-{:02}", writer % 8),
        kind: key.kind.clone(),
        key: key.key.clone(),
        epoch,
        seq,
        from: from.into(),
        to: to.into(),
        event: seq.to_le_bytes().to_vec(),
        metadata: vec![
            ("caller".into(), format!("node-a/<0.{writer}.0>")),
            ("trace".into(), format!("{:032x}", receipt_id(writer, seq))),
            ("reason".into(), "quota window rolled over".into()),
        ],
        state: vec![],
    }
}

async fn run(
    logs: &[Arc<dyn EntityLog>],
    prefix: &str,
    per_writer: u64,
) -> (Histogram<u64>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let log = logs[(w % logs.len() as u64) as usize].clone();
        let key = EntityKey::new("entitlement", format!("{prefix}-{w:04}"));
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            let held = log.activate(&key).await.unwrap();
            for seq in held.last_seq + 1..=held.last_seq + per_writer {
                let r = receipt(&key, w, held.epoch, seq);
                let t = Instant::now();
                log.append(r).await.unwrap();
                hist.record(t.elapsed().as_nanos() as u64).unwrap();
            }
            hist
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    for task in tasks {
        all.add(task.await.unwrap()).unwrap();
    }
    (all, start.elapsed())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let per_writer: u64 = if quick { 100 } else { 2_000 };
    let warmup: u64 = if quick { 10 } else { 10_000 / WRITERS + 1 };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dirs = runtime.block_on(async {
        let mut dists = Vec::new();
        for i in 0..3 {
            let mut cfg = DistConfig::new(Cookie::new("w17").unwrap());
            cfg.auto_connect = false;
            dists.push(
                Dist::start(&Node::new(format!("w17-{i}@127.0.0.1")), cfg)
                    .await
                    .unwrap(),
            );
        }
        for i in 0..3 {
            for j in i + 1..3 {
                dists[i]
                    .connect(dists[j].name(), dists[j].local_addr())
                    .await
                    .unwrap();
            }
        }
        let mut dirs = Vec::new();
        let mut stores = Vec::new();
        let mut logs = Vec::new();
        for dist in &dists {
            let config = JournalConfig::temporary();
            dirs.push(config.dir.clone());
            let store = Arc::new(RedbJournal::open(config).unwrap());
            stores.push(store.clone());
            let log = ReplicatedLog::start(dist, store, ReplicatedConfig::default())
                .await
                .unwrap();
            logs.push(Arc::new(log) as Arc<dyn EntityLog>);
        }
        eprintln!(
            "# W17 replicated: 3 nodes, {WRITERS} writers x {per_writer} appends, majority of 3"
        );
        run(&logs, "warmup", warmup).await;
        let before: Vec<_> = stores.iter().map(|s| s.stats()).collect();
        let (hist, wall) = run(&logs, "entity", per_writer).await;
        let n = WRITERS * per_writer;
        let line = |metric: &str, value: String, unit: &str| {
            println!("peer=actor-entity workload=W17 metric={metric} value={value} unit={unit}")
        };
        line(
            "receipts_replicated",
            format!("{:.0}", n as f64 / wall.as_secs_f64()),
            "per_s",
        );
        let ms = |q: f64| format!("{:.3}", hist.value_at_quantile(q) as f64 / 1e6);
        line("ack_p50_replicated", ms(0.5), "ms");
        line("ack_p99_replicated", ms(0.99), "ms");
        // The same run on one node's journal alone, on this machine now (for comparison).
        let config = JournalConfig::temporary();
        dirs.push(config.dir.clone());
        let local = Arc::new(RedbJournal::open(config).unwrap());
        let local_log: Vec<Arc<dyn EntityLog>> = vec![Arc::new(LocalLog::new(local.clone()))];
        run(&local_log, "warmup", warmup).await;
        let (lhist, lwall) = run(&local_log, "entity", per_writer).await;
        let lms = |q: f64| format!("{:.3}", lhist.value_at_quantile(q) as f64 / 1e6);
        line(
            "receipts_local_same_run",
            format!("{:.0}", n as f64 / lwall.as_secs_f64()),
            "per_s",
        );
        line("ack_p50_local_same_run", lms(0.5), "ms");
        line("ack_p99_local_same_run", lms(0.99), "ms");
        local.close().await;
        for (i, (s, b)) in stores.iter().zip(&before).enumerate() {
            let st = s.stats();
            let commits = st.commits - b.commits;
            eprintln!(
                "# node {i}: {commits} commits, {:.1} ops per commit",
                (st.ops - b.ops) as f64 / commits.max(1) as f64
            );
        }
        for s in &stores {
            s.close().await;
        }
        dirs
    });
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}
