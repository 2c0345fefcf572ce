//! rest_for_one: the failed child and those started after it are restarted.
mod common;
use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn the_failed_child_and_later_ones_restart() {
    let node = Node::new("r41@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::RestForOne)
        .intensity(5, std::time::Duration::from_secs(5))
        .child(worker("a", &tx))
        .child(worker("b", &tx))
        .child(worker("c", &tx))
        .child(worker("d", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(
        &mut rx,
        &[started("a"), started("b"), started("c"), started("d")],
    )
    .await;
    let before = pids(&sup).await;

    crash(&node, &sup, "b", ExitReason::error("b")).await;
    expect(
        &mut rx,
        &[
            stopped("b", ExitReason::error("b")),
            stopped("d", ExitReason::Shutdown),
            stopped("c", ExitReason::Shutdown),
            started("b"),
            started("c"),
            started("d"),
        ],
    )
    .await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0], "a is untouched");
    for i in 1..4 {
        assert_ne!(after[i], before[i]);
    }

    // The last child failing restarts only itself.
    crash(&node, &sup, "d", ExitReason::error("d")).await;
    expect(
        &mut rx,
        &[stopped("d", ExitReason::error("d")), started("d")],
    )
    .await;
}
