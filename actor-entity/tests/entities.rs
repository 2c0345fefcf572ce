//! Entities by key across in-process nodes: one activation per key from every node,
//! passivation and reactivation, failover after a node's death, fencing of a stale
//! activation, migration and graceful leave with calls in flight, even placement.

mod common;

use actor_entity::placement::LeastLoaded;
use actor_entity::EntityConfig;
use common::*;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn cfg() -> EntityConfig {
    EntityConfig {
        passivate_after: None,
        rebalance: None,
        ..EntityConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reached_from_every_node_is_one_activation() {
    let (_dir, log) = shared_log();
    let ms = cluster(3, log, cfg()).await;
    let mut pids = Vec::new();
    for m in &ms {
        pids.push(whoami(m, "acme/1").await);
    }
    assert!(pids.windows(2).all(|w| w[0] == w[1]), "{pids:?}");
    // Concurrent first uses of another key from all nodes: still one activation.
    let ms = Arc::new(ms);
    let mut tasks = Vec::new();
    for i in 0..3 {
        let ms = ms.clone();
        tasks.push(tokio::spawn(async move {
            deposit(&ms[i], "acme/2", 10).await;
            whoami(&ms[i], "acme/2").await
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(balance(&ms[0], "acme/2").await, 30, "no deposit lost");
    let live: usize = ms.iter().map(|m| m.entities.live()).sum();
    assert_eq!(live, 2);
    for m in ms.iter() {
        assert_eq!(m.entities.activating(), 0, "no bookkeeping left behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_entity_is_passivated_and_comes_back_with_its_state() {
    let (_dir, log) = shared_log();
    let cfg = EntityConfig {
        passivate_after: Some(Duration::from_millis(100)),
        ..EntityConfig::default()
    };
    let ms = cluster(2, log, cfg).await;
    assert_eq!(deposit(&ms[0], "t/idle", 42).await, 42);
    let first = whoami(&ms[1], "t/idle").await;
    eventually(|| ms.iter().all(|m| m.entities.live() == 0)).await;
    let passivated: u64 = ms
        .iter()
        .map(|m| m.entities.stats().passivations.load(Ordering::Relaxed))
        .sum();
    assert_eq!(passivated, 1);
    assert_eq!(balance(&ms[1], "t/idle").await, 42, "state from the log");
    assert_ne!(whoami(&ms[1], "t/idle").await, first, "a new activation");
    // A machine may veto passivation in some states (here: frozen accounts stay).
    ms[0]
        .entities
        .call::<common::Account>("t/frozen", Req::Freeze, T)
        .await
        .unwrap();
    let frozen = whoami(&ms[0], "t/frozen").await;
    let deadline = tokio::time::Instant::now() + T;
    while ms.iter().map(|m| m.entities.live()).sum::<usize>() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "live {:?}, idle at {:?}, frozen at {:?}, passivations {:?} exits {:?}",
            ms.iter().map(|m| m.entities.live()).collect::<Vec<_>>(),
            ms[0].entities.whereis("account", "t/idle"),
            ms[0].entities.whereis("account", "t/frozen"),
            ms.iter()
                .map(|m| m.entities.stats().passivations.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
            ms.iter()
                .map(|m| m.entities.stats().exits.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        whoami(&ms[0], "t/frozen").await,
        frozen,
        "still the same activation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_refused_requests_of_a_new_key_write_nothing() {
    let (_dir, log) = shared_log();
    let ms = cluster(2, log, cfg()).await;
    assert_eq!(balance(&ms[0], "t/new").await, 0);
    let none = ms[1]
        .entities
        .receipts("account", "t/new", 0, 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    deposit(&ms[0], "t/new", 3).await;
    assert_eq!(
        ms[1]
            .entities
            .receipts("account", "t/new", 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_hosting_node_dies_a_survivor_activates_it_with_the_last_state() {
    let (_dir, log) = shared_log();
    let ms = cluster(3, log, cfg()).await;
    // Put the entity on node 2 explicitly.
    let host = ms[0]
        .entities
        .migrate::<common::Account>("t/fail", ms[2].name())
        .await
        .unwrap();
    assert_eq!(host.node, ms[2].dist.node().pid().node);
    for _ in 0..5 {
        deposit(&ms[0], "t/fail", 1).await;
    }
    ms[2].dist.shutdown();
    eventually(|| ms[0].entities.whereis("account", "t/fail").is_none()).await;
    assert_eq!(
        balance(&ms[1], "t/fail").await,
        5,
        "every acknowledged deposit"
    );
    let now = whoami(&ms[0], "t/fail").await;
    assert_ne!(now.node, ms[2].dist.node().pid().node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_activation_is_fenced_and_nothing_of_its_epoch_is_written_after() {
    let (_dir, log) = shared_log();
    let ms = cluster(2, log.clone(), cfg()).await;
    deposit(&ms[0], "t/fence", 5).await;
    let old = whoami(&ms[0], "t/fence").await;
    // Another activation takes a newer epoch (as one across a partition would).
    let key = actor_journal::EntityKey {
        kind: "account".into(),
        key: b"t/fence".to_vec(),
    };
    let newer = log.activate(&key).await.unwrap();
    // The old activation's next write is refused: it stops as fenced, and the deposit is
    // sent again to a new activation, which starts from the last durable state.
    assert_eq!(deposit(&ms[1], "t/fence", 1).await, 6);
    let fenced: u64 = ms
        .iter()
        .map(|m| m.entities.stats().fenced.load(Ordering::Relaxed))
        .sum();
    assert_eq!(fenced, 1);
    assert_ne!(whoami(&ms[1], "t/fence").await, old);
    let entries = log.entries(&key, 0, 100).await.unwrap();
    let stale: Vec<_> = entries
        .iter()
        .filter(|r| r.epoch == newer.epoch - 1 && r.seq > newer.last_seq)
        .collect();
    assert!(stale.is_empty(), "a receipt of the fenced epoch: {stale:?}");
    assert!(
        entries.iter().all(|r| r.epoch != newer.epoch),
        "the hand-made epoch wrote nothing"
    );
    assert_eq!(entries.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_and_leave_move_entities_without_failing_calls_in_flight() {
    let (_dir, log) = shared_log();
    let ms = Arc::new(cluster(3, log, cfg()).await);
    let to = ms[1].name().to_string();
    ms[0]
        .entities
        .migrate::<common::Account>("t/mig", ms[0].name())
        .await
        .unwrap();
    // Calls keep coming from another node while the entity moves.
    let caller = {
        let ms = ms.clone();
        tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..200 {
                last = deposit(&ms[2], "t/mig", 1).await;
            }
            last
        })
    };
    let moved = ms[0]
        .entities
        .migrate::<common::Account>("t/mig", &to)
        .await
        .unwrap();
    assert_eq!(moved.node, ms[1].dist.node().pid().node);
    // Node 1 leaves: its entities go elsewhere, calls still succeed.
    ms[1].entities.leave().await;
    assert_eq!(ms[1].entities.live(), 0);
    assert_eq!(
        caller.await.unwrap(),
        200,
        "every call succeeded exactly once"
    );
    let at = whoami(&ms[2], "t/mig").await;
    assert_ne!(at.node, ms[1].dist.node().pid().node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_loaded_placement_spreads_back_to_back_activations() {
    let (_dir, log) = shared_log();
    let cfg = EntityConfig {
        placement: Arc::new(LeastLoaded),
        ..cfg()
    };
    let ms = cluster(3, log, cfg).await;
    for i in 0..150 {
        whoami(&ms[0], &format!("spread/{i}")).await;
    }
    let per: HashMap<&str, usize> = ms.iter().map(|m| (m.name(), m.entities.live())).collect();
    let (max, min) = (per.values().max().unwrap(), per.values().min().unwrap());
    assert!(*max as f64 <= *min as f64 * 1.2, "{per:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_queried_by_tenant_and_by_entity_from_any_node() {
    let (_dir, log) = shared_log();
    let ms = cluster(2, log, cfg()).await;
    deposit(&ms[0], "globex/a", 1).await;
    deposit(&ms[1], "globex/b", 2).await;
    deposit(&ms[0], "globex/a", 3).await;
    let freeze = ms[1]
        .entities
        .call::<common::Account>("globex/a", Req::Freeze, T)
        .await
        .unwrap();
    assert_eq!(freeze, Resp::Balance(4));
    // A read writes nothing.
    balance(&ms[0], "globex/a").await;
    let all = ms[1]
        .entities
        .receipts_by_tenant("globex", 0..u64::MAX, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let a = ms[0]
        .entities
        .receipts("account", "globex/a", 0, 100)
        .await
        .unwrap();
    assert_eq!(a.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!((a[2].from.as_str(), a[2].to.as_str()), ("Active", "Frozen"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_takes_a_share_of_the_entities_at_a_bounded_rate() {
    let (_dir, log) = shared_log();
    let local = EntityConfig {
        placement: Arc::new(actor_entity::placement::PreferLocal(LeastLoaded)),
        ..cfg()
    };
    let ms = cluster(2, log.clone(), local.clone()).await;
    for i in 0..30 {
        deposit(&ms[0], &format!("rb/{i}"), 1).await;
    }
    assert_eq!(ms[0].entities.live(), 30);
    // A third node joins; node 0 rebalances in rounds of at most 4 moves.
    let late = member("e9@127.0.0.1", log, local).await;
    for m in &ms {
        late.dist
            .connect(m.name(), m.dist.local_addr())
            .await
            .unwrap();
    }
    late.global.sync(T).await.unwrap();
    let r = actor_entity::Rebalance {
        every: Duration::from_millis(50),
        max_moves: 4,
        tolerance: 0.2,
    };
    let mut rounds = 0;
    loop {
        let moved = ms[0].entities.rebalance_once(&r).await;
        assert!(moved <= 4, "rate limit");
        if moved == 0 {
            break;
        }
        rounds += 1;
    }
    assert!(rounds >= 2, "bounded per round");
    let counts: Vec<usize> = [&ms[0], &ms[1], &late]
        .iter()
        .map(|m| m.entities.live())
        .collect();
    assert!(counts[0] <= 12, "{counts:?}");
    // Every balance survived its moves.
    for i in 0..30 {
        assert_eq!(balance(&late, &format!("rb/{i}")).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_references_go_with_their_activation_and_their_node() {
    let (_dir, log) = shared_log();
    let ms = cluster(3, log, cfg()).await;
    let (e0, n0, n1) = (&ms[0].entities, ms[0].name(), ms[1].name());
    e0.migrate::<Account>("acme/here", n0).await.unwrap();
    e0.migrate::<Account>("acme/there", n1).await.unwrap();
    assert_eq!(deposit(&ms[0], "acme/here", 1).await, 1);
    assert_eq!(deposit(&ms[0], "acme/there", 1).await, 1);
    assert_eq!(e0.cached_refs(), 2);
    // Warm calls reuse the entries.
    for _ in 0..5 {
        balance(&ms[0], "acme/there").await;
    }
    assert_eq!(e0.cached_refs(), 2);

    // The local activation exits (passivated): its entry goes with it; the next call
    // activates it again and caches the new one.
    let old = whoami(&ms[0], "acme/here").await;
    assert!(e0.passivate("account", "acme/here"));
    eventually(|| e0.cached_refs() == 1).await;
    assert_eq!(deposit(&ms[0], "acme/here", 1).await, 2);
    assert_ne!(whoami(&ms[0], "acme/here").await, old);
    assert_eq!(e0.cached_refs(), 2);

    // A remote activation that moved: the stale entry fails once, provably unapplied, and
    // is replaced.
    let moved = e0
        .migrate::<Account>("acme/there", ms[2].name())
        .await
        .unwrap();
    assert_eq!(deposit(&ms[0], "acme/there", 1).await, 2);
    assert_eq!(whoami(&ms[0], "acme/there").await, moved);

    // The node of a cached activation goes down: its entries go.
    ms[2].dist.shutdown();
    eventually(|| e0.cached_refs() == 1).await;
    assert_eq!(
        deposit(&ms[0], "acme/there", 1).await,
        3,
        "reactivated elsewhere"
    );
}
