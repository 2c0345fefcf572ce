//! `monitor_node` (an actor told of a node-down, once per request) and the node lists
//! (`nodes()`, `nodes(hidden)`, `nodes(connected)`), as OTP has them.
mod common;
use actor_core::{Actor, Context, ExitReason};
use actor_dist::{DistConfig, NodeEvent};
use common::*;
use tokio::sync::mpsc;

/// Reports every nodedown it gets.
struct Watch(mpsc::UnboundedSender<String>);

impl Actor for Watch {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_nodedown(&mut self, node: String, _: &mut Context<Self>) {
        let _ = self.0.send(node);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_monitoring_a_node_is_told_once_per_request() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = a.node().spawn(Watch(tx)).await.unwrap();
    assert!(a.monitor_node(w.pid(), b.name()));
    assert!(a.monitor_node(w.pid(), b.name()));
    assert!(a.monitor_node(w.pid(), b.name()));
    assert!(a.demonitor_node(w.pid(), b.name()));
    assert_eq!(a.node_monitor_count(), 2);
    // A node that is not connected is reported at once.
    assert!(a.monitor_node(w.pid(), "nowhere@127.0.0.1"));
    assert_eq!(rx.recv().await.unwrap(), "nowhere@127.0.0.1");

    let mut events = a.subscribe();
    b.shutdown();
    wait_event(&mut events, |e| matches!(e, NodeEvent::Down { .. })).await;
    assert_eq!(rx.recv().await.unwrap(), b.name());
    assert_eq!(rx.recv().await.unwrap(), b.name());
    assert_eq!(a.node_monitor_count(), 0);
    // Both were queued together, before the node-down event: no third one can follow.
    assert!(rx.try_recv().is_err(), "two requests, two messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchers_requests_go_with_it() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    for _ in 0..100 {
        let (tx, _rx) = mpsc::unbounded_channel();
        let (w, exit) = a.node().spawn_monitor(Watch(tx)).await.unwrap();
        assert!(a.monitor_node(w.pid(), b.name()));
        w.stop(ExitReason::Normal);
        exit.await;
    }
    assert_eq!(a.node_monitor_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_lists_as_otp_has_them() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let c = start_with("c@127.0.0.1", DistConfig::new(cookie()).hidden(true)).await;
    connect(&a, &b).await;
    connect(&c, &a).await;
    // `connect` returns once c's side is up; a registers its side of the connection on its
    // own task: wait for it, with a deadline.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while a.nodes_hidden().is_empty() {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("a lists c within 10 s");
    assert_eq!(a.nodes(), [b.name()]);
    assert_eq!(a.nodes_hidden(), [c.name()]);
    assert_eq!(a.nodes_connected(), [b.name(), c.name()]);
    // On the hidden node every connection is hidden: its visible peer is not in nodes().
    assert!(c.nodes().is_empty());
    assert_eq!(c.nodes_hidden(), [a.name()]);
    assert_eq!(a.tick_time(), DistConfig::new(cookie()).tick_time);
}
