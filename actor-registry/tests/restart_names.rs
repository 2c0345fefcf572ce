//! A supervised child that registers its name in its start hook can always take it back
//! after a crash: a process's entries are gone by the time its links and monitors fire, so
//! the supervisor's restart finds the name free (OTP frees names as part of the exit).
use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use actor_core::{Actor, Context, ExitReason, Node, Pid};
use actor_dist::{Cookie, Dist, DistConfig};
use actor_registry::{GlobalConfig, GlobalRegistry, Key, Kind, Registry};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CYCLES: usize = 1_000;

/// Registers `name` in `started`; a failed registration fails the start (and is counted).
struct Account {
    reg: Registry,
    failed: Arc<AtomicUsize>,
}

impl Actor for Account {
    type Msg = ExitReason;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        if let Err(e) = self.reg.register(Kind::Name, "billing", ctx.pid(), ()) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Err(ExitReason::error(e.to_string()));
        }
        Ok(())
    }
    async fn handle(&mut self, crash: ExitReason, ctx: &mut Context<Self>) {
        ctx.stop(crash);
    }
}

async fn cycles(node: &Node, reg: Registry) {
    let failed = Arc::new(AtomicUsize::new(0));
    let (r, f) = (reg.clone(), failed.clone());
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        // Every crash below is a restart; a failed registration would be one more.
        .intensity(CYCLES as u32 + 10, Duration::from_secs(3600))
        .child(ChildSpec::worker("account", move || Account {
            reg: r.clone(),
            failed: f.clone(),
        }));
    let sup = Supervisor::start(node, spec).await.unwrap();
    let key = Key::from("billing");
    let mut holder: Pid = reg.where_(&key).expect("registered at start");
    for i in 0..CYCLES {
        let account = node.actor_ref::<ExitReason>(holder).unwrap();
        let exit = node.wait_exit(holder);
        account
            .tell(ExitReason::error(format!("crash {i}")))
            .unwrap();
        exit.await;
        // The name is free as soon as the exit is observable, and the supervisor's restart
        // takes it back; wait for the new holder.
        loop {
            match reg.await_name(key.clone(), Duration::from_secs(10)).await {
                Ok(p) if p != holder => {
                    holder = p;
                    break;
                }
                Ok(_) => tokio::task::yield_now().await,
                Err(e) => panic!("cycle {i}: no holder: {e:?}"),
            }
        }
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "failed restarts");
    assert_eq!(sup.which_children().await.unwrap()[0].pid, Some(holder));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_child_takes_back_its_local_name_every_time() {
    let node = Node::new("names@localhost");
    let reg = Registry::new(&node);
    cycles(&node, reg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_child_takes_back_its_global_name_every_time() {
    let node = Node::new("gnames@127.0.0.1");
    let dist = Dist::start(&node, DistConfig::new(Cookie::new("names").unwrap()))
        .await
        .unwrap();
    let global = GlobalRegistry::start(&dist, GlobalConfig::new("names"))
        .await
        .unwrap();
    cycles(&node, global.registry().clone()).await;
}

#[tokio::test]
async fn names_are_gone_before_a_monitor_fires() {
    let node = Node::new("order@localhost");
    let reg = Registry::new(&node);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    struct Watcher {
        target: Pid,
        reg: Registry,
        tx: tokio::sync::mpsc::UnboundedSender<Option<Pid>>,
    }
    impl Actor for Watcher {
        type Msg = ();
        async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
            ctx.monitor(self.target);
            Ok(())
        }
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
        async fn handle_down(&mut self, _: actor_core::Down, _: &mut Context<Self>) {
            let _ = self.tx.send(self.reg.where_(&Key::from("n")));
        }
    }
    struct Idle;
    impl Actor for Idle {
        type Msg = ();
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    }
    for _ in 0..200 {
        let t = node.spawn(Idle).await.unwrap();
        reg.register(Kind::Name, "n", t.pid(), ()).unwrap();
        node.spawn(Watcher {
            target: t.pid(),
            reg: reg.clone(),
            tx: tx.clone(),
        })
        .await
        .unwrap();
        node.exit(t.pid(), ExitReason::Kill);
        assert_eq!(rx.recv().await.unwrap(), None, "the name outlived the exit");
    }
}
