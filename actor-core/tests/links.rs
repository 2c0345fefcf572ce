//! Links: bidirectional, propagate abnormal exits, ignore `normal`, `trap_exit` turns exits
//! into messages, `kill` cannot be trapped.
mod common;
use actor_core::{ExitReason, LinkError, Node};
use common::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn abnormal_exit_kills_linked_actor_both_ways() {
    let node = Node::new("links@localhost");
    for (dying_first, reason) in [
        (true, ExitReason::error("boom")),
        (false, ExitReason::Shutdown),
    ] {
        let a = probe(&node).await;
        let b = probe(&node).await;
        link(&a, b.pid()).await.unwrap();
        let (die, other) = if dying_first { (&a, &b) } else { (&b, &a) };
        let wait_other = node.wait_exit(other.pid());
        die.tell(Cmd::Stop(reason.clone())).unwrap();
        assert_eq!(
            wait_other.await,
            reason,
            "linked actor exits with the same reason"
        );
        assert!(!node.is_alive(a.pid()) && !node.is_alive(b.pid()));
    }
}

#[tokio::test]
async fn normal_exit_does_not_kill_linked_actor() {
    let node = Node::new("links@localhost");
    let a = probe(&node).await;
    let b = probe(&node).await;
    link(&a, b.pid()).await.unwrap();
    let w = node.wait_exit(a.pid());
    a.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    assert_eq!(w.await, ExitReason::Normal);
    b.call(Cmd::Ping, T)
        .await
        .expect("b survives a normal exit");
}

#[tokio::test]
async fn trapped_exit_arrives_as_message_in_order() {
    let node = Node::new("links@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = trapping_probe(&node, tx).await;
    let a = probe(&node).await;
    link(&a, watcher.pid()).await.unwrap();
    a.tell(Cmd::Panic("kaboom".into())).unwrap();
    let (_, ev) = rx.recv().await.unwrap();
    assert_eq!(ev, Event::Exit(a.pid(), ExitReason::Panic("kaboom".into())));
    // Normal exits are delivered too when trapping.
    let b = probe(&node).await;
    link(&b, watcher.pid()).await.unwrap();
    b.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    assert_eq!(
        rx.recv().await.unwrap().1,
        Event::Exit(b.pid(), ExitReason::Normal)
    );
    assert!(node.is_alive(watcher.pid()));
}

#[tokio::test]
async fn kill_cannot_be_trapped_but_killed_can() {
    let node = Node::new("links@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let trapper = trapping_probe(&node, tx.clone()).await;
    let watcher = trapping_probe(&node, tx).await;
    link(&trapper, watcher.pid()).await.unwrap();
    let w = node.wait_exit(trapper.pid());
    node.exit(trapper.pid(), ExitReason::Kill);
    assert_eq!(w.await, ExitReason::Killed);
    // The linked, trapping watcher receives `killed`, which is an ordinary (trappable) reason.
    assert_eq!(
        rx.recv().await.unwrap(),
        (
            watcher.pid(),
            Event::Exit(trapper.pid(), ExitReason::Killed)
        )
    );
    assert!(node.is_alive(watcher.pid()));
}

#[tokio::test]
async fn exit_signal_from_node_follows_otp_rules() {
    let node = Node::new("links@localhost");
    let a = probe(&node).await;
    node.exit(a.pid(), ExitReason::Normal);
    a.call(Cmd::Ping, T)
        .await
        .expect("exit(normal) is ignored by a non-trapping actor");
    let w = node.wait_exit(a.pid());
    node.exit(a.pid(), ExitReason::Shutdown);
    assert_eq!(w.await, ExitReason::Shutdown);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = trapping_probe(&node, tx).await;
    node.exit(t.pid(), ExitReason::error("please"));
    assert_eq!(
        rx.recv().await.unwrap().1,
        Event::Exit(node.pid(), ExitReason::error("please"))
    );
}

#[tokio::test]
async fn unlink_stops_propagation() {
    let node = Node::new("links@localhost");
    let a = probe(&node).await;
    let b = probe(&node).await;
    link(&a, b.pid()).await.unwrap();
    a.call(|r| Cmd::Unlink(b.pid(), r), T).await.unwrap();
    let w = node.wait_exit(a.pid());
    a.tell(Cmd::Stop(ExitReason::error("x"))).unwrap();
    w.await;
    b.call(Cmd::Ping, T).await.expect("unlinked actor survives");
}

#[tokio::test]
async fn link_to_dead_process_is_noproc() {
    let node = Node::new("links@localhost");
    let a = probe(&node).await;
    let b = probe(&node).await;
    let w = node.wait_exit(b.pid());
    b.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    w.await;
    assert_eq!(link(&a, b.pid()).await, Err(LinkError::NoProc(b.pid())));
    a.call(Cmd::Ping, T).await.unwrap();
}

#[tokio::test]
async fn exit_propagates_along_a_chain() {
    let node = Node::new("links@localhost");
    let mut chain = Vec::new();
    for _ in 0..50 {
        chain.push(probe(&node).await);
    }
    for w in chain.windows(2) {
        link(&w[0], w[1].pid()).await.unwrap();
    }
    let last = node.wait_exit(chain[49].pid());
    chain[0]
        .tell(Cmd::Stop(ExitReason::error("cascade")))
        .unwrap();
    assert_eq!(last.await, ExitReason::error("cascade"));
    assert_eq!(node.process_count(), 0);
}
