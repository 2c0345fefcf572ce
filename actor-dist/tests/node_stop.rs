//! An orderly node stop (`Node::shutdown_graceful`, OTP `init:stop/0`) across nodes: the
//! stopping node's actors end with `shutdown`, their peers are told so, then distribution
//! stops and the peers see the node go down.
mod common;
use actor_core::{ExitReason, SpawnOpts};
use actor_dist::NodeEvent;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_see_shutdown_then_the_node_go_down() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let mut events = b.subscribe();
    let service = a.node().spawn(Probe::new()).await.unwrap();
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let watcher = b
        .node()
        .spawn_opts(
            Probe {
                trap: true,
                events: Some(tx),
                dist: Some(b.clone()),
            },
            SpawnOpts::default(),
        )
        .await
        .unwrap();
    watcher
        .call(|r| Cmd::Monitor(service.pid(), r), T)
        .await
        .unwrap();
    assert!(watcher
        .call(|r| Cmd::Link(service.pid(), r), T)
        .await
        .unwrap());

    // A call over the same connection orders after the link and monitor signals.
    let remote = b.actor_ref::<Cmd>(service.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(a.node().link_count(service.pid()), 1);
    assert_eq!(a.node().monitor_count(service.pid()), 1);

    assert_eq!(a.node().shutdown_graceful(Duration::from_secs(5)).await, 0);
    assert_eq!(a.node().process_count(), 0);
    let mut got = vec![
        tokio::time::timeout(Duration::from_secs(10), seen.recv())
            .await
            .unwrap()
            .unwrap(),
        tokio::time::timeout(Duration::from_secs(10), seen.recv())
            .await
            .unwrap()
            .unwrap(),
    ];
    got.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        got,
        [
            Event::Down(service.pid(), ExitReason::Shutdown),
            Event::Exit(service.pid(), ExitReason::Shutdown),
        ],
        "the peer learns the real reason, not noconnection"
    );
    wait_event(
        &mut events,
        |e| matches!(e, NodeEvent::Down { node, .. } if node == a.name()),
    )
    .await;
    assert!(b.nodes().is_empty());
}
