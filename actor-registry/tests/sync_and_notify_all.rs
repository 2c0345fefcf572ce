//! `GlobalRegistry::sync` (OTP's `global:sync/0`) and `notify_all_name` conflict resolution.
mod common;
use actor_registry::{GlobalConfig, Key, Kind, NameConflict, NotSynced, OnConflict};
use common::cluster::{config, eventually, member, member_with, synced, SCOPE, T};
use common::spawn;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_returns_once_state_is_exchanged_with_every_connected_node() {
    let a = member("a@127.0.0.1").await;
    let b = member("b@127.0.0.1").await;
    let c = member("c@127.0.0.1").await;
    // Alone: nothing to wait for.
    a.global.sync(T).await.unwrap();
    let on_b = spawn(b.node()).await;
    let on_c = spawn(c.node()).await;
    for i in 0..3000 {
        b.global
            .register(Kind::Name, ("b", i), on_b.pid(), ())
            .unwrap();
    }
    c.global.register(Kind::Name, "c", on_c.pid(), ()).unwrap();
    a.dist.connect(b.name(), b.dist.local_addr()).await.unwrap();
    a.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    // Right after connecting, sync waits for both full states (B's in several chunks).
    a.global.sync(T).await.unwrap();
    assert_eq!(a.global.peers().len(), 2);
    assert_eq!(
        a.global.count(Kind::Name, &actor_registry::Pattern::all()),
        3001
    );
    assert_eq!(a.global.where_(&Key::from("c")), Some(on_c.pid()));
    // And the other way: B has A's (empty) state merged; both directions confirmed.
    b.global.sync(T).await.unwrap();
    assert!(b.global.peers().contains(&a.name().to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_names_the_nodes_it_could_not_sync_with() {
    let a = member("a@127.0.0.1").await;
    // A node connected but running no replica of the scope.
    let plain = actor_dist::Dist::start(&actor_core::Node::new("p@127.0.0.1"), config())
        .await
        .unwrap();
    a.dist
        .connect(plain.name(), plain.local_addr())
        .await
        .unwrap();
    let err = a.global.sync(Duration::from_millis(300)).await.unwrap_err();
    assert_eq!(
        err,
        NotSynced {
            nodes: vec![plain.name().to_string()],
            after: Duration::from_millis(300)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_all_name_removes_the_name_from_both_holders_and_tells_both() {
    let (tx, mut told) = mpsc::unbounded_channel::<NameConflict>();
    let g = GlobalConfig::new(SCOPE)
        .notify_all_name()
        .on_conflict(OnConflict::Notify(Arc::new(move |c| {
            let _ = tx.send(c);
        })));
    let a = member_with("a@127.0.0.1", config(), g.clone()).await;
    let b = member_with("b@127.0.0.1", config(), g.clone()).await;
    let c = member_with("c@127.0.0.1", config(), g).await;
    a.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    b.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    synced(&c, 2).await;
    // A and B are not connected yet: both take the same name, and C sees one of them.
    let on_a = spawn(a.node()).await;
    let on_b = spawn(b.node()).await;
    a.global
        .register(Kind::Name, "lock", on_a.pid(), ())
        .unwrap();
    b.global
        .register(Kind::Name, "lock", on_b.pid(), ())
        .unwrap();
    a.global
        .register(Kind::Name, "keep", on_a.pid(), ())
        .unwrap();
    a.dist.connect(b.name(), b.dist.local_addr()).await.unwrap();
    // Both holders are told, each on its own node, that neither kept it.
    let mut losers = Vec::new();
    for _ in 0..2 {
        losers.push(tokio::time::timeout(T, told.recv()).await.unwrap().unwrap());
    }
    losers.sort_by_key(|c| c.loser);
    let mut want = vec![
        NameConflict {
            kind: Kind::Name,
            key: Key::from("lock"),
            loser: on_a.pid(),
            winner: on_b.pid(),
            both_lost: true,
        },
        NameConflict {
            kind: Kind::Name,
            key: Key::from("lock"),
            loser: on_b.pid(),
            winner: on_a.pid(),
            both_lost: true,
        },
    ];
    want.sort_by_key(|c| c.loser);
    assert_eq!(losers, want);
    for m in [&a, &b, &c] {
        m.global.sync(T).await.unwrap();
        eventually(|| m.global.where_(&Key::from("lock")).is_none()).await;
        assert_eq!(m.global.await_name("keep", T).await, Ok(on_a.pid()));
    }
    assert!(a.node().is_alive(on_a.pid()) && b.node().is_alive(on_b.pid()));
    // The name is free again for whoever registers it next.
    b.global
        .register(Kind::Name, "lock", on_b.pid(), ())
        .unwrap();
    assert_eq!(a.global.await_name("lock", T).await, Ok(on_b.pid()));
    assert!(told.try_recv().is_err(), "each holder told once");
}
