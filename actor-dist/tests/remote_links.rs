//! Remote links and monitors: real exit reasons cross the wire; on nodedown links fire
//! `noconnection`, monitors deliver `Down(noconnection)`, pending calls fail at once.
mod common;
use actor_core::{CallError, ExitReason, SpawnOpts};
use actor_dist::{DownReason, NodeEvent};
use common::*;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

async fn trapping_probe(
    d: &actor_dist::Dist,
) -> (actor_core::ActorRef<Cmd>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let p = d
        .node()
        .spawn_opts(
            Probe {
                trap: true,
                events: Some(tx),
                dist: Some(d.clone()),
            },
            SpawnOpts::default(),
        )
        .await
        .unwrap();
    (p, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("event in time")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_exit_reasons_cross_links_and_monitors() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (watcher, mut events) = trapping_probe(&a).await;
    let target = b.node().spawn(Probe::new()).await.unwrap();
    assert!(watcher
        .call(|r| Cmd::Link(target.pid(), r), T)
        .await
        .unwrap());
    watcher
        .call(|r| Cmd::Monitor(target.pid(), r), T)
        .await
        .unwrap();
    let remote = a.actor_ref::<Cmd>(target.pid()).unwrap();
    remote
        .tell(Cmd::Stop(ExitReason::error("disk full")))
        .unwrap();
    let mut got = vec![next(&mut events).await, next(&mut events).await];
    got.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        got,
        vec![
            Event::Down(target.pid(), ExitReason::error("disk full")),
            Event::Exit(target.pid(), ExitReason::error("disk full")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_crash_kills_the_linked_remote_actor() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let local = a
        .node()
        .spawn(Probe {
            trap: false,
            events: None,
            dist: Some(a.clone()),
        })
        .await
        .unwrap();
    let remote_target = b.node().spawn(Probe::new()).await.unwrap();
    assert!(local
        .call(|r| Cmd::Link(remote_target.pid(), r), T)
        .await
        .unwrap());
    let gone = b.node().wait_exit(remote_target.pid());
    local.tell(Cmd::Panic).unwrap();
    assert_eq!(gone.await, ExitReason::Panic("probe panic".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_and_monitor_of_a_dead_remote_pid_give_noproc() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (watcher, mut events) = trapping_probe(&a).await;
    let dead = b.node().spawn(Probe::new()).await.unwrap();
    let pid = dead.pid();
    dead.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    b.node().wait_exit(pid).await;
    watcher.call(|r| Cmd::Link(pid, r), T).await.unwrap();
    assert_eq!(
        next(&mut events).await,
        Event::Exit(pid, ExitReason::NoProc)
    );
    watcher.call(|r| Cmd::Monitor(pid, r), T).await.unwrap();
    assert_eq!(
        next(&mut events).await,
        Event::Down(pid, ExitReason::NoProc)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodedown_fires_links_monitors_and_fails_pending_calls_at_once() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let mut node_events = a.subscribe();
    connect(&a, &b).await;
    let (watcher, mut events) = trapping_probe(&a).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    assert!(watcher.call(|r| Cmd::Link(on_b.pid(), r), T).await.unwrap());
    watcher
        .call(|r| Cmd::Monitor(on_b.pid(), r), T)
        .await
        .unwrap();
    // A call that b's actor never answers.
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    let pending = tokio::spawn({
        let remote = remote.clone();
        async move { remote.call(Cmd::Swallow, Duration::from_secs(60)).await }
    });
    // Also: a remote actor linked to a local one is killed by the nodedown on b's side.
    let b_side = b.node().spawn(Probe::new()).await.unwrap();
    let a_side = a.node().spawn(Probe::new()).await.unwrap();
    b.node().link(b_side.pid(), a_side.pid()).unwrap();
    let b_side_gone = b.node().wait_exit(b_side.pid());
    until_swallowed(&remote).await;
    let t0 = Instant::now();
    a.disconnect("b@127.0.0.1");
    let mut got = vec![next(&mut events).await, next(&mut events).await];
    got.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        got,
        vec![
            Event::Down(on_b.pid(), ExitReason::NoConnection),
            Event::Exit(on_b.pid(), ExitReason::NoConnection),
        ]
    );
    assert_eq!(
        pending.await.unwrap(),
        Err(CallError::NodeDown("b@127.0.0.1".into()))
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "failed at once");
    assert_eq!(b_side_gone.await, ExitReason::NoConnection);
    let ev = wait_event(&mut node_events, |e| matches!(e, NodeEvent::Down { .. })).await;
    assert_eq!(
        ev,
        NodeEvent::Down {
            node: "b@127.0.0.1".into(),
            reason: DownReason::Disconnect
        }
    );
    // Nothing else was disturbed: local actors still answer.
    watcher.call(Cmd::Log, T).await.unwrap();
}
