//! Group commit: concurrent writes share transactions and syncs, and the queue is bounded.

mod common;

use std::sync::Arc;

use actor_journal::{JournalStore, RedbJournal};
use common::{key, receipt, temp_config};

async fn run_concurrent(journal: Arc<RedbJournal>, writers: u64, per_writer: u64) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let k = key(&format!("writer-{w}"));
            journal.promise(&k, 1).await.unwrap();
            for seq in 1..=per_writer {
                journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_commits_and_syncs() {
    let (_dir, config) = temp_config();
    let journal = Arc::new(RedbJournal::open(config).unwrap());
    let before = journal.stats();
    let (writers, per_writer) = (64u64, 20u64);
    run_concurrent(journal.clone(), writers, per_writer).await;

    let stats = journal.stats();
    let ops = writers * (per_writer + 1);
    let commits = stats.commits - before.commits;
    let syncs = stats.syncs - before.syncs;
    assert_eq!(stats.ops - before.ops, ops);
    assert_eq!(stats.failed_commits, 0);
    // Each writer waits for its previous append: with 64 writers, a commit carries many of
    // them. Far fewer commits (and syncs) than operations.
    assert!(commits * 4 <= ops, "{commits} commits for {ops} ops");
    assert!(syncs <= commits * 2, "{syncs} syncs for {commits} commits");
    assert!(stats.max_batch >= 8, "largest batch {}", stats.max_batch);

    // Every acknowledged receipt is there, in order.
    for w in 0..writers {
        let state = journal
            .last_state(&key(&format!("writer-{w}")))
            .await
            .unwrap();
        assert_eq!(state.last_seq, per_writer);
        assert_eq!(state.entries.len() as u64, per_writer);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_queue_applies_backpressure_without_losing_writes() {
    let (_dir, mut config) = temp_config();
    config.max_pending = 2;
    config.max_batch = 4;
    let journal = Arc::new(RedbJournal::open(config).unwrap());
    run_concurrent(journal.clone(), 16, 10).await;
    let stats = journal.stats();
    assert!(
        stats.max_batch <= 4,
        "batch {} above the bound",
        stats.max_batch
    );
    assert_eq!(stats.ops, 16 * 11);
    for w in 0..16 {
        let state = journal
            .last_state(&key(&format!("writer-{w}")))
            .await
            .unwrap();
        assert_eq!(state.last_seq, 10);
    }
}
