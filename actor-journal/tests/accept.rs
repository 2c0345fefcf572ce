//! `accept`: the replicated form of append. Position checks, replacing a lower epoch's tail,
//! keeping what is already held, durability and group commit.

mod common;

use std::sync::Arc;

use actor_journal::{
    JournalError, JournalStore, LogPosition, Receipt, RedbJournal, Retention, Snapshot,
};
use common::{key, receipt, temp_config};

fn pos(seq: u64, epoch: u64) -> LogPosition {
    LogPosition { seq, epoch }
}

/// A receipt at `seq` of `epoch` whose payload also names a `variant`, so that two epochs'
/// receipts at one seq differ.
fn variant(k: &actor_journal::EntityKey, epoch: u64, seq: u64, v: &str) -> Receipt {
    let mut r = receipt(k, "t", epoch, seq, seq * 10 + epoch);
    r.id += u128::from(epoch) << 32;
    r.to = format!("{v}{seq}");
    r
}

#[tokio::test]
async fn accept_appends_after_the_position_and_checks_it() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    journal.promise(&k, 1).await.unwrap();

    let last = journal
        .accept(
            &k,
            1,
            pos(0, 0),
            vec![variant(&k, 1, 1, "a"), variant(&k, 1, 2, "a")],
        )
        .await
        .unwrap();
    assert_eq!(last, pos(2, 1));
    let last = journal
        .accept(&k, 1, pos(2, 1), vec![variant(&k, 1, 3, "a")])
        .await
        .unwrap();
    assert_eq!(last, pos(3, 1));

    // A position the log does not hold: beyond its end, or another epoch there.
    for wrong in [pos(5, 1), pos(3, 2), pos(2, 7)] {
        match journal.accept(&k, 1, wrong, vec![]).await {
            Err(JournalError::Diverged {
                last_seq: 3,
                last_epoch: 1,
            }) => {}
            other => panic!("{wrong:?}: {other:?}"),
        }
    }
    // Receipts that do not fit are refused whole.
    let bad = [
        vec![variant(&k, 1, 5, "a")],            // not after the position
        vec![variant(&key("other"), 1, 4, "a")], // another key
        vec![variant(&k, 2, 4, "a")],            // epoch above the accepting one
        vec![variant(&k, 1, 4, "a"), variant(&k, 1, 6, "a")], // a gap
    ];
    for receipts in bad {
        assert!(matches!(
            journal.accept(&k, 1, pos(3, 1), receipts).await,
            Err(JournalError::Invalid(_))
        ));
    }
    assert_eq!(journal.last_state(&k).await.unwrap().last_seq, 3);
}

#[tokio::test]
async fn a_lower_epoch_is_fenced_and_a_higher_one_becomes_the_promise() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    journal.promise(&k, 3).await.unwrap();
    match journal
        .accept(&k, 2, pos(0, 0), vec![variant(&k, 2, 1, "a")])
        .await
    {
        Err(JournalError::Fenced { promised: 3 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(journal.last_state(&k).await.unwrap().last_seq, 0);

    journal
        .accept(&k, 5, pos(0, 0), vec![variant(&k, 5, 1, "a")])
        .await
        .unwrap();
    assert_eq!(journal.last_state(&k).await.unwrap().promised, 5);
    assert!(matches!(
        journal.promise(&k, 5).await,
        Err(JournalError::Fenced { promised: 5 })
    ));
}

#[tokio::test]
async fn a_lower_epochs_tail_is_replaced_everywhere() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    journal.promise(&k, 1).await.unwrap();
    let old: Vec<_> = (1..=4).map(|s| variant(&k, 1, s, "old")).collect();
    journal.accept(&k, 1, pos(0, 0), old.clone()).await.unwrap();

    // Epoch 2 holds receipts 1..=2 as they were, and another receipt at 3 (4 never existed
    // for it): everything from 3 on is replaced.
    journal.promise(&k, 2).await.unwrap();
    let new3 = variant(&k, 2, 3, "new");
    let last = journal
        .accept(&k, 2, pos(1, 1), vec![old[1].clone(), new3.clone()])
        .await
        .unwrap();
    assert_eq!(last, pos(3, 2));

    let state = journal.last_state(&k).await.unwrap();
    assert_eq!(
        state.entries,
        vec![old[0].clone(), old[1].clone(), new3.clone()]
    );
    assert_eq!((state.last_seq, state.last_epoch), (3, 2));
    // The replaced receipts are gone from the tenant index too.
    let by_tenant = journal.by_tenant("t", 0..u64::MAX, 100).await.unwrap();
    assert_eq!(by_tenant.len(), 3);
    assert!(!by_tenant.contains(&old[2]) && !by_tenant.contains(&old[3]));

    // The log continues after the replacement.
    journal
        .accept(&k, 2, pos(3, 2), vec![variant(&k, 2, 4, "new")])
        .await
        .unwrap();
    assert_eq!(journal.entries_after(&k, 0, 10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn receipts_already_held_are_kept_and_a_late_batch_truncates_nothing() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    let batch: Vec<_> = (1..=3).map(|s| variant(&k, 1, s, "a")).collect();
    journal
        .accept(&k, 1, pos(0, 0), batch.clone())
        .await
        .unwrap();
    journal
        .accept(&k, 1, pos(3, 1), vec![variant(&k, 1, 4, "a")])
        .await
        .unwrap();
    // The first batch delivered again (a duplicate or a late message): nothing changes.
    let last = journal.accept(&k, 1, pos(0, 0), batch).await.unwrap();
    assert_eq!(last, pos(4, 1));
    assert_eq!(journal.entries_after(&k, 0, 10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_replacement_survives_a_reopen() {
    let (_dir, config) = temp_config();
    let k = key("a");
    let new2 = variant(&k, 2, 2, "new");
    {
        let journal = RedbJournal::open(config.clone()).unwrap();
        let old: Vec<_> = (1..=3).map(|s| variant(&k, 1, s, "old")).collect();
        journal.accept(&k, 1, pos(0, 0), old).await.unwrap();
        journal
            .accept(&k, 2, pos(1, 1), vec![new2.clone()])
            .await
            .unwrap();
    }
    let journal = RedbJournal::open(config).unwrap();
    let state = journal.last_state(&k).await.unwrap();
    assert_eq!(
        (state.promised, state.last_seq, state.last_epoch),
        (2, 2, 2)
    );
    assert_eq!(state.entries.last(), Some(&new2));
    assert_eq!(
        journal.by_tenant("t", 0..u64::MAX, 10).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_position_inside_the_snapshot_counts_as_held() {
    let (_dir, mut config) = temp_config();
    config.retention = Retention::Compact;
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    let old: Vec<_> = (1..=4).map(|s| variant(&k, 1, s, "a")).collect();
    journal.accept(&k, 1, pos(0, 0), old.clone()).await.unwrap();
    journal
        .snapshot(
            &k,
            Snapshot {
                epoch: 1,
                seq: 3,
                state: b"three".to_vec(),
            },
        )
        .await
        .unwrap();
    // A catch-up batch from before the snapshot: the covered receipts are skipped.
    let last = journal
        .accept(
            &k,
            2,
            pos(1, 1),
            vec![old[1].clone(), old[2].clone(), old[3].clone()],
        )
        .await
        .unwrap();
    assert_eq!(last, pos(4, 1));
    // Replacing right after the snapshot.
    let new4 = variant(&k, 2, 4, "new");
    let last = journal
        .accept(&k, 2, pos(3, 1), vec![new4.clone()])
        .await
        .unwrap();
    assert_eq!(last, pos(4, 2));
    assert_eq!(journal.entries_after(&k, 0, 10).await.unwrap(), vec![new4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_share_commits() {
    let (_dir, config) = temp_config();
    let journal = Arc::new(RedbJournal::open(config).unwrap());
    let (writers, per_writer) = (32u64, 20u64);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let k = key(&format!("w{w}"));
            for s in 1..=per_writer {
                let prev = pos(s - 1, if s == 1 { 0 } else { 1 });
                journal
                    .accept(&k, 1, prev, vec![variant(&k, 1, s, "a")])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = journal.stats();
    assert_eq!(stats.ops, writers * per_writer);
    assert!(stats.commits * 4 <= stats.ops, "{stats:?}");
}
