//! Calling an actor by its name (`NamedRef`, OTP's `{via, ...}`): across restarts of the
//! holder, with no holder (a typed error at once, or a wait), and across nodes.
mod common;
use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use actor_core::{Actor, CallError, Context, ExitReason, Node, ReplyTo};
use actor_dist::Message;
use actor_registry::{Key, Kind, NamedError, NamedSendError, Registry};
use common::cluster::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
enum Msg {
    Whoami(ReplyTo<u64>),
    Crash,
}

impl Message for Msg {
    const NAME: &'static str = "registry-test.named.Msg";
}

/// Registers itself as `("svc")` when it starts; answers its generation.
struct Svc {
    reg: Registry,
    generation: u64,
}

impl Actor for Svc {
    type Msg = Msg;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        self.reg
            .register(Kind::Name, "svc", ctx.pid(), ())
            .map_err(|e| ExitReason::error(e.to_string()))
    }
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Whoami(r) => {
                r.send(self.generation);
            }
            Msg::Crash => ctx.stop(ExitReason::error("crash")),
        }
    }
}

#[tokio::test]
async fn calls_by_name_keep_working_across_restarts() {
    let node = Node::new("via@localhost");
    let reg = Registry::new(&node);
    let gen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (r, g) = (reg.clone(), gen.clone());
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(60))
        .child(ChildSpec::worker("svc", move || Svc {
            reg: r.clone(),
            generation: g.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }));
    let _sup = Supervisor::start(&node, spec).await.unwrap();
    let svc = reg.via::<Msg>("svc");
    for want in 0..20u64 {
        assert_eq!(svc.call(Msg::Whoami, T).await, Ok(want));
        let old = svc.whereis().unwrap();
        let exit = node.wait_exit(old);
        svc.tell(Msg::Crash).unwrap();
        exit.await;
        // The restart re-registers the name; wait for it, then the same handle reaches it.
        reg.await_name("svc", T).await.unwrap();
    }
}

#[tokio::test]
async fn no_holder_fails_at_once_naming_the_key_or_waits_when_asked() {
    let node = Node::new("via@localhost");
    let reg = Registry::new(&node);
    let svc = reg.via::<Msg>("svc");
    let start = tokio::time::Instant::now();
    assert_eq!(
        svc.call(Msg::Whoami, Duration::from_secs(30)).await,
        Err(NamedError::NotRegistered(Key::from("svc")))
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    match svc.tell(Msg::Crash) {
        Err(NamedSendError::NotRegistered(k, Msg::Crash)) => assert_eq!(k, Key::from("svc")),
        other => panic!("unexpected {other:?}"),
    }
    // call_await: the holder registers while the call waits.
    let waiting = tokio::spawn({
        let svc = svc.clone();
        async move { svc.call_await(Msg::Whoami, T).await }
    });
    node.spawn(Svc {
        reg: reg.clone(),
        generation: 7,
    })
    .await
    .unwrap();
    assert_eq!(waiting.await.unwrap(), Ok(7));
    // And one that never comes times out as a call would.
    let none = reg.via::<Msg>("nobody");
    assert_eq!(
        none.call_await(Msg::Whoami, Duration::from_millis(20))
            .await,
        Err(NamedError::Call {
            key: Key::from("nobody"),
            error: CallError::Timeout
        })
    );
}

#[tokio::test]
async fn a_holder_of_another_type_is_a_typed_error() {
    let node = Node::new("via@localhost");
    let reg = Registry::new(&node);
    node.spawn(Svc {
        reg: reg.clone(),
        generation: 0,
    })
    .await
    .unwrap();
    let wrong = reg.via::<u64>("svc");
    assert!(matches!(
        wrong.call(|_r: ReplyTo<u64>| 1u64, T).await,
        Err(NamedError::Ref { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_names_are_called_from_other_nodes() {
    let ms = cluster(2).await;
    for m in &ms {
        m.dist.register::<Msg>();
    }
    let svc = ms[0]
        .node()
        .spawn(Svc {
            reg: ms[0].global.registry().clone(),
            generation: 1,
        })
        .await
        .unwrap();
    ms[1].global.await_name("svc", T).await.unwrap();
    let remote = ms[1].global.via::<Msg>("svc");
    assert_eq!(remote.call(Msg::Whoami, T).await, Ok(1));
    // The holder moves to the other node: the same handle follows it.
    let exit = ms[0].node().wait_exit(svc.pid());
    remote.tell(Msg::Crash).unwrap();
    exit.await;
    eventually(|| ms[1].global.where_(&Key::from("svc")).is_none()).await;
    ms[1]
        .node()
        .spawn(Svc {
            reg: ms[1].global.registry().clone(),
            generation: 2,
        })
        .await
        .unwrap();
    assert_eq!(remote.call(Msg::Whoami, T).await, Ok(2));
}

/// Does not register itself: its child spec ties it to the name.
struct Plain(u64);

impl Actor for Plain {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        match msg {
            Msg::Whoami(r) => {
                r.send(self.0);
            }
            Msg::Crash => ctx.stop(ExitReason::error("crash")),
        }
    }
}

#[tokio::test]
async fn a_child_spec_ties_the_child_to_a_name_across_restarts() {
    let node = Node::new("via@localhost");
    let reg = Registry::new(&node);
    let gen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let g = gen.clone();
    let child = ChildSpec::worker("plain", move || {
        Plain(g.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    });
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(100, Duration::from_secs(60))
        .child(reg.named_child("plain", child));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    let plain = reg.via::<Msg>("plain");
    for want in 0..10u64 {
        assert_eq!(plain.call(Msg::Whoami, T).await, Ok(want));
        assert_eq!(plain.whereis(), sup.which_children().await.unwrap()[0].pid);
        let exit = node.wait_exit(plain.whereis().unwrap());
        plain.tell(Msg::Crash).unwrap();
        exit.await;
        reg.await_name("plain", T).await.unwrap();
    }
    // A second child tied to the same name cannot start while the first holds it.
    let err = sup
        .start_child(reg.named_child("plain", ChildSpec::worker("twin", || Plain(99))))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    assert_eq!(node.process_count(), 2, "the twin was stopped");
}
