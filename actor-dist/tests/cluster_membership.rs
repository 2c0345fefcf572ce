//! Full mesh through transitive connects, hidden nodes, node events and load reports.
mod common;
use actor_dist::{DistConfig, NodeEvent, SpawnOnOpts};
use common::*;
use std::time::Duration;

async fn until(mut f: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitive_connect_makes_a_full_mesh_and_hidden_nodes_stay_out() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let c = start("c@127.0.0.1").await;
    let mut c_events = c.subscribe();
    connect(&a, &b).await;
    connect(&c, &a).await;
    // c learns b from a and connects by itself.
    let up = wait_event(
        &mut c_events,
        |e| matches!(e, NodeEvent::Up(i) if i.name == "b@127.0.0.1"),
    )
    .await;
    assert!(matches!(up, NodeEvent::Up(_)));
    until(|| b.nodes().len() == 2).await;
    assert_eq!(
        c.nodes(),
        vec!["a@127.0.0.1".to_string(), "b@127.0.0.1".to_string()]
    );

    // A hidden tool node connects to a but is not listed, and a does not introduce it.
    let tool = start_with("tool@127.0.0.1", DistConfig::new(cookie()).hidden(true)).await;
    connect(&tool, &a).await;
    // On the hidden node its connections are hidden (OTP: nodes() is empty there).
    assert!(tool.nodes().is_empty());
    assert_eq!(tool.nodes_hidden(), vec!["a@127.0.0.1".to_string()]);
    assert_eq!(
        a.nodes(),
        vec!["b@127.0.0.1".to_string(), "c@127.0.0.1".to_string()]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        tool.nodes_connected(),
        vec!["a@127.0.0.1".to_string()],
        "a hidden node makes no transitive connects"
    );
    assert_eq!(b.nodes().len(), 2, "b was not told about the hidden node");
    // It can still talk to a's actors.
    let on_a = a.node().spawn(Probe::new()).await.unwrap();
    assert_eq!(
        tool.actor_ref::<Cmd>(on_a.pid())
            .unwrap()
            .call(|r| Cmd::Echo(1, r), T)
            .await,
        Ok(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reports_drive_least_loaded_placement() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    // Load a with actors; b stays idle.
    let mut keep = Vec::new();
    for _ in 0..200 {
        keep.push(a.node().spawn(Probe::new()).await.unwrap());
    }
    until(|| a.loads().contains_key("b@127.0.0.1")).await;
    assert_eq!(
        a.least_loaded(&["a@127.0.0.1".to_string(), "b@127.0.0.1".to_string()]),
        Some("b@127.0.0.1".to_string())
    );
    let placed = a
        .spawn_on_least_loaded::<Cmd, _>("probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    assert_eq!(placed.pid().node, b.node().id());
    assert!(a.local_load().actors >= 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shut_down_node_makes_no_new_connections() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let probe = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(probe.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    a.shutdown();
    // Neither an explicit connect nor a send starts a connection again.
    assert!(a.connect(b.name(), b.local_addr()).await.is_err());
    assert!(remote.call(|r| Cmd::Echo(1, r), T).await.is_err());
    assert!(a.nodes().is_empty());
}

/// `reported_load` is what the peers were told (as old as their reports), not a new walk of
/// the process table: actors spawned after the last report show only in the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_load_is_what_the_peers_see() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let mut keep = Vec::new();
    for _ in 0..50 {
        keep.push(a.node().spawn(Probe::new()).await.unwrap());
    }
    until(|| b.loads().get("a@127.0.0.1").is_some_and(|l| l.actors >= 50)).await;
    until(|| b.loads().get("a@127.0.0.1").map(|l| l.actors) == Some(a.reported_load().actors))
        .await;
    let before = a.reported_load().actors;
    for _ in 0..20 {
        keep.push(a.node().spawn(Probe::new()).await.unwrap());
    }
    // Fresh count sees them at once; the reported one only after the next report.
    assert!(a.local_load().actors >= before + 20);
    until(|| a.reported_load().actors >= before + 20).await;
    until(|| {
        b.loads()
            .get("a@127.0.0.1")
            .is_some_and(|l| l.actors >= before + 20)
    })
    .await;
}
