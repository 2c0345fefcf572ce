//! Restart intensity: past the limit a supervisor stops its children and exits with
//! `shutdown`, and its own supervisor sees it: escalation through a two-level tree.
mod common;
use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

fn inner(tx: &mpsc::UnboundedSender<Ev>) -> SupervisorSpec {
    // OTP's default intensity: 1 restart in 5 s.
    SupervisorSpec::new(Strategy::OneForOne).child(worker("w", tx))
}

#[tokio::test]
async fn inner_supervisor_gives_up_and_the_outer_one_restarts_it() {
    let node = Node::new("esc@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let top = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne)
            .intensity(5, Duration::from_secs(5))
            .child(ChildSpec::supervisor("inner", inner(&tx))),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("w")]).await;
    let inner1 = pid_of(&top, "inner").await.unwrap();
    let inner_ref = actor_core::supervisor::SupervisorRef::from_pid(&node, inner1).unwrap();
    let inner_down = node.wait_exit(inner1);

    // First failure: within intensity, the inner supervisor restarts the worker.
    crash(&node, &inner_ref, "w", ExitReason::error("1")).await;
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("1")), started("w")],
    )
    .await;
    // Second failure within 5 s: too many; the inner supervisor exits with shutdown...
    crash(&node, &inner_ref, "w", ExitReason::error("2")).await;
    expect(&mut rx, &[stopped("w", ExitReason::error("2"))]).await;
    assert_eq!(inner_down.await, ExitReason::Shutdown);
    // ...and the top supervisor restarts it, which starts a fresh worker.
    expect(&mut rx, &[started("w")]).await;
    let inner2 = pid_of(&top, "inner").await.unwrap();
    assert_ne!(inner1, inner2);
    assert!(node.is_alive(top.pid()));
    let c = top.count_children().await.unwrap();
    assert_eq!((c.supervisors, c.workers, c.active), (1, 0, 1));
}

#[tokio::test]
async fn escalation_reaches_the_top_when_every_level_gives_up() {
    let node = Node::new("esc@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let top = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne)
            .intensity(0, Duration::from_secs(5))
            .child(ChildSpec::supervisor("inner", inner(&tx))),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("w")]).await;
    let top_down = node.wait_exit(top.pid());
    let inner1 = pid_of(&top, "inner").await.unwrap();
    let inner_ref = actor_core::supervisor::SupervisorRef::from_pid(&node, inner1).unwrap();
    crash(&node, &inner_ref, "w", ExitReason::error("1")).await;
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("1")), started("w")],
    )
    .await;
    crash(&node, &inner_ref, "w", ExitReason::error("2")).await;
    expect(&mut rx, &[stopped("w", ExitReason::error("2"))]).await;
    assert_eq!(top_down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_more_than_the_period_are_tolerated() {
    let node = Node::new("esc@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(&node, inner(&tx)).await.unwrap();
    expect(&mut rx, &[started("w")]).await;
    for i in 0..4 {
        tokio::time::advance(Duration::from_secs(6)).await;
        crash(&node, &sup, "w", ExitReason::error(format!("{i}"))).await;
        expect(
            &mut rx,
            &[
                stopped("w", ExitReason::error(format!("{i}"))),
                started("w"),
            ],
        )
        .await;
    }
    assert!(node.is_alive(sup.pid()));
}
