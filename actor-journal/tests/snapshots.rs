//! Snapshots bound replay, compaction per retention, and the snapshot rules.

mod common;

use actor_journal::{JournalError, JournalStore, RedbJournal, Retention, Snapshot};
use common::{key, receipt, temp_config};

fn state(upto: u64) -> Vec<u8> {
    format!("state after {upto}").into_bytes()
}

#[tokio::test]
async fn replay_is_the_latest_snapshot_and_the_receipts_after_it() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("snap");
    journal.promise(&k, 1).await.unwrap();
    for seq in 1..=10 {
        journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
    }
    let snap = Snapshot {
        epoch: 1,
        seq: 7,
        state: state(7),
    };
    journal.snapshot(&k, snap.clone()).await.unwrap();

    let accepted = journal.promise(&k, 2).await.unwrap();
    assert_eq!(accepted.snapshot, Some(snap));
    let seqs: Vec<u64> = accepted.entries.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![8, 9, 10]);
    assert_eq!(accepted.last_seq, 10);

    // Compacted (the default retention): receipts up to 7 are gone, also from queries.
    assert_eq!(journal.entries_after(&k, 0, 100).await.unwrap().len(), 3);
    let by_tenant = journal.by_tenant("t", 0..100, 100).await.unwrap();
    assert_eq!(
        by_tenant.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [8, 9, 10]
    );

    // The log continues after a snapshot, and a later snapshot replaces it.
    journal.append(receipt(&k, "t", 2, 11, 11)).await.unwrap();
    journal
        .snapshot(
            &k,
            Snapshot {
                epoch: 2,
                seq: 11,
                state: state(11),
            },
        )
        .await
        .unwrap();
    let state_now = journal.last_state(&k).await.unwrap();
    assert_eq!(state_now.snapshot.unwrap().state, state(11));
    assert!(state_now.entries.is_empty());
    assert_eq!(state_now.last_seq, 11);
    assert!(journal
        .by_tenant("t", 0..100, 100)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn keep_all_retention_keeps_covered_receipts_queryable() {
    let (_dir, mut config) = temp_config();
    config.retention = Retention::KeepAll;
    let journal = RedbJournal::open(config).unwrap();
    let k = key("keep");
    journal.promise(&k, 1).await.unwrap();
    for seq in 1..=5 {
        journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
    }
    journal
        .snapshot(
            &k,
            Snapshot {
                epoch: 1,
                seq: 4,
                state: state(4),
            },
        )
        .await
        .unwrap();
    let accepted = journal.last_state(&k).await.unwrap();
    assert_eq!(
        accepted.entries.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [5]
    );
    assert_eq!(journal.entries_after(&k, 0, 100).await.unwrap().len(), 5);
    assert_eq!(journal.by_tenant("t", 0..100, 100).await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_snapshot_is_fenced_and_must_lie_within_the_accepted_log() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("rules");
    journal.promise(&k, 2).await.unwrap();
    for seq in 1..=3 {
        journal.append(receipt(&k, "t", 2, seq, seq)).await.unwrap();
    }
    let at = |epoch, seq| Snapshot {
        epoch,
        seq,
        state: state(seq),
    };
    assert!(matches!(
        journal.snapshot(&k, at(1, 2)).await,
        Err(JournalError::Fenced { promised: 2 })
    ));
    assert!(matches!(
        journal.snapshot(&k, at(2, 4)).await,
        Err(JournalError::SnapshotOutOfRange {
            seq: 4,
            first: 0,
            last: 3
        })
    ));
    journal.snapshot(&k, at(2, 2)).await.unwrap();
    assert!(matches!(
        journal.snapshot(&k, at(2, 1)).await,
        Err(JournalError::SnapshotOutOfRange { first: 2, .. })
    ));
    // The refused snapshots changed nothing.
    let accepted = journal.last_state(&k).await.unwrap();
    assert_eq!(accepted.snapshot, Some(at(2, 2)));
    assert_eq!(
        accepted.entries.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [3]
    );
    // A snapshot of the initial state (seq 0) before any receipt is allowed.
    let fresh = key("fresh");
    journal.snapshot(&fresh, at(0, 0)).await.unwrap();
    assert_eq!(
        journal.last_state(&fresh).await.unwrap().snapshot,
        Some(at(0, 0))
    );
}
