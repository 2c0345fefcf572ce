//! `ignore`: a child's start function, or a supervisor's own init, may decline to start
//! (OTP's `ignore`): nothing runs, the spec is kept (unless temporary) and can be restarted.
mod common;
use actor_core::supervisor::{
    ChildSpec, ChildState, ChildType, Restart, Started, Strategy, Supervisor, SupervisorError,
    SupervisorSpec,
};
use actor_core::Node;
use common::sup::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A worker that starts only while `on` is set.
fn switchable(name: &str, tx: &mpsc::UnboundedSender<Ev>, on: &Arc<AtomicBool>) -> ChildSpec {
    let (w, on) = (Worker::new(name, tx), on.clone());
    ChildSpec::worker_or_ignore(name, move || on.load(Ordering::SeqCst).then(|| w.clone()))
}

#[tokio::test]
async fn an_ignoring_child_is_kept_undefined_and_restart_child_tries_it_again() {
    let node = Node::new("ign@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let on = Arc::new(AtomicBool::new(false));
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(worker("a", &tx))
        .child(switchable("x", &tx, &on))
        .child(worker("c", &tx));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut rx, &[started("a"), started("c")]).await;

    let kids = sup.which_children().await.unwrap();
    let x = kids.iter().find(|c| c.id == "x").unwrap();
    assert_eq!((x.state, x.pid), (ChildState::Undefined, None));
    let c = sup.count_children().await.unwrap();
    assert_eq!((c.specs, c.active), (3, 2));
    assert_eq!(node.process_count(), 3, "the supervisor, a and c");

    // Still ignoring: restart_child answers ignore again.
    assert_eq!(sup.restart_child("x").await, Ok(Started::Ignore));
    on.store(true, Ordering::SeqCst);
    let pid = sup.restart_child("x").await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("x")]).await;
    assert_eq!(pid_of(&sup, "x").await, Some(pid));
    assert_eq!(sup.count_children().await.unwrap().active, 3);
}

#[tokio::test]
async fn an_ignoring_temporary_child_is_not_kept() {
    let node = Node::new("ign@localhost");
    let (tx, _rx) = mpsc::unbounded_channel();
    let off = Arc::new(AtomicBool::new(false));
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(switchable("t", &tx, &off).restart(Restart::Temporary));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    assert_eq!(sup.count_children().await.unwrap().specs, 0);

    // start_child: a temporary child that ignores is dropped, another is kept undefined.
    let t = switchable("t2", &tx, &off).restart(Restart::Temporary);
    assert_eq!(sup.start_child(t).await, Ok(Started::Ignore));
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    assert_eq!(
        sup.start_child(switchable("p", &tx, &off)).await,
        Ok(Started::Ignore)
    );
    assert_eq!(
        sup.start_child(switchable("p", &tx, &off)).await,
        Err(SupervisorError::AlreadyPresent)
    );
    let c = sup.count_children().await.unwrap();
    assert_eq!((c.specs, c.active), (1, 0));
}

#[tokio::test]
async fn a_supervisor_whose_init_ignores_starts_nothing() {
    let node = Node::new("ign@localhost");
    let sup = Supervisor::start_with(&node, || None).await.unwrap();
    assert!(sup.is_none());
    assert_eq!(node.process_count(), 0);

    // The same as a child: kept undefined, a supervisor, restartable.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let on = Arc::new(AtomicBool::new(false));
    let init = {
        let (on, tx) = (on.clone(), tx.clone());
        move || {
            on.load(Ordering::SeqCst)
                .then(|| SupervisorSpec::new(Strategy::OneForOne).child(worker("w", &tx)))
        }
    };
    let top = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(ChildSpec::supervisor_with("inner", init)),
    )
    .await
    .unwrap();
    let kids = top.which_children().await.unwrap();
    assert_eq!(kids[0].state, ChildState::Undefined);
    assert_eq!(kids[0].kind, ChildType::Supervisor);
    assert_eq!(node.process_count(), 1);
    on.store(true, Ordering::SeqCst);
    assert!(top.restart_child("inner").await.unwrap().pid().is_some());
    expect(&mut rx, &[started("w")]).await;
}

#[tokio::test]
async fn a_restart_that_ignores_leaves_the_child_undefined() {
    let node = Node::new("ign@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let on = Arc::new(AtomicBool::new(true));
    let sup = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne).child(switchable("x", &tx, &on)),
    )
    .await
    .unwrap();
    expect(&mut rx, &[started("x")]).await;
    on.store(false, Ordering::SeqCst);
    let pid = crash(&node, &sup, "x", actor_core::ExitReason::error("e")).await;
    node.wait_exit(pid).await;
    // The exit is handled before the next request: the restart answered ignore.
    let kids = sup.which_children().await.unwrap();
    assert_eq!(kids[0].state, ChildState::Undefined);
    assert!(node.is_alive(sup.pid()));
}
