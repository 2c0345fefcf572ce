//! which_children, count_children, start_child, terminate_child, restart_child, delete_child.
mod common;
use actor_core::supervisor::{
    ChildSpec, ChildType, Restart, Strategy, Supervisor, SupervisorError, SupervisorSpec,
};
use actor_core::{ExitReason, Node};
use common::sup::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn the_child_management_api_follows_otp() {
    let node = Node::new("mgmt@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(worker("a", &tx)),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("a")]).await;

    // start_child appends; a duplicate id is refused.
    let b = sup
        .start_child(worker("b", &tx))
        .await
        .unwrap()
        .pid()
        .unwrap();
    expect(&mut rx, &[started("b")]).await;
    assert_eq!(
        sup.start_child(worker("b", &tx)).await,
        Err(SupervisorError::AlreadyStarted(b))
    );
    let sub = SupervisorSpec::new(Strategy::OneForOne);
    sup.start_child(ChildSpec::supervisor("sub", sub))
        .await
        .unwrap();

    // OTP's order: the most recently started child first.
    let kids = sup.which_children().await.unwrap();
    let ids: Vec<&str> = kids.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["sub", "b", "a"]);
    assert_eq!(kids[0].kind, ChildType::Supervisor);
    let c = sup.count_children().await.unwrap();
    assert_eq!((c.specs, c.active, c.workers, c.supervisors), (3, 3, 2, 1));

    // terminate keeps the spec; delete needs it stopped; restart brings it back.
    assert_eq!(sup.delete_child("b").await, Err(SupervisorError::Running));
    sup.terminate_child("b").await.unwrap();
    expect(&mut rx, &[stopped("b", ExitReason::Shutdown)]).await;
    assert!(!node.is_alive(b));
    assert_eq!(pid_of(&sup, "b").await, None);
    assert_eq!(
        sup.start_child(worker("b", &tx)).await,
        Err(SupervisorError::AlreadyPresent)
    );
    let b2 = sup.restart_child("b").await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("b")]).await;
    assert_ne!(b, b2);
    assert_eq!(sup.restart_child("b").await, Err(SupervisorError::Running));
    sup.terminate_child("b").await.unwrap();
    expect(&mut rx, &[stopped("b", ExitReason::Shutdown)]).await;
    sup.delete_child("b").await.unwrap();
    assert_eq!(sup.count_children().await.unwrap().specs, 2);

    // Unknown ids.
    assert_eq!(
        sup.terminate_child("zz").await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(
        sup.restart_child("zz").await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(sup.delete_child("zz").await, Err(SupervisorError::NotFound));

    // A terminated temporary child loses its spec.
    sup.start_child(worker("t", &tx).restart(Restart::Temporary))
        .await
        .unwrap();
    expect(&mut rx, &[started("t")]).await;
    sup.terminate_child("t").await.unwrap();
    expect(&mut rx, &[stopped("t", ExitReason::Shutdown)]).await;
    assert_eq!(sup.restart_child("t").await, Err(SupervisorError::NotFound));
}
