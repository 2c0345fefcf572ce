//! W17 (local): durable receipts per second on one node from 64 concurrent entities, each
//! performing 2,000 state-changing appends (receipt about 200 bytes, 8-byte event), each awaited
//! until durable; ack latency p50/p99.
//!
//! `cargo run --release -p actor-journal --example w17 [-- --quick] [--dir PATH]`
//!
//! Prints `peer=actor-journal workload=W17 metric=... value=... unit=...` lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_journal::{receipt_id, EntityKey, JournalConfig, JournalStore, Receipt, RedbJournal};
use hdrhistogram::Histogram;

const WRITERS: u64 = 64;

fn receipt(writer: u64, epoch: u64, seq: u64) -> Receipt {
    let (from, to) = if seq.is_multiple_of(2) {
        ("active", "suspended")
    } else {
        ("suspended", "active")
    };
    Receipt {
        id: receipt_id(writer, seq),
        time: Receipt::now_micros(),
        tenant: format!("tenant-{:02}", writer % 8),
        kind: "entitlement".into(),
        key: format!("entity-{writer:04}").into_bytes(),
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

/// Runs `per_writer` appends on each of the 64 keys `prefix-N`, each awaited; returns the ack
/// latencies (ns) and the wall time.
async fn run(
    journal: Arc<RedbJournal>,
    prefix: &str,
    per_writer: u64,
) -> (Histogram<u64>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let journal = journal.clone();
        let key = EntityKey::new("entitlement", format!("{prefix}-{w:04}"));
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
            journal.promise(&key, 1).await.unwrap();
            for seq in 1..=per_writer {
                let mut r = receipt(w, 1, seq);
                r.key = key.key.clone();
                let t = Instant::now();
                journal.append(r).await.unwrap();
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
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1).cloned());
    let per_writer: u64 = if quick { 100 } else { 2_000 };
    let warmup: u64 = if quick { 10 } else { 10_000 / WRITERS + 1 };

    let config = match &dir {
        Some(dir) => JournalConfig::new(dir),
        None => JournalConfig::temporary(),
    };
    let data_dir = config.dir.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let journal = Arc::new(RedbJournal::open(config).unwrap());
        let size = postcard::to_allocvec(&receipt(7, 1, 1)).unwrap().len();
        eprintln!("# W17 local: {WRITERS} writers x {per_writer} appends, receipt {size} bytes, data in {}", data_dir.display());

        run(journal.clone(), "warmup", warmup).await;
        let before = journal.stats();
        let (hist, wall) = run(journal.clone(), "entity", per_writer).await;
        let stats = journal.stats();

        let n = WRITERS * per_writer;
        let line = |metric: &str, value: String, unit: &str| {
            println!("peer=actor-journal workload=W17 metric={metric} value={value} unit={unit}")
        };
        line("receipts_local", format!("{:.0}", n as f64 / wall.as_secs_f64()), "per_s");
        let ms = |q: f64| format!("{:.3}", hist.value_at_quantile(q) as f64 / 1e6);
        line("ack_p50_local", ms(0.5), "ms");
        line("ack_p99_local", ms(0.99), "ms");
        let commits = stats.commits - before.commits;
        eprintln!(
            "# {commits} commits, {} syncs, {:.1} appends per commit, largest {}",
            stats.syncs - before.syncs,
            (stats.ops - before.ops) as f64 / commits.max(1) as f64,
            stats.max_batch
        );
        journal.close().await;
    });
    if dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
}
