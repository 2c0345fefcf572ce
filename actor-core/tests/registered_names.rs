//! Node-local registered names (OTP `register/2`, `whereis/1`, `unregister/1`,
//! `registered/0`, `monitor(process, Name)`).
mod common;
use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use actor_core::{Actor, Context, Down, ExitReason, Node, RegisterError};
use common::*;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test]
async fn one_name_per_process_and_one_process_per_name() {
    let node = Node::new("names@localhost");
    let a = probe(&node).await;
    let b = probe(&node).await;
    node.register("a", a.pid()).unwrap();
    assert_eq!(node.whereis("a"), Some(a.pid()));
    assert_eq!(node.name_of(a.pid()), Some("a".into()));
    assert_eq!(
        node.register("a", b.pid()),
        Err(RegisterError::NameTaken {
            name: "a".into(),
            holder: a.pid()
        })
    );
    assert_eq!(
        node.register("other", a.pid()),
        Err(RegisterError::AlreadyNamed {
            pid: a.pid(),
            name: "a".into()
        })
    );
    node.register("b", b.pid()).unwrap();
    assert_eq!(node.registered(), ["a", "b"]);
    assert!(node.unregister("a"));
    assert!(!node.unregister("a"));
    assert_eq!(node.whereis("a"), None);
    node.register("a2", a.pid()).unwrap();
    // A dead pid cannot be registered.
    let exit = node.wait_exit(b.pid());
    b.stop(ExitReason::Normal);
    exit.await;
    assert_eq!(node.whereis("b"), None, "freed with the exit");
    assert_eq!(
        node.register("b", b.pid()),
        Err(RegisterError::NoProc(b.pid()))
    );
}

/// Registers itself in `started`; a taken name fails the start.
struct Named;

impl Actor for Named {
    type Msg = ExitReason;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.node()
            .register("svc", ctx.pid())
            .map_err(|e| ExitReason::error(e.to_string()))
    }
    async fn handle(&mut self, r: ExitReason, ctx: &mut Context<Self>) {
        ctx.stop(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_child_takes_its_name_back_every_time() {
    let node = Node::new("names@localhost");
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1_000, Duration::from_secs(3600))
        .child(ChildSpec::worker("svc", || Named));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    for i in 0..500 {
        let svc = node.named::<ExitReason>("svc").unwrap();
        let old = svc.pid();
        let exit = node.wait_exit(old);
        svc.tell(ExitReason::error(format!("crash {i}"))).unwrap();
        exit.await;
        // Restarted by the supervisor, which sees the exit after the name is free.
        loop {
            match sup.which_children().await.unwrap()[0].pid {
                Some(p) if p != old => {
                    assert_eq!(node.whereis("svc"), Some(p));
                    break;
                }
                _ => tokio::task::yield_now().await,
            }
        }
    }
}

struct Watcher {
    name: &'static str,
    tx: mpsc::UnboundedSender<Down>,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor_name(self.name);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_down(&mut self, d: Down, _: &mut Context<Self>) {
        let _ = self.tx.send(d);
    }
}

#[tokio::test]
async fn monitoring_a_name_follows_its_process_or_says_noproc_at_once() {
    let node = Node::new("names@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    node.spawn(Watcher {
        name: "nobody",
        tx: tx.clone(),
    })
    .await
    .unwrap();
    let d = rx.recv().await.unwrap();
    assert_eq!((d.pid, d.reason), (node.pid(), ExitReason::NoProc));

    let p = probe(&node).await;
    node.register("somebody", p.pid()).unwrap();
    node.spawn(Watcher {
        name: "somebody",
        tx,
    })
    .await
    .unwrap();
    p.tell(Cmd::Stop(ExitReason::error("bye"))).unwrap();
    let d = rx.recv().await.unwrap();
    assert_eq!((d.pid, d.reason), (p.pid(), ExitReason::error("bye")));
}
