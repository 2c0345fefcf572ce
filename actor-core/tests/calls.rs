//! call/cast: replies, fail-fast on dead targets, timeouts with late replies dropped.
mod common;
use actor_core::{CallError, ExitReason, Node};
use common::*;
use std::time::Duration;

#[tokio::test]
async fn call_on_a_dead_target_fails_fast_with_noproc() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    let w = node.wait_exit(p.pid());
    p.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    w.await;
    let start = tokio::time::Instant::now();
    let err = p
        .call(Cmd::Ping, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::Exit(ExitReason::NoProc));
    assert!(err.is_noproc());
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(
        p.tell(Cmd::Note(1)).is_err(),
        "tell to a dead actor is an error value"
    );
}

#[tokio::test]
async fn call_fails_fast_when_target_dies_before_replying() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    // The target holds on to the request; then it is killed.
    let call = tokio::spawn({
        let p = p.clone();
        async move { p.call(Cmd::Swallow, Duration::from_secs(30)).await }
    });
    p.call(Cmd::Ping, T).await.unwrap(); // the Swallow has been handled
    node.exit(p.pid(), ExitReason::Kill);
    let start = tokio::time::Instant::now();
    assert_eq!(
        call.await.unwrap(),
        Err(CallError::Exit(ExitReason::Killed))
    );
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn queued_requests_of_a_dying_actor_fail_with_its_reason() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    let (release, blocked) = tokio::sync::oneshot::channel();
    p.tell(Cmd::Block(blocked)).unwrap();
    p.tell(Cmd::Stop(ExitReason::error("going"))).unwrap();
    let queued = tokio::spawn({
        let p = p.clone();
        async move { p.call(Cmd::Ping, Duration::from_secs(30)).await }
    });
    tokio::task::yield_now().await;
    release.send(()).unwrap();
    let res = queued.await.unwrap();
    assert!(
        res == Err(CallError::Exit(ExitReason::error("going")))
            || res == Err(CallError::Exit(ExitReason::NoProc)),
        "{res:?}"
    );
}

#[tokio::test]
async fn dropped_reply_handle_fails_the_call_at_once() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    assert_eq!(
        p.call(Cmd::Drop, Duration::from_secs(30)).await,
        Err(CallError::NoReply)
    );
    assert!(node.is_alive(p.pid()));
}

#[tokio::test(start_paused = true)]
async fn timeout_then_late_reply_is_dropped() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    let res = p
        .call(
            |r| Cmd::SlowEcho(1, Duration::from_secs(10), r),
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(res, Err(CallError::Timeout));
    // The actor replies later into a closed channel: no panic, no leak, actor keeps working.
    assert_eq!(
        p.call(
            |r| Cmd::SlowEcho(5, Duration::ZERO, r),
            Duration::from_secs(60)
        )
        .await,
        Ok(6)
    );
    assert!(node.is_alive(p.pid()));
}

#[tokio::test]
async fn a_target_dying_with_the_request_in_hand_gives_its_reason() {
    let node = Node::new("calls@localhost");
    let p = probe(&node).await;
    assert_eq!(
        p.call(Cmd::PanicHolding, Duration::from_secs(30)).await,
        Err(CallError::Exit(ExitReason::Panic(
            "died holding a request".into()
        )))
    );
    let p = probe(&node).await;
    assert_eq!(
        p.call(
            |r| Cmd::DropAndStop(ExitReason::error("quit"), r),
            Duration::from_secs(30)
        )
        .await,
        Err(CallError::Exit(ExitReason::error("quit")))
    );
}
