//! In-process clusters hosting the governors, for their tests: nodes with distribution on
//! 127.0.0.1 sharing one journal (as actor-entity's tests do), and a subscriber of state
//! changes.

use super::{Governors, GovernorsConfig, StateChange, StaticTenants};
use actor_core::{Actor, Context, Node};
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::{EntityLog, LocalLog};
use actor_entity::{Entities, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const T: Duration = Duration::from_secs(10);

pub struct Member {
    pub dist: Dist,
    pub global: GlobalRegistry,
    pub entities: Entities,
    pub govs: Governors,
}

/// Governors of the tenants `acme` and `globex`, with default policies.
pub fn config() -> GovernorsConfig {
    GovernorsConfig::new(Arc::new(StaticTenants::new(["acme", "globex"])))
}

fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("governors-test").unwrap());
    cfg.tick_time = Duration::from_secs(2);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg
}

pub async fn member(
    name: &str,
    log: Arc<dyn EntityLog>,
    cfg: GovernorsConfig,
    ecfg: EntityConfig,
) -> Member {
    let node = Node::new(name);
    let dist = Dist::start(&node, dist_config()).await.unwrap();
    let global = GlobalRegistry::start(&dist, GlobalConfig::new("governors"))
        .await
        .unwrap();
    let entities = Entities::start(&dist, &global, log, ecfg).await;
    let govs = Governors::start(&entities, &global, cfg).await.unwrap();
    Member {
        dist,
        global,
        entities,
        govs,
    }
}

/// `n` connected members sharing one journal in a temporary directory, never passivating.
pub async fn cluster(n: usize, cfg: GovernorsConfig) -> (tempfile::TempDir, Vec<Member>) {
    let ecfg = EntityConfig {
        passivate_after: None,
        ..EntityConfig::default()
    };
    cluster_with(n, cfg, ecfg).await
}

/// [`cluster`] with an entity configuration.
pub async fn cluster_with(
    n: usize,
    cfg: GovernorsConfig,
    ecfg: EntityConfig,
) -> (tempfile::TempDir, Vec<Member>) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
    let log: Arc<dyn EntityLog> = Arc::new(LocalLog::new(Arc::new(store)));
    let mut ms: Vec<Member> = Vec::new();
    for i in 0..n {
        let name = format!("g{i}@127.0.0.1");
        ms.push(member(&name, log.clone(), cfg.clone(), ecfg.clone()).await);
    }
    for i in 0..n {
        for j in i + 1..n {
            let (name, addr) = (ms[j].dist.name().to_string(), ms[j].dist.local_addr());
            ms[i].dist.connect(&name, addr).await.unwrap();
        }
    }
    for m in &ms {
        m.global.sync(T).await.unwrap();
    }
    (dir, ms)
}

/// How many receipts `kind`/`key` has.
pub async fn receipts(m: &Member, kind: &str, key: &str) -> usize {
    m.entities.receipts(kind, key, 0, 1000).await.unwrap().len()
}

/// Polls `cond` until it holds, for at most [`T`].
pub async fn eventually<F: std::future::Future<Output = bool>>(mut cond: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached in {T:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A subscriber of a tenant's state changes.
pub struct Events(mpsc::Receiver<StateChange>);

impl Events {
    pub async fn next(&mut self) -> StateChange {
        tokio::time::timeout(T, self.0.recv())
            .await
            .expect("a state change in time")
            .expect("the collector runs")
    }

    /// The next change of `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> StateChange {
        loop {
            let ev = self.next().await;
            if ev.kind == kind {
                return ev;
            }
        }
    }
}

struct Collector(mpsc::Sender<StateChange>);

impl Actor for Collector {
    type Msg = StateChange;
    async fn handle(&mut self, msg: StateChange, _ctx: &mut Context<Self>) {
        let _ = self.0.try_send(msg);
    }
}

impl Member {
    /// Subscribes a collector on this node to `tenant`'s state changes.
    pub async fn collect(&self, tenant: &str) -> Events {
        let (tx, rx) = mpsc::channel(1024);
        let c = self.dist.node().spawn(Collector(tx)).await.unwrap();
        self.govs.subscribe(tenant, c.pid()).unwrap();
        Events(rx)
    }
}
