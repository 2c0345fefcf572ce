//! Entities on the minority side of a partition, three nodes in one process, every link
//! through a proxy that can cut it, each node with the cluster's membership as its quorum
//! source. Node 1 hosts the entity and is cut off from nodes 2 and 3: it serves reads,
//! refuses writes with `EntityError::NotQuorate` (the state does not advance, no receipt is
//! written) or, in queue mode, applies them after the heal in order, exactly once.

mod common;
#[allow(dead_code)]
#[path = "../../actor-cluster/tests/common/proxy.rs"]
mod proxy;

use actor_cluster::membership::{Membership, MembershipConfig, QuorumState};
use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::EntityLog;
use actor_entity::{Entities, EntityConfig, EntityError, MinorityWrites};
use actor_journal::EntityKey;
use actor_registry::{GlobalConfig, GlobalRegistry};
use common::{eventually, Account, Req, Resp, Status, T};
use proxy::LinkProxy;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Node3 {
    dist: Dist,
    m: Membership,
    entities: Entities,
    _global: GlobalRegistry,
}

struct Cluster {
    nodes: Vec<Node3>,
    links: BTreeMap<(usize, usize), LinkProxy>,
    log: Arc<dyn EntityLog>,
    _dir: tempfile::TempDir,
}

fn name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}@127.0.0.1")
}

fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("minority-test").unwrap());
    cfg.tick_time = Duration::from_millis(500);
    cfg.setup_timeout = Duration::from_millis(500);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg.auto_connect = false;
    cfg
}

impl Cluster {
    /// Nodes 0..3 (node i dials node j > i through its proxy, as a seed), one journal shared
    /// by all (so that a write the quorum check let through would show), quorate and synced.
    async fn start(prefix: &str, writes: MinorityWrites) -> Cluster {
        let (dir, log) = common::shared_log();
        let mut links = BTreeMap::new();
        for i in 0..3 {
            for j in i + 1..3 {
                links.insert((i, j), LinkProxy::start().await);
            }
        }
        let mut nodes = Vec::new();
        for i in 0..3 {
            let mut dc = dist_config();
            for j in i + 1..3 {
                dc = dc.seed(name(prefix, j), links[&(i, j)].addr);
            }
            let dist = Dist::start(&Node::new(name(prefix, i)), dc).await.unwrap();
            for k in 0..i {
                links[&(k, i)].set_target(dist.local_addr());
            }
            let m = Membership::start(&dist, MembershipConfig::new().started(i as u64));
            let global = GlobalRegistry::start(&dist, GlobalConfig::new("entities"))
                .await
                .unwrap();
            let cfg = EntityConfig {
                passivate_after: None,
                rebalance: None,
                quorum: Some(m.quorum()),
                minority_writes: writes,
                ..EntityConfig::default()
            };
            let entities = Entities::start(&dist, &global, log.clone(), cfg).await;
            entities.register::<Account>().await.unwrap();
            nodes.push(Node3 {
                dist,
                m,
                entities,
                _global: global,
            });
        }
        let c = Cluster {
            nodes,
            links,
            log,
            _dir: dir,
        };
        c.wait_whole().await;
        for n in &c.nodes {
            n._global.sync(T).await.unwrap();
        }
        c
    }

    /// Every node counts all three up, on one side, quorate (a node that counts the others
    /// as still joining is quorate on its own).
    async fn wait_whole(&self) {
        for n in &self.nodes {
            eventually(|| {
                let s = n.m.status();
                s.up().len() == 3
                    && s.picture.is_whole()
                    && s.picture.side.len() == 3
                    && s.quorum == QuorumState::Quorate
            })
            .await;
        }
    }

    /// Cuts node 0 off from nodes 1 and 2; returns once node 0 knows it is the minority.
    async fn cut_node0(&self) {
        self.links[&(0, 1)].cut();
        self.links[&(0, 2)].cut();
        let q = self.nodes[0].m.quorum();
        let deadline = tokio::time::Instant::now() + T;
        while q.state() != QuorumState::Minority {
            assert!(
                tokio::time::Instant::now() < deadline,
                "node 0 not minority: {:#?}",
                self.nodes[0].m.status()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn heal(&self) {
        for l in self.links.values() {
            l.heal();
        }
    }

    /// The receipts of `key`: (seq, balance after it).
    async fn receipts(&self, key: &str) -> Vec<(u64, i64)> {
        let k = EntityKey {
            kind: "account".into(),
            key: key.as_bytes().to_vec(),
        };
        self.log
            .entries(&k, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let (_, balance): (Status, i64) = postcard::from_bytes(&r.state).unwrap();
                (r.seq, balance)
            })
            .collect()
    }
}

async fn call(e: &Entities, key: &str, req: Req) -> Result<Resp, EntityError> {
    e.call::<Account>(key, req, T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minority_serves_reads_and_refuses_writes() {
    let c = Cluster::start("mr", MinorityWrites::Refuse).await;
    let e0 = &c.nodes[0].entities;
    e0.migrate::<Account>("acme/m", c.nodes[0].dist.name())
        .await
        .unwrap();
    assert_eq!(
        call(e0, "acme/m", Req::Deposit(5)).await,
        Ok(Resp::Balance(5))
    );
    let Ok(Resp::Pid(pid)) = call(e0, "acme/m", Req::Whoami).await else {
        panic!("whoami")
    };

    c.cut_node0().await;
    // Reads are served by the activation on the minority side.
    assert_eq!(call(e0, "acme/m", Req::Balance).await, Ok(Resp::Balance(5)));
    // A write is refused with the typed error, before the machine advanced.
    let refused = call(e0, "acme/m", Req::Deposit(1)).await;
    match &refused {
        Err(EntityError::NotQuorate { kind, key, error }) => {
            assert_eq!((kind.as_str(), key.as_str()), ("account", "acme/m"));
            assert_ne!(error.state, QuorumState::Quorate);
        }
        other => panic!("expected NotQuorate, got {other:?}"),
    }
    // A state change is refused the same way; the activation lives on, unchanged.
    assert!(call(e0, "acme/m", Req::Freeze)
        .await
        .unwrap_err()
        .is_not_quorate());
    assert_eq!(call(e0, "acme/m", Req::Deposit(1)).await.ok(), None);
    assert_eq!(call(e0, "acme/m", Req::Balance).await, Ok(Resp::Balance(5)));
    assert_eq!(call(e0, "acme/m", Req::Whoami).await, Ok(Resp::Pid(pid)));
    assert_eq!(
        c.receipts("acme/m").await,
        vec![(1, 5)],
        "no receipt written"
    );
    assert!(
        c.nodes[0]
            .entities
            .stats()
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );
    // A key not active on this side is not activated here: no second writer.
    assert!(matches!(
        call(e0, "acme/other", Req::Balance).await,
        Err(EntityError::NotQuorate { .. })
    ));
    assert_eq!(c.receipts("acme/other").await, vec![]);

    // After the heal the same activation writes again.
    c.heal();
    c.wait_whole().await;
    assert_eq!(
        call(e0, "acme/m", Req::Deposit(1)).await,
        Ok(Resp::Balance(6))
    );
    assert_eq!(call(e0, "acme/m", Req::Whoami).await, Ok(Resp::Pid(pid)));
    assert_eq!(c.receipts("acme/m").await, vec![(1, 5), (2, 6)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_minority_writes_apply_after_the_heal_in_order_once() {
    let writes = MinorityWrites::Queue {
        max: 2,
        max_wait: Duration::from_secs(30),
    };
    let c = Cluster::start("mq", writes).await;
    let e0 = c.nodes[0].entities.clone();
    e0.migrate::<Account>("acme/q", c.nodes[0].dist.name())
        .await
        .unwrap();
    assert_eq!(
        call(&e0, "acme/q", Req::Deposit(5)).await,
        Ok(Resp::Balance(5))
    );

    c.cut_node0().await;
    let first = tokio::spawn({
        let e = e0.clone();
        async move { call(&e, "acme/q", Req::Deposit(1)).await }
    });
    eventually(|| e0.queued_writes() == 1).await;
    let second = tokio::spawn({
        let e = e0.clone();
        async move { call(&e, "acme/q", Req::Deposit(2)).await }
    });
    eventually(|| e0.queued_writes() == 2).await;
    // The queue is bounded: a third is refused at once, and never applied.
    assert!(matches!(
        call(&e0, "acme/q", Req::Deposit(100)).await,
        Err(EntityError::QueueFull { max: 2, .. })
    ));
    // Reads are served meanwhile; nothing was applied or written.
    assert_eq!(
        call(&e0, "acme/q", Req::Balance).await,
        Ok(Resp::Balance(5))
    );
    assert_eq!(c.receipts("acme/q").await, vec![(1, 5)]);
    assert!(!first.is_finished() && !second.is_finished());

    c.heal();
    assert_eq!(first.await.unwrap(), Ok(Resp::Balance(6)));
    assert_eq!(second.await.unwrap(), Ok(Resp::Balance(8)));
    assert_eq!(e0.queued_writes(), 0);
    assert_eq!(
        call(&e0, "acme/q", Req::Balance).await,
        Ok(Resp::Balance(8))
    );
    assert_eq!(
        c.receipts("acme/q").await,
        vec![(1, 5), (2, 6), (3, 8)],
        "in order, exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_write_times_out_unapplied() {
    let writes = MinorityWrites::Queue {
        max: 4,
        max_wait: Duration::from_millis(300),
    };
    let c = Cluster::start("mt", writes).await;
    let e0 = &c.nodes[0].entities;
    e0.migrate::<Account>("acme/t", c.nodes[0].dist.name())
        .await
        .unwrap();
    assert_eq!(
        call(e0, "acme/t", Req::Deposit(5)).await,
        Ok(Resp::Balance(5))
    );
    c.cut_node0().await;
    assert!(matches!(
        call(e0, "acme/t", Req::Deposit(1)).await,
        Err(EntityError::QueueTimeout { .. })
    ));
    assert_eq!(e0.queued_writes(), 0);
    c.heal();
    c.wait_whole().await;
    assert_eq!(call(e0, "acme/t", Req::Balance).await, Ok(Resp::Balance(5)));
    assert_eq!(c.receipts("acme/t").await, vec![(1, 5)]);
}
