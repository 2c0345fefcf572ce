//! Lazy epochs through the entity layer (one journal, `LocalLog`): an activation that only
//! reads writes nothing to the journal, its first write takes the epoch in one commit, and an
//! activation that became stale before its first write is refused and stored nothing.

mod common;

use actor_entity::log::{EntityLog, LocalLog};
use actor_entity::EntityConfig;
use actor_journal::{EntityKey, JournalConfig, JournalStore, RedbJournal};
use common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn cfg() -> EntityConfig {
    EntityConfig {
        passivate_after: None,
        rebalance: None,
        ..EntityConfig::default()
    }
}

fn journal() -> (tempfile::TempDir, Arc<RedbJournal>, Arc<dyn EntityLog>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbJournal::open(JournalConfig::new(dir.path())).unwrap());
    let log: Arc<dyn EntityLog> = Arc::new(LocalLog::new(store.clone()));
    (dir, store, log)
}

fn balances(entries: &[actor_journal::Receipt]) -> Vec<i64> {
    entries
        .iter()
        .map(|r| postcard::from_bytes::<(Status, i64)>(&r.state).unwrap().1)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_activation_writes_nothing_and_the_first_write_takes_the_epoch() {
    let (_dir, store, log) = journal();
    let ms = cluster(2, log, cfg()).await;
    let before = store.stats();
    // Activations of a new key and of one written before, both only read.
    assert_eq!(balance(&ms[0], "t/read").await, 0);
    assert_eq!(balance(&ms[1], "t/read").await, 0);
    assert_eq!(ms[0].entities.live() + ms[1].entities.live(), 1);
    let after = store.stats();
    assert_eq!(
        after.commits, before.commits,
        "a read-only activation committed"
    );
    assert_eq!(after.syncs, before.syncs, "a read-only activation synced");
    // The first write: one commit, the epoch taken with the receipt.
    assert_eq!(deposit(&ms[1], "t/read", 4).await, 4);
    let written = store.stats();
    assert_eq!(
        written.commits - after.commits,
        1,
        "one commit for the first write"
    );
    let k = EntityKey::new("account", "t/read");
    let state = store.last_state(&k).await.unwrap();
    assert_eq!(
        (state.last_seq, state.last_epoch, state.promised),
        (1, 1, 1)
    );
    // Passivated and activated again, it reads without writing, and writes with a new epoch.
    assert!(ms.iter().any(|m| m.entities.passivate("account", "t/read")));
    eventually(|| ms[0].entities.live() + ms[1].entities.live() == 0).await;
    let quiet = store.stats();
    assert_eq!(balance(&ms[0], "t/read").await, 4);
    assert_eq!(store.stats().commits, quiet.commits);
    assert_eq!(deposit(&ms[0], "t/read", 1).await, 5);
    let state = store.last_state(&k).await.unwrap();
    assert_eq!((state.last_seq, state.last_epoch), (2, 2));
    assert_eq!(
        state.entries.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_activations_first_write_is_refused_and_nothing_of_it_is_stored() {
    let (_dir, store, log) = journal();
    // Two nodes that do not see each other (a partition) over one journal: each activates
    // the key, and both read the same state.
    let a = member("lazy-a@127.0.0.1", log.clone(), cfg()).await;
    let b = member("lazy-b@127.0.0.1", log.clone(), cfg()).await;
    assert_eq!(balance(&a, "t/dup").await, 0);
    assert_eq!(balance(&b, "t/dup").await, 0);
    let old_b = whoami(&b, "t/dup").await;
    assert_eq!((a.entities.live(), b.entities.live()), (1, 1));
    // A writes first: its epoch commits.
    assert_eq!(deposit(&a, "t/dup", 10).await, 10);
    // B's activation is stale: its first write is refused, it stops as fenced, and the
    // deposit goes to a new activation that starts from A's receipt.
    assert_eq!(deposit(&b, "t/dup", 1).await, 11);
    assert_eq!(b.entities.stats().fenced.load(Ordering::Relaxed), 1);
    assert_ne!(whoami(&b, "t/dup").await, old_b);
    let k = EntityKey::new("account", "t/dup");
    let entries = store.entries_after(&k, 0, 100).await.unwrap();
    assert_eq!(
        balances(&entries),
        vec![10, 11],
        "the stale write left nothing"
    );
    assert_eq!(
        entries.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let by_tenant = store.by_tenant("t", 0..u64::MAX, 100).await.unwrap();
    assert_eq!(by_tenant.len(), 2);
    // A's activation, fenced by B's new epoch, is refused in turn and comes back with 11.
    assert_eq!(deposit(&a, "t/dup", 100).await, 111);
    assert_eq!(a.entities.stats().fenced.load(Ordering::Relaxed), 1);
}
