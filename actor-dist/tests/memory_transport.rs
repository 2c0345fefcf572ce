//! Nodes over the in-memory transport (`transport::MemoryNetwork`): connecting, messaging,
//! calls, remote spawn, and a link cut seen as a node-down on both sides; in paused time.
mod common;
use actor_core::{CallError, ExitReason};
use actor_dist::transport::MemoryNetwork;
use actor_dist::{DistConfig, DownReason, NodeEvent, SpawnOnOpts};
use common::*;
use std::net::IpAddr;

fn host(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

fn on(net: &MemoryNetwork, n: u8) -> DistConfig {
    DistConfig::new(cookie()).transport(net.host(host(n)))
}

#[tokio::test(start_paused = true)]
async fn two_nodes_talk_over_an_in_memory_network() {
    let net = MemoryNetwork::new();
    let a = start_with("a@mem", on(&net, 2)).await;
    let b = start_with("b@mem", on(&net, 3)).await;
    assert_eq!(a.local_addr().ip(), host(2));
    connect(&a, &b).await;
    assert_eq!(a.nodes(), vec!["b@mem".to_string()]);
    assert_eq!(b.nodes(), vec!["a@mem".to_string()]);
    assert_eq!(net.open_streams(), 1, "one connection per node pair");

    // Remote spawn, a call, a message, and a monitor across the network.
    let p = a
        .spawn_on::<Cmd, _>("b@mem", "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    assert_eq!(p.call(|r| Cmd::Echo(41, r), T).await, Ok(42));
    p.tell(Cmd::Note(7)).unwrap();
    let log = p.call(Cmd::Log, T).await.unwrap();
    assert_eq!(log, vec![Event::Msg(7)]);
    let watcher = a.node().spawn(Probe::new()).await.unwrap();
    watcher.call(|r| Cmd::Monitor(p.pid(), r), T).await.unwrap();
    p.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    loop {
        let log = watcher.call(Cmd::Log, T).await.unwrap();
        if !log.is_empty() {
            assert_eq!(log, vec![Event::Down(p.pid(), ExitReason::Normal)]);
            break;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_cut_link_is_a_node_down_and_a_healed_one_reconnects() {
    let net = MemoryNetwork::new();
    let a = start_with("a@mem", on(&net, 2)).await;
    let b = start_with("b@mem", on(&net, 3)).await;
    let mut events_a = a.subscribe();
    let mut events_b = b.subscribe();
    connect(&a, &b).await;
    wait_event(&mut events_a, |e| matches!(e, NodeEvent::Up(_))).await;
    wait_event(&mut events_b, |e| matches!(e, NodeEvent::Up(_))).await;
    let p = b.node().spawn(Probe::new()).await.unwrap();
    let p = a.actor_ref::<Cmd>(p.pid()).unwrap();
    // A call that is never answered, pending when the link is cut.
    let pending = {
        let p = p.clone();
        tokio::spawn(async move { p.call(Cmd::Swallow, T).await })
    };
    until_swallowed(&p).await;

    net.cut(host(2), host(3));
    let down = |e: &NodeEvent| matches!(e, NodeEvent::Down { .. });
    let ev = wait_event(&mut events_a, down).await;
    assert_eq!(
        ev,
        NodeEvent::Down {
            node: "b@mem".into(),
            reason: DownReason::ConnectionClosed
        }
    );
    wait_event(&mut events_b, down).await;
    assert_eq!(
        pending.await.unwrap(),
        Err(CallError::NodeDown("b@mem".into()))
    );
    assert!(a.nodes().is_empty() && b.nodes().is_empty());
    // While cut, a connect fails with no node event.
    assert!(a.connect("b@mem", b.local_addr()).await.is_err());
    assert_eq!(net.open_streams(), 0);

    net.heal(host(2), host(3));
    connect(&a, &b).await;
    let up = wait_event(&mut events_a, |e| {
        !matches!(e, NodeEvent::AuthFailed { .. })
    })
    .await;
    assert!(
        matches!(up, NodeEvent::Up(ref i) if i.name == "b@mem"),
        "{up:?}"
    );
    assert_eq!(p.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
}
