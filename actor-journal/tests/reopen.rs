//! Reopening keeps every acknowledged write; one file, one open store.

mod common;

use actor_journal::{JournalError, JournalStore, RedbJournal, Snapshot};
use common::{key, receipt, temp_config};

#[tokio::test]
async fn reopening_after_drop_keeps_everything_acknowledged() {
    let (_dir, config) = temp_config();
    let k = key("durable");
    let written: Vec<_> = (1..=50).map(|s| receipt(&k, "t", 3, s, s)).collect();
    {
        let journal = RedbJournal::open(config.clone()).unwrap();
        journal.promise(&k, 3).await.unwrap();
        for r in &written {
            journal.append(r.clone()).await.unwrap();
        }
        journal
            .snapshot(
                &k,
                Snapshot {
                    epoch: 3,
                    seq: 40,
                    state: b"forty".to_vec(),
                },
            )
            .await
            .unwrap();
        // Dropped without close: the last handle's drop releases the file.
    }
    let journal = RedbJournal::open(config).unwrap();
    let accepted = journal.last_state(&k).await.unwrap();
    assert_eq!(accepted.promised, 3);
    assert_eq!(accepted.last_seq, 50);
    assert_eq!(accepted.snapshot.unwrap().state, b"forty");
    assert_eq!(accepted.entries, written[40..]);
    assert!(matches!(
        journal.promise(&k, 3).await,
        Err(JournalError::Fenced { promised: 3 })
    ));
    journal.append(receipt(&k, "t", 3, 51, 51)).await.unwrap();
}

#[tokio::test]
async fn a_journal_open_elsewhere_is_refused_and_close_releases_it() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config.clone()).unwrap();
    let second = RedbJournal::open(config.clone());
    assert!(
        matches!(second, Err(JournalError::Locked { .. })),
        "{:?}",
        second.err()
    );

    let handle = journal.clone();
    journal.close().await;
    // Every handle sees the close.
    assert!(matches!(
        handle.promise(&key("x"), 1).await,
        Err(JournalError::Closed)
    ));
    assert!(matches!(
        handle.last_state(&key("x")).await,
        Err(JournalError::Closed)
    ));
    RedbJournal::open(config).unwrap();
}
