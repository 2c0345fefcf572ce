//! Monitors: one-way, deliver `Down(ref, pid, reason)`, `noproc` for dead targets, and no
//! `Down` after `demonitor`.
mod common;
use actor_core::{ExitReason, Node};
use common::*;
use tokio::sync::mpsc;

#[tokio::test]
async fn down_carries_ref_pid_and_reason_and_is_one_way() {
    let node = Node::new("mon@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = node.spawn(Probe::with_events(tx)).await.unwrap();
    let target = probe(&node).await;
    let mref = monitor(&watcher, target.pid()).await;
    target.tell(Cmd::Stop(ExitReason::error("bye"))).unwrap();
    assert_eq!(
        rx.recv().await.unwrap().1,
        Event::Down(mref, target.pid(), ExitReason::error("bye"))
    );
    // The watcher (not trapping exits) is unaffected: monitors are one-way.
    watcher.call(Cmd::Ping, T).await.unwrap();

    // And the watcher's death does not affect the target.
    let target2 = probe(&node).await;
    monitor(&watcher, target2.pid()).await;
    watcher.tell(Cmd::Stop(ExitReason::error("x"))).unwrap();
    node.wait_exit(watcher.pid()).await;
    target2.call(Cmd::Ping, T).await.unwrap();
}

#[tokio::test]
async fn monitoring_a_dead_process_gives_noproc() {
    let node = Node::new("mon@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = node.spawn(Probe::with_events(tx)).await.unwrap();
    let target = probe(&node).await;
    let pid = target.pid();
    target.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    node.wait_exit(pid).await;
    let mref = monitor(&watcher, pid).await;
    assert_eq!(
        rx.recv().await.unwrap().1,
        Event::Down(mref, pid, ExitReason::NoProc)
    );
}

#[tokio::test]
async fn several_monitors_each_fire_once() {
    let node = Node::new("mon@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = node.spawn(Probe::with_events(tx)).await.unwrap();
    let target = probe(&node).await;
    let m1 = monitor(&watcher, target.pid()).await;
    let m2 = monitor(&watcher, target.pid()).await;
    assert_ne!(m1, m2);
    node.exit(target.pid(), ExitReason::Kill);
    let mut got = vec![rx.recv().await.unwrap().1, rx.recv().await.unwrap().1];
    got.sort_by_key(|e| match e {
        Event::Down(m, ..) => *m,
        _ => unreachable!(),
    });
    assert_eq!(
        got,
        vec![
            Event::Down(m1, target.pid(), ExitReason::Killed),
            Event::Down(m2, target.pid(), ExitReason::Killed),
        ]
    );
    watcher.call(Cmd::Ping, T).await.unwrap();
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn demonitor_drops_even_an_already_queued_down() {
    let node = Node::new("mon@localhost");
    let watcher = probe(&node).await;
    let target = probe(&node).await;
    let mref = monitor(&watcher, target.pid()).await;
    // The watcher sits in a handler that will demonitor once released; meanwhile the target
    // dies, so its Down is queued behind the running handler.
    let (release, blocked) = tokio::sync::oneshot::channel();
    let res = tokio::spawn({
        let watcher = watcher.clone();
        async move {
            watcher
                .call(|r| Cmd::BlockThenDemonitor(mref, blocked, r), T)
                .await
        }
    });
    node.exit(target.pid(), ExitReason::Kill);
    node.wait_exit(target.pid()).await;
    release.send(()).unwrap();
    assert!(
        res.await.unwrap().unwrap(),
        "the monitor was active when demonitored"
    );
    assert_eq!(log(&watcher).await, vec![], "the queued Down was flushed");

    // Demonitor long before the exit: no Down either, and the target keeps no monitor.
    let target = probe(&node).await;
    let mref = monitor(&watcher, target.pid()).await;
    assert!(watcher.call(|r| Cmd::Demonitor(mref, r), T).await.unwrap());
    node.exit(target.pid(), ExitReason::Kill);
    node.wait_exit(target.pid()).await;
    assert_eq!(log(&watcher).await, vec![]);
}
