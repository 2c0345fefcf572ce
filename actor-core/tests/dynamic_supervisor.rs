//! DynamicSupervisor (simple_one_for_one): children from one template, each with its args.
mod common;
use actor_core::supervisor::{DynamicSupervisor, DynamicSupervisorSpec, Restart, SupervisorError};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

fn spec(tx: &mpsc::UnboundedSender<Ev>) -> DynamicSupervisorSpec<String> {
    let tx = tx.clone();
    DynamicSupervisorSpec::worker(move |name: String| Worker::new(&name, &tx))
}

#[tokio::test]
async fn children_start_on_demand_and_restart_with_their_args() {
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = DynamicSupervisor::start(&node, spec(&tx).intensity(5, Duration::from_secs(5)))
        .await
        .unwrap();
    let x = sup.start_child("x".into()).await.unwrap().pid().unwrap();
    let y = sup.start_child("y".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("x"), started("y")]).await;
    assert_eq!(sup.count_children().await.unwrap().active, 2);

    node.actor_ref::<WMsg>(x)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("x")))
        .unwrap();
    expect(
        &mut rx,
        &[stopped("x", ExitReason::error("x")), started("x")],
    )
    .await;
    let kids = sup.which_children().await.unwrap();
    assert_eq!(kids.len(), 2);
    assert!(kids.iter().all(|c| c.pid != Some(x)));

    sup.terminate_child(y).await.unwrap();
    expect(&mut rx, &[stopped("y", ExitReason::Shutdown)]).await;
    // As OTP: a pid that is no longer alive terminates fine; a live stranger is not found.
    assert_eq!(sup.terminate_child(y).await, Ok(()));
    assert_eq!(
        sup.terminate_child(sup.pid()).await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(sup.count_children().await.unwrap().active, 1);

    // Stopping the supervisor stops every child.
    let z = sup.start_child("z".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("z")]).await;
    let down = node.wait_exit(sup.pid());
    let z_down = node.wait_exit(z);
    node.stop(sup.pid(), ExitReason::Shutdown);
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(z_down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn temporary_and_transient_children_and_intensity() {
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = DynamicSupervisor::start(&node, spec(&tx).restart(Restart::Transient))
        .await
        .unwrap();
    let a = sup.start_child("a".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("a")]).await;
    node.actor_ref::<WMsg>(a)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::Normal))
        .unwrap();
    expect(&mut rx, &[stopped("a", ExitReason::Normal)]).await;
    assert_eq!(
        sup.count_children().await.unwrap().active,
        0,
        "transient: clean exit not restarted"
    );

    // Default intensity 1 in 5 s: the second crash makes the supervisor give up.
    let b = sup.start_child("b".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("b")]).await;
    let down = node.wait_exit(sup.pid());
    node.actor_ref::<WMsg>(b)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("1")))
        .unwrap();
    expect(
        &mut rx,
        &[stopped("b", ExitReason::error("1")), started("b")],
    )
    .await;
    let b2 = sup.which_children().await.unwrap()[0].pid.unwrap();
    node.actor_ref::<WMsg>(b2)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("2")))
        .unwrap();
    expect(&mut rx, &[stopped("b", ExitReason::error("2"))]).await;
    assert_eq!(down.await, ExitReason::Shutdown);
}
