//! Lazy epochs: an activation reads the key (`head`, no write), and its first write takes the
//! epoch in the same durable write as the receipt (`claim`), refused if the log moved on.

mod common;

use actor_journal::{JournalError, JournalStore, LogPosition, RedbJournal};
use common::{key, receipt, temp_config};

fn at(seq: u64, epoch: u64) -> LogPosition {
    LogPosition { seq, epoch }
}

#[tokio::test]
async fn head_reads_without_writing_and_carries_only_the_last_receipt() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    let empty = journal.head(&k).await.unwrap();
    assert_eq!((empty.last_seq, empty.promised), (0, 0));
    assert!(empty.entries.is_empty());
    journal.promise(&k, 1).await.unwrap();
    for seq in 1..=5 {
        journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
    }
    let commits = journal.stats().commits;
    let head = journal.head(&k).await.unwrap();
    assert_eq!((head.last_seq, head.last_epoch, head.promised), (5, 1, 1));
    assert_eq!(head.entries.len(), 1);
    assert_eq!(head.entries[0].seq, 5);
    assert_eq!(
        journal.stats().commits,
        commits,
        "a read committed something"
    );
}

#[tokio::test]
async fn a_claim_takes_an_epoch_above_every_promise_in_one_commit() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    let before = journal.stats();
    let e1 = journal
        .claim(receipt(&k, "t", 0, 1, 10), at(0, 0))
        .await
        .unwrap();
    assert_eq!(e1, 1);
    let after = journal.stats();
    assert_eq!(after.commits - before.commits, 1, "one commit");
    assert_eq!(after.syncs - before.syncs, 1, "one fsync");
    journal.append(receipt(&k, "t", 1, 2, 11)).await.unwrap();
    // An eager activation promised 7 meanwhile; the next claim goes above it.
    journal.promise(&k, 7).await.unwrap();
    let e2 = journal
        .claim(receipt(&k, "t", 0, 3, 12), at(2, 1))
        .await
        .unwrap();
    assert_eq!(e2, 8);
    let last = journal.last_state(&k).await.unwrap();
    assert_eq!((last.last_seq, last.last_epoch, last.promised), (3, 8, 8));
    assert_eq!(
        last.entries.last().unwrap().epoch,
        8,
        "stored with its epoch"
    );
    // The activation that held epoch 1 is fenced.
    assert!(matches!(
        journal.append(receipt(&k, "t", 1, 4, 13)).await,
        Err(JournalError::Fenced { promised: 8 })
    ));
}

#[tokio::test]
async fn a_stale_claim_is_refused_and_nothing_of_it_is_stored() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    // Two activations read the empty key; the first to write wins.
    let read = journal.head(&k).await.unwrap();
    let pos = at(read.last_seq, read.last_epoch);
    assert_eq!(
        journal
            .claim(receipt(&k, "t", 0, 1, 10), pos)
            .await
            .unwrap(),
        1
    );
    let stale = receipt(&k, "t", 0, 1, 11);
    match journal.claim(stale.clone(), pos).await {
        Err(JournalError::Diverged {
            last_seq: 1,
            last_epoch: 1,
        }) => {}
        other => panic!("stale claim: {other:?}"),
    }
    // A claim whose receipt does not follow what it read is refused too.
    assert!(matches!(
        journal.claim(receipt(&k, "t", 0, 3, 12), at(1, 1)).await,
        Err(JournalError::OutOfOrder { expected: 2 })
    ));
    let last = journal.last_state(&k).await.unwrap();
    assert_eq!((last.last_seq, last.promised), (1, 1));
    assert_eq!(last.entries.len(), 1);
    let by_tenant = journal.by_tenant("t", 0..u64::MAX, 100).await.unwrap();
    assert_eq!(by_tenant.len(), 1);
    assert_eq!(by_tenant[0].time, 10);
}
