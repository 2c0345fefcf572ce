//! Restart intensity counted as OTP counts it: restarts stamped in whole seconds, kept while
//! their age in whole seconds is at most the period (edges checked in paused time).
mod common;
use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node, SpawnError};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::advance;

async fn one_worker(
    node: &Node,
) -> (
    actor_core::supervisor::SupervisorRef,
    mpsc::UnboundedReceiver<Ev>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // OTP's default: 1 restart in 5 s.
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(worker("w", &tx));
    let sup = Supervisor::start(node, spec).await.unwrap();
    expect(&mut rx, &[started("w")]).await;
    (sup, rx)
}

#[tokio::test(start_paused = true)]
async fn two_restarts_5_9_seconds_apart_count_together_in_a_5_second_period() {
    let node = Node::new("int@localhost");
    let (sup, mut rx) = one_worker(&node).await;
    let down = node.wait_exit(sup.pid());
    crash(&node, &sup, "w", ExitReason::error("1")).await; // second 0
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("1")), started("w")],
    )
    .await;
    advance(Duration::from_millis(5_900)).await; // second 5
    crash(&node, &sup, "w", ExitReason::error("2")).await;
    assert_eq!(
        down.await,
        ExitReason::Shutdown,
        "more than 1 restart in 5 s"
    );
}

#[tokio::test(start_paused = true)]
async fn two_restarts_across_more_than_the_period_in_whole_seconds_do_not() {
    let node = Node::new("int@localhost");
    let (sup, mut rx) = one_worker(&node).await;
    advance(Duration::from_millis(900)).await; // second 0
    crash(&node, &sup, "w", ExitReason::error("1")).await;
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("1")), started("w")],
    )
    .await;
    advance(Duration::from_millis(5_100)).await; // second 6: only 5.1 s later
    crash(&node, &sup, "w", ExitReason::error("2")).await;
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("2")), started("w")],
    )
    .await;
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test]
async fn a_zero_period_is_refused() {
    let node = Node::new("int@localhost");
    let spec = SupervisorSpec::new(Strategy::OneForOne).intensity(1, Duration::ZERO);
    assert_eq!(
        Supervisor::start(&node, spec).await.unwrap_err(),
        SpawnError::InvalidSpec(actor_core::supervisor::SpecError::ZeroPeriod)
    );
}
