//! A failed restart is not a tight loop: the child is marked restarting, the supervisor sends
//! itself a retry queued behind the requests already in its mailbox, and every attempt counts
//! toward the intensity (OTP's `try_again_restart`).
mod common;
use actor_core::supervisor::{
    ChildState, Strategy, Supervisor, SupervisorError, SupervisorMsg, SupervisorRef, SupervisorSpec,
};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

fn state_of(kids: &[actor_core::supervisor::ChildInfo], id: &str) -> ChildState {
    kids.iter()
        .find(|c| c.id == id)
        .expect("child listed")
        .state
}

/// A supervisor (`strategy`, at most `max` restarts in 5 s) of workers named `ids`, the one
/// named `gated_id` a [`gated`] worker whose first start the helper lets succeed; started, with
/// every child's start seen on the returned receiver.
async fn start_gated(
    strategy: Strategy,
    max: u32,
    ids: &[&str],
    gated_id: &str,
) -> (Node, mpsc::UnboundedReceiver<Ev>, Gate, SupervisorRef) {
    let node = Node::new("retry@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (g, mut gate) = gated(gated_id, &tx);
    let mut spec = SupervisorSpec::new(strategy).intensity(max, Duration::from_secs(5));
    let mut g = Some(g);
    for id in ids {
        let child = if *id == gated_id {
            g.take().expect("one gated child")
        } else {
            worker(id, &tx)
        };
        spec = spec.child(child);
    }
    let (sup, ()) = tokio::join!(Supervisor::start(&node, spec), attempt(&mut gate, true));
    let sup = sup.unwrap();
    let starts: Vec<_> = ids.iter().map(|id| started(id)).collect();
    expect(&mut rx, &starts).await;
    (node, rx, gate, sup)
}

#[tokio::test]
async fn a_failed_restart_shows_restarting_and_requests_are_answered_between_attempts() {
    let (node, mut rx, mut gate, sup) = start_gated(Strategy::OneForOne, 10, &["w"], "w").await;

    crash(&node, &sup, "w", ExitReason::error("boom")).await;
    expect(&mut rx, &[stopped("w", ExitReason::error("boom"))]).await;
    // The supervisor is inside the restart, waiting for the start function: these requests
    // queue up before the retry it will send itself.
    let which = queue(&sup, SupervisorMsg::WhichChildren);
    let count = queue(&sup, SupervisorMsg::CountChildren);
    attempt(&mut gate, false).await;

    let kids = which.await.unwrap().unwrap();
    assert_eq!(state_of(&kids, "w"), ChildState::Restarting);
    assert_eq!(kids[0].pid, None);
    let c = count.await.unwrap().unwrap();
    assert_eq!(
        (c.specs, c.active),
        (1, 0),
        "a restarting child is not active"
    );

    // Then the retry comes, and succeeds.
    attempt(&mut gate, true).await;
    expect(&mut rx, &[started("w")]).await;
    assert!(matches!(
        state_of(&sup.which_children().await.unwrap(), "w"),
        ChildState::Running(_)
    ));
    assert_eq!(sup.count_children().await.unwrap().active, 1);
}

#[tokio::test]
async fn every_attempt_counts_toward_the_intensity() {
    let (node, _rx, mut gate, sup) = start_gated(Strategy::OneForOne, 2, &["w"], "w").await;
    let down = node.wait_exit(sup.pid());
    crash(&node, &sup, "w", ExitReason::error("boom")).await;
    // Restart 1 fails, its retry (restart 2) fails, the next retry is restart 3 > 2.
    attempt(&mut gate, false).await;
    attempt(&mut gate, false).await;
    assert_eq!(down.await, ExitReason::Shutdown);
    assert!(gate.try_recv().is_err(), "no third attempt");
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn one_for_all_restart_failing_part_way_is_retried_as_a_whole() {
    let (node, mut rx, mut gate, sup) =
        start_gated(Strategy::OneForAll, 10, &["a", "b", "c"], "b").await;

    crash(&node, &sup, "a", ExitReason::error("a")).await;
    expect(
        &mut rx,
        &[
            stopped("a", ExitReason::error("a")),
            stopped("c", ExitReason::Shutdown),
            stopped("b", ExitReason::Shutdown),
            started("a"),
        ],
    )
    .await;
    // (The supervisor waits on b's start: ask through its mailbox, answers come after.)
    let which = queue(&sup, SupervisorMsg::WhichChildren);
    let count = queue(&sup, SupervisorMsg::CountChildren);
    attempt(&mut gate, false).await;
    let kids = which.await.unwrap().unwrap();
    assert!(matches!(state_of(&kids, "a"), ChildState::Running(_)));
    assert_eq!(state_of(&kids, "b"), ChildState::Restarting);
    assert_eq!(state_of(&kids, "c"), ChildState::Undefined);
    assert_eq!(count.await.unwrap().unwrap().active, 1);

    // The retry restarts the whole group: the `a` started by the failed attempt goes too.
    attempt(&mut gate, true).await;
    expect(
        &mut rx,
        &[
            stopped("a", ExitReason::Shutdown),
            started("a"),
            started("b"),
            started("c"),
        ],
    )
    .await;
    assert!(pids(&sup).await.iter().all(Option::is_some));
}

#[tokio::test]
async fn rest_for_one_retry_restarts_from_the_child_that_failed() {
    let (node, mut rx, mut gate, sup) =
        start_gated(Strategy::RestForOne, 10, &["a", "b", "c", "d"], "b").await;

    crash(&node, &sup, "a", ExitReason::error("a")).await;
    expect(
        &mut rx,
        &[
            stopped("a", ExitReason::error("a")),
            stopped("d", ExitReason::Shutdown),
            stopped("c", ExitReason::Shutdown),
            stopped("b", ExitReason::Shutdown),
            started("a"),
        ],
    )
    .await;
    let which = queue(&sup, SupervisorMsg::WhichChildren);
    attempt(&mut gate, false).await;
    let a = which
        .await
        .unwrap()
        .unwrap()
        .iter()
        .find(|c| c.id == "a")
        .unwrap()
        .pid;
    assert!(a.is_some());
    attempt(&mut gate, true).await;
    // `a`, started before the failure, stays; the retry starts b and the children after it.
    expect(&mut rx, &[started("b"), started("c"), started("d")]).await;
    assert_eq!(pid_of(&sup, "a").await, a);
    assert!(pids(&sup).await.iter().all(Option::is_some));
}

#[tokio::test]
async fn restart_and_delete_are_refused_while_restarting_and_terminate_stops_the_retries() {
    let (node, mut rx, mut gate, sup) = start_gated(Strategy::OneForOne, 10, &["w"], "w").await;
    crash(&node, &sup, "w", ExitReason::error("boom")).await;
    expect(&mut rx, &[stopped("w", ExitReason::error("boom"))]).await;
    let restart = queue(&sup, |r| SupervisorMsg::RestartChild("w".into(), r));
    let delete = queue(&sup, |r| SupervisorMsg::DeleteChild("w".into(), r));
    let terminate = queue(&sup, |r| SupervisorMsg::TerminateChild("w".into(), r));
    attempt(&mut gate, false).await;
    assert_eq!(
        restart.await.unwrap().unwrap(),
        Err(SupervisorError::Restarting)
    );
    assert_eq!(
        delete.await.unwrap().unwrap(),
        Err(SupervisorError::Restarting)
    );
    assert_eq!(terminate.await.unwrap().unwrap(), Ok(()));
    // The retry was queued behind the terminate and finds nothing to do.
    let kids = sup.which_children().await.unwrap();
    assert_eq!(state_of(&kids, "w"), ChildState::Undefined);
    assert!(gate.try_recv().is_err(), "no further attempt");
    assert!(node.is_alive(sup.pid()));
}
