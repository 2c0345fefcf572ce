//! permanent, transient and temporary children, exactly as OTP defines them.
mod common;
use actor_core::supervisor::{Restart, Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

async fn one_child(
    restart: Restart,
) -> (
    Node,
    actor_core::supervisor::SupervisorRef,
    mpsc::UnboundedReceiver<Ev>,
) {
    let node = Node::new("rt@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(10, Duration::from_secs(5))
        .child(worker("w", &tx).restart(restart));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("w")]).await;
    (node, sup, rx)
}

#[tokio::test]
async fn permanent_is_always_restarted() {
    let (node, sup, mut rx) = one_child(Restart::Permanent).await;
    for r in [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::error("e"),
    ] {
        crash(&node, &sup, "w", r.clone()).await;
        expect(&mut rx, &[stopped("w", r), started("w")]).await;
    }
}

#[tokio::test]
async fn transient_is_restarted_only_after_abnormal_exit() {
    let (node, sup, mut rx) = one_child(Restart::Transient).await;
    crash(&node, &sup, "w", ExitReason::error("e")).await;
    expect(
        &mut rx,
        &[stopped("w", ExitReason::error("e")), started("w")],
    )
    .await;
    for clean in [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::shutdown_with("bye"),
    ] {
        let pid = crash(&node, &sup, "w", clean.clone()).await;
        expect(&mut rx, &[stopped("w", clean)]).await;
        node.wait_exit(pid).await;
        // The spec stays, not running.
        let c = sup.count_children().await.unwrap();
        assert_eq!((c.specs, c.active), (1, 0));
        sup.restart_child("w").await.unwrap();
        expect(&mut rx, &[started("w")]).await;
    }
}

#[tokio::test]
async fn temporary_is_never_restarted_and_its_spec_is_removed() {
    let (node, sup, mut rx) = one_child(Restart::Temporary).await;
    crash(&node, &sup, "w", ExitReason::error("e")).await;
    expect(&mut rx, &[stopped("w", ExitReason::error("e"))]).await;
    // The exit has been handled once a later call is answered.
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    assert!(rx.try_recv().is_err());
}
