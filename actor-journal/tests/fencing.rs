//! The per-key rules: promises, fenced and out-of-order appends, and what a promise returns.

mod common;

use actor_journal::{JournalError, JournalStore, RedbJournal};
use common::{key, receipt, temp_config};

#[tokio::test]
async fn a_promise_must_exceed_every_earlier_promise() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");

    let first = journal.promise(&k, 3).await.unwrap();
    assert_eq!(
        (first.promised, first.last_seq, first.last_epoch),
        (3, 0, 0)
    );
    assert!(first.snapshot.is_none() && first.entries.is_empty());

    for stale in [0, 1, 3] {
        match journal.promise(&k, stale).await {
            Err(JournalError::Fenced { promised: 3 }) => {}
            other => panic!("promise {stale} after 3: {other:?}"),
        }
    }
    assert_eq!(journal.promise(&k, 4).await.unwrap().promised, 4);
    // Keys are independent.
    assert_eq!(journal.promise(&key("b"), 1).await.unwrap().promised, 1);
}

#[tokio::test]
async fn a_stale_epoch_is_refused_and_none_of_its_receipts_is_stored() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");

    journal.promise(&k, 1).await.unwrap();
    journal.append(receipt(&k, "t", 1, 1, 10)).await.unwrap();
    journal.append(receipt(&k, "t", 1, 2, 11)).await.unwrap();

    // A second activation takes epoch 2: the first one is fenced from now on.
    let taken = journal.promise(&k, 2).await.unwrap();
    assert_eq!((taken.last_epoch, taken.last_seq), (1, 2));
    assert_eq!(taken.entries.len(), 2);

    let stale = receipt(&k, "t", 1, 3, 12);
    match journal.append(stale.clone()).await {
        Err(JournalError::Fenced { promised: 2 }) => {}
        other => panic!("stale append: {other:?}"),
    }
    // Nothing of it anywhere: not in the log, not in the tenant index.
    assert_eq!(journal.last_state(&k).await.unwrap().last_seq, 2);
    assert!(journal.entries_after(&k, 2, 10).await.unwrap().is_empty());
    let by_tenant = journal.by_tenant("t", 0..u64::MAX, 100).await.unwrap();
    assert!(by_tenant.iter().all(|r| r.epoch != 1 || r.seq <= 2));
    assert!(!by_tenant.contains(&stale));

    // The new epoch continues the log.
    journal.append(receipt(&k, "t", 2, 3, 13)).await.unwrap();
    let state = journal.last_state(&k).await.unwrap();
    assert_eq!(
        (state.promised, state.last_epoch, state.last_seq),
        (2, 2, 3)
    );
}

#[tokio::test]
async fn an_append_must_carry_the_next_sequence_number() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    journal.promise(&k, 1).await.unwrap();

    for seq in [0, 2, 5] {
        match journal.append(receipt(&k, "t", 1, seq, 0)).await {
            Err(JournalError::OutOfOrder { expected: 1 }) => {}
            other => panic!("seq {seq} first: {other:?}"),
        }
    }
    journal.append(receipt(&k, "t", 1, 1, 0)).await.unwrap();
    // A repeat of an accepted sequence number is refused, not overwritten.
    let mut other = receipt(&k, "t", 1, 1, 0);
    other.to = "elsewhere".into();
    assert!(matches!(
        journal.append(other).await,
        Err(JournalError::OutOfOrder { expected: 2 })
    ));
    let entries = journal.entries_after(&k, 0, 10).await.unwrap();
    assert_eq!(entries, vec![receipt(&k, "t", 1, 1, 0)]);
}

#[tokio::test]
async fn a_higher_epoch_append_raises_the_promise() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("a");
    journal.promise(&k, 1).await.unwrap();
    journal.append(receipt(&k, "t", 5, 1, 0)).await.unwrap();
    let state = journal.last_state(&k).await.unwrap();
    assert_eq!((state.promised, state.last_epoch), (5, 5));
    assert!(matches!(
        journal.append(receipt(&k, "t", 4, 2, 0)).await,
        Err(JournalError::Fenced { promised: 5 })
    ));
    assert!(matches!(
        journal.promise(&k, 5).await,
        Err(JournalError::Fenced { promised: 5 })
    ));
}

#[tokio::test]
async fn a_promise_returns_everything_accepted_for_replay() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let k = key("replay");
    journal.promise(&k, 1).await.unwrap();
    let written: Vec<_> = (1..=20).map(|s| receipt(&k, "t", 1, s, s)).collect();
    for r in &written {
        journal.append(r.clone()).await.unwrap();
    }
    let accepted = journal.promise(&k, 2).await.unwrap();
    assert_eq!(accepted.entries, written);
    assert_eq!(accepted.last_seq, 20);
    assert_eq!(
        journal.entries_after(&k, 15, 3).await.unwrap(),
        written[15..18]
    );
}
