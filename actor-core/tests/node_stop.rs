//! An orderly node stop (OTP `init:stop/0`): top-level actors and supervisors stop in reverse
//! start order with `shutdown`, their `stopped` hooks and shutdown policies run, within a bound.
mod common;
use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
use actor_core::{Actor, Context, ExitReason, Node};
use common::sup::{worker, Ev};
use std::time::Duration;
use tokio::sync::mpsc;

/// Reports its orderly stop.
struct Service {
    name: &'static str,
    tx: mpsc::UnboundedSender<Ev>,
    stall: bool,
}

impl Actor for Service {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn stopped(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        if self.stall {
            std::future::pending::<()>().await;
        }
        let _ = self
            .tx
            .send(Ev::Stopped(self.name.to_string(), reason.clone()));
    }
}

#[tokio::test]
async fn top_level_actors_and_supervisors_stop_in_reverse_start_order() {
    let node = Node::new("stop@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let svc = |name, tx: &mpsc::UnboundedSender<Ev>| Service {
        name,
        tx: tx.clone(),
        stall: false,
    };
    node.spawn(svc("first", &tx)).await.unwrap();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("w1", &tx))
        .child(worker("w2", &tx));
    Supervisor::start(&node, spec).await.unwrap();
    node.spawn(svc("last", &tx)).await.unwrap();
    while let Ok(Ev::Started(_)) = rx.try_recv() {}

    assert_eq!(node.shutdown_graceful(Duration::from_secs(5)).await, 0);
    let mut order = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        match ev {
            Ev::Stopped(name, reason) => {
                assert_eq!(reason, ExitReason::Shutdown, "{name}");
                order.push(name);
            }
            Ev::Started(name) => panic!("{name} restarted during the stop"),
        }
    }
    assert_eq!(order, ["last", "w2", "w1", "first"]);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_actor_that_does_not_stop_in_time_is_killed_and_the_rest_still_stop() {
    let node = Node::new("stop@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    node.spawn(Service {
        name: "ok",
        tx: tx.clone(),
        stall: false,
    })
    .await
    .unwrap();
    let stuck = node
        .spawn(Service {
            name: "stuck",
            tx: tx.clone(),
            stall: true,
        })
        .await
        .unwrap();
    let exit = node.wait_exit(stuck.pid());
    assert_eq!(node.shutdown_graceful(Duration::from_secs(2)).await, 2);
    assert_eq!(exit.await, ExitReason::Killed);
    assert_eq!(node.process_count(), 0);
    // The limit bounds the whole stop: "ok" came after the stuck one and was ended without
    // its hook.
    assert!(rx.try_recv().is_err());
}
