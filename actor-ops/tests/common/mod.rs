#![allow(dead_code)]

use actor_core::supervisor::{DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec};
use actor_core::{Actor, Context, ExitReason, Node};
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::LocalLog;
use actor_entity::{Entities, Entity, EntityConfig};
use actor_journal::{JournalConfig, JournalStore, RedbJournal};
use actor_ops::Ops;
use actor_registry::{GlobalConfig, GlobalRegistry};
use statem::{Ctx, Event, RemoteMachine, StateMachine, Transition};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const COOKIE: &str = "ops-test-cookie";
pub const T: Duration = Duration::from_secs(10);

/// A counter entity: `Open` until it reaches 10, then `Full`.
pub struct Counter {
    pub n: u64,
    pub full: bool,
}

impl StateMachine for Counter {
    type State = bool;
    type Call = u64;
    type Reply = u64;
    type Msg = ();
    type Timer = ();
    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> {
        Ok(self.full)
    }
    async fn handle_event(
        &mut self,
        _: &bool,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        if let Event::Call(k, from) = ev {
            self.n += k;
            ctx.reply(from, self.n);
            return Transition::NextState(self.n >= 10);
        }
        Transition::KeepState
    }
    fn state_name(full: &bool) -> String {
        if *full {
            "Full".into()
        } else {
            "Open".into()
        }
    }
    fn format_status(&self) -> Option<String> {
        Some(format!("n={}", self.n))
    }
}

impl RemoteMachine for Counter {
    const NAME: &'static str = "ops-test.Counter";
}

impl Entity for Counter {
    const KIND: &'static str = "counter";
    type Data = u64;
    fn activate(_key: &str, last: Option<(bool, u64)>) -> Self {
        let (full, n) = last.unwrap_or((false, 0));
        Counter { n, full }
    }
    fn data(&self) -> &u64 {
        &self.n
    }
}

/// A plain worker started under an exposed dynamic supervisor.
pub struct Worker(pub String);
impl Actor for Worker {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.set_label(format!("worker {}", self.0));
        Ok(())
    }
}

pub struct Member {
    pub dist: Dist,
    pub global: GlobalRegistry,
    pub entities: Entities,
    pub ops: Ops,
    pub sup: DynamicSupervisorRef<String>,
}

pub fn dist_config(cookie: &str) -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new(cookie).unwrap());
    cfg.tick_time = Duration::from_secs(1);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.app_version = "1.2.3".into();
    cfg
}

pub async fn member(name: &str, journal: Arc<RedbJournal>, expected: usize) -> Member {
    let node = Node::new(name);
    let dist = Dist::start(&node, dist_config(COOKIE)).await.unwrap();
    let global = GlobalRegistry::start(&dist, GlobalConfig::new("app"))
        .await
        .unwrap();
    let log = Arc::new(LocalLog::new(journal.clone() as Arc<dyn JournalStore>));
    let entities = Entities::start(&dist, &global, log, EntityConfig::default()).await;
    entities.register::<Counter>().await.unwrap();
    let spec = DynamicSupervisorSpec::from_fn(|node: Node, sup: actor_core::Pid, name: String| {
        Box::pin(async move {
            let r = node
                .spawn_opts(Worker(name), actor_core::supervisor::child_opts(sup))
                .await?;
            Ok(actor_core::supervisor::Started::Pid(r.pid()))
        }) as futures::future::BoxFuture<'static, _>
    });
    let sup = DynamicSupervisor::start(&node, spec).await.unwrap();
    let ops = Ops::builder(&dist)
        .registry(&global)
        .entities(&entities)
        .journal(journal)
        .expected_peers(expected)
        .supervisor("workers", sup.clone())
        .install();
    Member {
        dist,
        global,
        entities,
        ops,
        sup,
    }
}

/// Three nodes, fully connected, registries synced.
pub async fn cluster(prefix: &str) -> (tempfile::TempDir, Vec<Member>) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(RedbJournal::open(JournalConfig::new(dir.path())).unwrap());
    let mut ms = Vec::new();
    for i in 0..3 {
        ms.push(member(&format!("{prefix}{i}@127.0.0.1"), journal.clone(), 2).await);
    }
    for i in 0..3 {
        for j in (i + 1)..3 {
            ms[i]
                .dist
                .connect(ms[j].dist.name(), ms[j].dist.local_addr())
                .await
                .unwrap();
        }
    }
    for m in &ms {
        m.global.sync(T).await.unwrap();
    }
    (dir, ms)
}

/// Runs actorctl's library entry point against `m`; (exit code, stdout, stderr).
pub async fn ctl(m: &Member, cookie: &str, args: &[&str]) -> (i32, String, String) {
    let addr = m.dist.local_addr().to_string();
    let mut argv = vec![
        "actorctl",
        "--node",
        m.dist.name(),
        "--addr",
        &addr,
        "--cookie",
        cookie,
        "--timeout",
        "5",
    ];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = actor_ops::cli::run(argv, &mut out, &mut err).await;
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

pub async fn eventually<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + T;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain HTTP/1.1 GET; (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}
