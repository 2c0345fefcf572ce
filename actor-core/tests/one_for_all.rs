//! one_for_all: one child fails, all are terminated (reverse order) and restarted (in order).
mod common;
use actor_core::supervisor::{Restart, Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn all_children_restart_when_one_fails() {
    let node = Node::new("o4a@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .child(worker("a", &tx))
        .child(worker("b", &tx))
        .child(worker("c", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("b"), started("c")]).await;
    let before = pids(&sup).await;

    let err = ExitReason::error("b failed");
    crash(&node, &sup, "b", err.clone()).await;
    expect(
        &mut rx,
        &[
            stopped("b", err),
            stopped("c", ExitReason::Shutdown),
            stopped("a", ExitReason::Shutdown),
            started("a"),
            started("b"),
            started("c"),
        ],
    )
    .await;
    let after = pids(&sup).await;
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(b, a, "every child has a new pid");
        assert!(a.is_some());
    }
}

#[tokio::test]
async fn temporary_siblings_are_not_restarted_by_the_strategy() {
    let node = Node::new("o4a@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForAll)
        .child(worker("a", &tx))
        .child(worker("t", &tx).restart(Restart::Temporary))
        .child(worker("c", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("t"), started("c")]).await;
    crash(&node, &sup, "c", ExitReason::error("x")).await;
    expect(
        &mut rx,
        &[
            stopped("c", ExitReason::error("x")),
            stopped("t", ExitReason::Shutdown),
            stopped("a", ExitReason::Shutdown),
            started("a"),
            started("c"),
        ],
    )
    .await;
    assert_eq!(ids(&sup).await, vec!["a", "c"]);
}
