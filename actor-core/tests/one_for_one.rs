//! one_for_one: only the failed child is restarted; children start in order and stop in
//! reverse order.
mod common;
use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn only_the_failed_child_restarts_and_order_is_kept() {
    let node = Node::new("o4o@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &tx))
        .child(worker("b", &tx))
        .child(worker("c", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("b"), started("c")]).await;
    let before = pids(&sup).await;

    let err = ExitReason::error("db lost");
    crash(&node, &sup, "b", err.clone()).await;
    expect(&mut rx, &[stopped("b", err), started("b")]).await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert_eq!(after[2], before[2]);

    // Orderly stop of the supervisor: children stop in reverse start order.
    let down = node.wait_exit(sup.pid());
    sup.actor_ref().stop(ExitReason::Shutdown);
    expect(
        &mut rx,
        &[
            stopped("c", ExitReason::Shutdown),
            stopped("b", ExitReason::Shutdown),
            stopped("a", ExitReason::Shutdown),
        ],
    )
    .await;
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn a_panicking_child_is_restarted() {
    let node = Node::new("o4o@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(worker("p", &tx)),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("p")]).await;
    let old = pid_of(&sup, "p").await.unwrap();
    let gone = node.wait_exit(old);
    node.actor_ref::<WMsg>(old)
        .unwrap()
        .tell(WMsg::Panic)
        .unwrap();
    assert!(matches!(gone.await, ExitReason::Panic(_)));
    expect(&mut rx, &[started("p")]).await;
    assert_ne!(pid_of(&sup, "p").await.unwrap(), old);
}

#[tokio::test]
async fn a_child_that_fails_to_start_fails_the_supervisor_start_and_stops_the_others() {
    use actor_core::supervisor::ChildSpec;
    use actor_core::{Actor, Context, SpawnError};
    struct Broken;
    impl Actor for Broken {
        type Msg = ();
        async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
            Err(ExitReason::error("no port"))
        }
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    }
    let node = Node::new("o4o@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &tx))
        .child(ChildSpec::worker("broken", || Broken))
        .child(worker("c", &tx));
    let err = Supervisor::start(&node, spec).await.unwrap_err();
    assert_eq!(
        err,
        SpawnError::FailedToStartChild {
            id: "broken".into(),
            reason: Box::new(SpawnError::Init(ExitReason::error("no port"))),
        }
    );
    expect(&mut rx, &[started("a"), stopped("a", ExitReason::Shutdown)]).await;
    assert_eq!(node.process_count(), 0);
}
