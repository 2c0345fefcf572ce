//! auto_shutdown (OTP 24+): significant children whose own end shuts the supervisor down.
mod common;
use actor_core::supervisor::{
    AutoShutdown, DynamicSupervisor, DynamicSupervisorSpec, Restart, SpecError, Strategy,
    Supervisor, SupervisorError, SupervisorSpec,
};
use actor_core::{ExitReason, Node, SpawnError};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test]
async fn invalid_significant_children_are_refused_before_any_child_starts() {
    let node = Node::new("auto@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let never = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &tx))
        .child(
            worker("s", &tx)
                .restart(Restart::Transient)
                .significant(true),
        );
    assert_eq!(
        Supervisor::start(&node, never).await.unwrap_err(),
        SpawnError::InvalidSpec(SpecError::SignificantWithoutAutoShutdown("s".into()))
    );
    let permanent = SupervisorSpec::new(Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(worker("a", &tx))
        .child(worker("s", &tx).significant(true));
    assert_eq!(
        Supervisor::start(&node, permanent).await.unwrap_err(),
        SpawnError::InvalidSpec(SpecError::SignificantPermanent("s".into()))
    );
    let dup = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &tx))
        .child(worker("a", &tx));
    assert_eq!(
        Supervisor::start(&node, dup).await.unwrap_err(),
        SpawnError::InvalidSpec(SpecError::DuplicateChildId("a".into()))
    );
    assert!(rx.try_recv().is_err(), "no child started");
    assert_eq!(node.process_count(), 0);

    // start_child checks the same rules.
    let sup = Supervisor::start(&node, SupervisorSpec::new(Strategy::OneForOne))
        .await
        .unwrap();
    let s = worker("s", &tx)
        .restart(Restart::Temporary)
        .significant(true);
    assert_eq!(
        sup.start_child(s).await,
        Err(SupervisorError::InvalidSpec(
            SpecError::SignificantWithoutAutoShutdown("s".into())
        ))
    );
}

#[tokio::test]
async fn any_significant_shuts_down_when_a_significant_child_ends_by_itself() {
    let node = Node::new("auto@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .intensity(5, Duration::from_secs(5))
        .child(worker("a", &tx))
        .child(
            worker("t", &tx)
                .restart(Restart::Transient)
                .significant(true),
        )
        .child(worker("b", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("t"), started("b")]).await;
    let down = node.wait_exit(sup.pid());

    // A transient significant child that crashes is restarted: no shutdown.
    crash(&node, &sup, "t", ExitReason::error("e")).await;
    expect(
        &mut rx,
        &[stopped("t", ExitReason::error("e")), started("t")],
    )
    .await;
    // Its clean exit shuts the supervisor down, the others in reverse order.
    crash(&node, &sup, "t", ExitReason::Normal).await;
    expect(
        &mut rx,
        &[
            stopped("t", ExitReason::Normal),
            stopped("b", ExitReason::Shutdown),
            stopped("a", ExitReason::Shutdown),
        ],
    )
    .await;
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn all_significant_shuts_down_when_the_last_significant_child_ends() {
    let node = Node::new("auto@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(worker("a", &tx))
        .child(
            worker("s1", &tx)
                .restart(Restart::Temporary)
                .significant(true),
        )
        .child(
            worker("s2", &tx)
                .restart(Restart::Temporary)
                .significant(true),
        );
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("s1"), started("s2")]).await;
    let down = node.wait_exit(sup.pid());
    // A temporary significant child: any exit counts, a crash too.
    crash(&node, &sup, "s1", ExitReason::error("e")).await;
    expect(&mut rx, &[stopped("s1", ExitReason::error("e"))]).await;
    assert_eq!(sup.count_children().await.unwrap().specs, 2, "still up");
    crash(&node, &sup, "s2", ExitReason::Normal).await;
    expect(
        &mut rx,
        &[
            stopped("s2", ExitReason::Normal),
            stopped("a", ExitReason::Shutdown),
        ],
    )
    .await;
    assert_eq!(down.await, ExitReason::Shutdown);
}

#[tokio::test]
async fn terminate_child_does_not_trigger_auto_shutdown() {
    let node = Node::new("auto@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            worker("t", &tx)
                .restart(Restart::Transient)
                .significant(true),
        );
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("t")]).await;
    sup.terminate_child("t").await.unwrap();
    expect(&mut rx, &[stopped("t", ExitReason::Shutdown)]).await;
    let c = sup.count_children().await.unwrap();
    assert_eq!((c.specs, c.active), (1, 0));
    assert!(node.is_alive(sup.pid()));
}

#[tokio::test]
async fn a_dynamic_supervisor_with_all_significant_ends_with_its_last_child() {
    let node = Node::new("auto@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = tx.clone();
    let spec = DynamicSupervisorSpec::worker(move |name: String| Worker::new(&name, &t))
        .restart(Restart::Temporary)
        .significant(true)
        .auto_shutdown(AutoShutdown::AllSignificant);
    let sup = DynamicSupervisor::start(&node, spec).await.unwrap();
    let x = sup.start_child("x".into()).await.unwrap().pid().unwrap();
    let y = sup.start_child("y".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("x"), started("y")]).await;
    let down = node.wait_exit(sup.pid());
    for (pid, name) in [(x, "x"), (y, "y")] {
        node.actor_ref::<WMsg>(pid)
            .unwrap()
            .tell(WMsg::Crash(ExitReason::Normal))
            .unwrap();
        expect(&mut rx, &[stopped(name, ExitReason::Normal)]).await;
    }
    assert_eq!(down.await, ExitReason::Shutdown);
    // And the rules are checked for the template.
    let bad = DynamicSupervisorSpec::worker(move |name: String| Worker::new(&name, &tx))
        .significant(true);
    assert!(matches!(
        DynamicSupervisor::start(&node, bad).await,
        Err(SpawnError::InvalidSpec(
            SpecError::SignificantWithoutAutoShutdown(_)
        ))
    ));
}
