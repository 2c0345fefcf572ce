//! An account entity and a cluster of in-process nodes hosting it.
#![allow(dead_code)]

use actor_core::{ExitReason, Node, Pid};
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::{EntityLog, LocalLog};
use actor_entity::{Entities, Entity, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, RemoteMachine, StateMachine, Transition};
use std::sync::Arc;
use std::time::Duration;

pub const T: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Active,
    Frozen,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Req {
    Deposit(i64),
    Balance,
    Freeze,
    /// Where the activation runs.
    Whoami,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Resp {
    Balance(i64),
    Refused,
    Pid(Pid),
}

/// An account: a balance that deposits change, frozen on request.
pub struct Account {
    pub balance: i64,
    pub start: Status,
    pub tenant: String,
}

impl StateMachine for Account {
    type State = Status;
    type Call = Req;
    type Reply = Resp;
    type Msg = Req;
    type Timer = ();

    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<Status, ExitReason> {
        Ok(self.start)
    }

    async fn handle_event(
        &mut self,
        s: &Status,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match ev {
            Event::Call(Req::Deposit(n), from) if *s == Status::Active => {
                self.balance += n;
                ctx.reply(from, Resp::Balance(self.balance));
                Transition::KeepState
            }
            Event::Call(Req::Deposit(_), from) => {
                ctx.reply(from, Resp::Refused);
                Transition::KeepState
            }
            Event::Call(Req::Balance, from) => {
                ctx.reply(from, Resp::Balance(self.balance));
                Transition::KeepState
            }
            Event::Call(Req::Freeze, from) => {
                ctx.reply(from, Resp::Balance(self.balance));
                Transition::NextState(Status::Frozen)
            }
            Event::Call(Req::Whoami, from) => {
                let pid = ctx.pid();
                ctx.reply(from, Resp::Pid(pid));
                Transition::KeepState
            }
            Event::Cast(Req::Deposit(n)) if *s == Status::Active => {
                self.balance += n;
                Transition::KeepState
            }
            _ => Transition::KeepState,
        }
    }
}

impl RemoteMachine for Account {
    const NAME: &'static str = "test.Account";
}

impl Entity for Account {
    const KIND: &'static str = "account";
    type Data = i64;

    fn activate(key: &str, last: Option<(Status, i64)>) -> Self {
        let (start, balance) = last.unwrap_or((Status::Active, 0));
        Account {
            balance,
            start,
            tenant: key.split('/').next().unwrap_or("").to_string(),
        }
    }

    fn data(&self) -> &i64 {
        &self.balance
    }

    fn tenant(&self) -> String {
        self.tenant.clone()
    }

    /// Frozen accounts stay active (a test of the passivation veto).
    fn may_passivate(&self, state: &Status) -> bool {
        *state != Status::Frozen
    }
}

pub struct Member {
    pub dist: Dist,
    pub global: GlobalRegistry,
    pub entities: Entities,
}

impl Member {
    pub fn name(&self) -> &str {
        self.dist.name()
    }
}

pub fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("entity-test").unwrap());
    cfg.tick_time = Duration::from_secs(2);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg
}

/// One journal for the whole test cluster (as if every node wrote to the same replicas): the
/// entity layer's behaviour, without the replicated log.
pub fn shared_log() -> (tempfile::TempDir, Arc<dyn EntityLog>) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
    (dir, Arc::new(LocalLog::new(Arc::new(store))))
}

pub async fn member(name: &str, log: Arc<dyn EntityLog>, cfg: EntityConfig) -> Member {
    let node = Node::new(name);
    let dist = Dist::start(&node, dist_config()).await.unwrap();
    let global = GlobalRegistry::start(&dist, GlobalConfig::new("entities"))
        .await
        .unwrap();
    let entities = Entities::start(&dist, &global, log, cfg).await;
    entities.register::<Account>().await.unwrap();
    Member {
        dist,
        global,
        entities,
    }
}

/// `n` fully connected members sharing `log`, their registries synced and load reports seen.
pub async fn cluster(n: usize, log: Arc<dyn EntityLog>, cfg: EntityConfig) -> Vec<Member> {
    let mut ms = Vec::new();
    for i in 0..n {
        ms.push(member(&format!("e{i}@127.0.0.1"), log.clone(), cfg.clone()).await);
    }
    for i in 0..n {
        for j in i + 1..n {
            ms[i]
                .dist
                .connect(ms[j].name(), ms[j].dist.local_addr())
                .await
                .unwrap();
        }
    }
    for m in &ms {
        m.global.sync(T).await.unwrap();
    }
    ms
}

pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached in {T:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn whoami(m: &Member, key: &str) -> Pid {
    match m
        .entities
        .call::<Account>(key, Req::Whoami, T)
        .await
        .unwrap()
    {
        Resp::Pid(p) => p,
        other => panic!("{other:?}"),
    }
}

pub async fn deposit(m: &Member, key: &str, n: i64) -> i64 {
    match m
        .entities
        .call::<Account>(key, Req::Deposit(n), T)
        .await
        .unwrap()
    {
        Resp::Balance(b) => b,
        other => panic!("{other:?}"),
    }
}

pub async fn balance(m: &Member, key: &str) -> i64 {
    match m
        .entities
        .call::<Account>(key, Req::Balance, T)
        .await
        .unwrap()
    {
        Resp::Balance(b) => b,
        other => panic!("{other:?}"),
    }
}
