//! Entities on the replicated log (three nodes, each its own journal, every key on all three):
//! a host's death loses no acknowledged change, and an activation cut off from the majority
//! can never commit: after the heal, no receipt of its epoch is left anywhere.

mod common;

use actor_core::Node;
use actor_dist::Dist;
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog};
use actor_entity::{Entities, EntityConfig};
use actor_journal::{EntityKey, JournalConfig, JournalStore, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use common::{balance, deposit, eventually, whoami, Account, Member, Req, T};
use std::sync::Arc;
use std::time::Duration;

struct Replicated {
    m: Member,
    store: Arc<RedbJournal>,
    _dir: tempfile::TempDir,
}

async fn cluster(prefix: &str) -> Vec<Replicated> {
    let mut dists = Vec::new();
    for i in 0..3 {
        let mut cfg = common::dist_config();
        cfg.auto_connect = false;
        let node = Node::new(format!("{prefix}{i}@127.0.0.1"));
        dists.push(Dist::start(&node, cfg).await.unwrap());
    }
    for i in 0..3 {
        for j in i + 1..3 {
            dists[i]
                .connect(dists[j].name(), dists[j].local_addr())
                .await
                .unwrap();
        }
    }
    let mut out = Vec::new();
    for dist in dists {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbJournal::open(JournalConfig::new(dir.path())).unwrap());
        let cfg = ReplicatedConfig {
            timeout: Duration::from_millis(500),
            ..ReplicatedConfig::default()
        };
        let log = ReplicatedLog::start(&dist, store.clone(), cfg)
            .await
            .unwrap();
        let global = GlobalRegistry::start(&dist, GlobalConfig::new("entities"))
            .await
            .unwrap();
        let ecfg = EntityConfig {
            passivate_after: None,
            rebalance: None,
            ..EntityConfig::default()
        };
        let entities = Entities::start(&dist, &global, Arc::new(log), ecfg).await;
        entities.register::<Account>().await.unwrap();
        out.push(Replicated {
            m: Member {
                dist,
                global,
                entities,
            },
            store,
            _dir: dir,
        });
    }
    for r in &out {
        r.m.global.sync(T).await.unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_death_loses_no_acknowledged_change() {
    let c = cluster("rf").await;
    let at = c[0]
        .m
        .entities
        .migrate::<Account>("acme/a", c[2].m.name())
        .await
        .unwrap();
    assert_eq!(at.node, c[2].m.dist.node().pid().node);
    for _ in 0..10 {
        deposit(&c[0].m, "acme/a", 1).await;
    }
    c[2].m.dist.shutdown();
    eventually(|| c[0].m.entities.whereis("account", "acme/a").is_none()).await;
    assert_eq!(balance(&c[1].m, "acme/a").await, 10, "RPO 0");
    assert_eq!(deposit(&c[0].m, "acme/a", 1).await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activation_cut_off_from_the_majority_never_commits() {
    let c = cluster("rp").await;
    c[0].m
        .entities
        .migrate::<Account>("acme/p", c[0].m.name())
        .await
        .unwrap();
    assert_eq!(deposit(&c[1].m, "acme/p", 5).await, 5);
    let old = whoami(&c[0].m, "acme/p").await;
    // Node 0 is cut off from both others.
    for i in 1..3 {
        c[0].m.dist.disconnect(c[i].m.name());
    }
    eventually(|| c[0].m.dist.nodes().is_empty()).await;
    eventually(|| c[1].m.entities.whereis("account", "acme/p").is_none()).await;
    // The majority side activates the key anew (a higher epoch from nodes 1 and 2) and writes.
    assert_eq!(deposit(&c[1].m, "acme/p", 1).await, 6);
    assert_ne!(whoami(&c[1].m, "acme/p").await, old);
    // The old activation, still alive on node 0, cannot commit: no majority accepts it.
    let r = c[0]
        .m
        .entities
        .call::<Account>("acme/p", Req::Deposit(100), T)
        .await;
    // Without a quorum source it is the log that refuses: typed, not text.
    assert!(
        matches!(
            r,
            Err(actor_entity::EntityError::Log {
                error: actor_entity::log::LogError::NoQuorum { .. },
                ..
            })
        ),
        "a minority write was acknowledged or refused untyped: {r:?}"
    );
    // Heal; the majority's activation writes again, and every replica agrees.
    for i in 1..3 {
        c[0].m
            .dist
            .connect(c[i].m.name(), c[i].m.dist.local_addr())
            .await
            .unwrap();
    }
    for r in &c {
        r.m.global.sync(T).await.unwrap();
    }
    assert_eq!(deposit(&c[2].m, "acme/p", 1).await, 7);
    let k = EntityKey::new("account", "acme/p");
    let majority: Vec<_> = c[1].store.entries_after(&k, 0, 100).await.unwrap();
    let balances: Vec<i64> = majority
        .iter()
        .map(|r| {
            postcard::from_bytes::<(common::Status, i64)>(&r.state)
                .unwrap()
                .1
        })
        .collect();
    assert_eq!(balances, vec![5, 6, 7], "the majority's history");
    // Every replica converges on that history: the cut-off activation's receipt, accepted
    // by node 0 alone, is replaced when node 0 is caught up.
    for (i, r) in c.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let entries = r.store.entries_after(&k, 0, 100).await.unwrap();
            let bals: Vec<i64> = entries
                .iter()
                .map(|e| {
                    postcard::from_bytes::<(common::Status, i64)>(&e.state)
                        .unwrap()
                        .1
                })
                .collect();
            if bals == balances {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node {i} holds {bals:?}, the majority {balances:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
