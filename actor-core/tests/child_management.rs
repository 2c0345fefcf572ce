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

#[tokio::test]
async fn get_childspec_returns_the_spec_by_id() {
    use actor_core::supervisor::Shutdown;
    let node = Node::new("mgmt@localhost");
    let (tx, _rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("a", &tx).restart(Restart::Transient))
            .child(ChildSpec::supervisor(
                "sub",
                SupervisorSpec::new(Strategy::OneForAll),
            )),
    )
    .await
    .unwrap();
    let a = sup.get_childspec("a").await.unwrap();
    assert_eq!(a.id(), "a");
    assert_eq!(a.restart_type(), Restart::Transient);
    assert_eq!(a.child_type(), ChildType::Worker);
    assert!(!a.is_significant());
    let sub = sup.get_childspec("sub").await.unwrap();
    assert_eq!(
        (sub.child_type(), sub.shutdown_policy()),
        (ChildType::Supervisor, Shutdown::Infinity)
    );
    assert_eq!(
        sup.get_childspec("zz").await.unwrap_err(),
        SupervisorError::NotFound
    );
    // The spec can start the same child elsewhere.
    let other = Supervisor::start(&node, SupervisorSpec::new(Strategy::OneForOne))
        .await
        .unwrap();
    assert!(other.start_child(a).await.unwrap().pid().is_some());
}

#[tokio::test]
async fn terminate_child_of_a_child_that_already_died_answers_ok() {
    let node = Node::new("mgmt@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne)
            .child(worker("t", &tx).restart(Restart::Transient)),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("t")]).await;
    let pid = crash(&node, &sup, "t", ExitReason::Normal).await;
    node.wait_exit(pid).await;
    // Whether or not the supervisor has handled the exit yet, terminating answers Ok.
    assert_eq!(sup.terminate_child("t").await, Ok(()));
    assert_eq!(sup.terminate_child("t").await, Ok(()));
    assert_eq!(pid_of(&sup, "t").await, None);
}

#[tokio::test]
async fn which_children_lists_the_most_recently_started_first_as_otp() {
    let node = Node::new("mgmt@localhost");
    let (tx, _rx) = mpsc::unbounded_channel();
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::RestForOne)
            .intensity(5, std::time::Duration::from_secs(5))
            .child(worker("a", &tx))
            .child(worker("b", &tx)),
    )
    .await
    .unwrap();
    sup.start_child(worker("c", &tx)).await.unwrap();
    let order = |kids: Vec<actor_core::supervisor::ChildInfo>| {
        kids.into_iter().map(|c| c.id).collect::<Vec<_>>()
    };
    assert_eq!(order(sup.which_children().await.unwrap()), ["c", "b", "a"]);
    // A restart keeps the order.
    crash(&node, &sup, "a", ExitReason::error("x")).await;
    sup.count_children().await.unwrap();
    assert_eq!(order(sup.which_children().await.unwrap()), ["c", "b", "a"]);
}

#[tokio::test]
async fn start_errors_are_values_naming_the_child() {
    use actor_core::{Actor, Context, SpawnError};
    struct Broken;
    impl Actor for Broken {
        type Msg = ();
        async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
            Err(ExitReason::error("no port"))
        }
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    }
    let node = Node::new("mgmt@localhost");
    let inner = SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::worker("w", || Broken));
    let err = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::supervisor("inner", inner)),
    )
    .await
    .unwrap_err();
    let SpawnError::FailedToStartChild { id, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(id, "inner");
    assert_eq!(
        *reason,
        SpawnError::FailedToStartChild {
            id: "w".into(),
            reason: Box::new(SpawnError::Init(ExitReason::error("no port"))),
        }
    );
    assert_eq!(node.process_count(), 0);

    let sup = Supervisor::start(&node, SupervisorSpec::new(Strategy::OneForOne))
        .await
        .unwrap();
    assert_eq!(
        sup.start_child(ChildSpec::worker("b", || Broken)).await,
        Err(SupervisorError::StartFailed {
            id: Some("b".into()),
            reason: SpawnError::Init(ExitReason::error("no port")),
        })
    );
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
}
