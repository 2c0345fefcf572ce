//! Pre-authentication bounds from `accept`: hundreds of idle and slow sockets, from the real
//! peers' own address and from others, do not keep two real nodes from reconnecting.
mod common;
use actor_dist::wire::{encode_frame, Handshake, PROTOCOL_VERSION};
use actor_dist::{DistConfig, DownReason, NodeEvent};
use common::*;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// A socket to `to` from the loopback address `127.0.0.<from>`.
async fn dial_from(from: u8, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from(([127, 0, 0, from], 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// A well-formed `Hello` claiming `name`, after which the sender says nothing more.
fn hello(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(
        &Handshake::Hello {
            version: PROTOCOL_VERSION,
            name: name.into(),
            creation: 7,
            hidden: false,
            listen: "127.0.0.1:1".parse().unwrap(),
            app_version: "x".into(),
            challenge: [3; 32],
        },
        4096,
        &mut out,
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_sockets_do_not_keep_real_peers_apart() {
    // A silent socket would hold its place for 10 s: a reconnect that had to wait for one
    // would be seen at once.
    let mut cfg = DistConfig::new(cookie());
    cfg.setup_timeout = Duration::from_secs(10);
    let b = start_with("b@127.0.0.1", cfg).await;
    let proxy = Proxy::start(b.local_addr()).await;
    let mut cfg = DistConfig::new(cookie()).seed("b@127.0.0.1", proxy.addr);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(100));
    let node = actor_core::Node::new("a@127.0.0.1");
    let a = actor_dist::Dist::start(&node, cfg).await.unwrap();
    a.register::<Cmd>();
    let mut events = a.subscribe();
    if a.nodes().is_empty() {
        wait_event(&mut events, |e| matches!(e, NodeEvent::Up(_))).await;
    }

    // 400 sockets that never authenticate: idle ones, ones that trickled a few bytes of a
    // frame, and ones that sent a full Hello and stalled; from the peers' own address
    // (127.0.0.1) and from 20 others.
    let mut held = Vec::new();
    for i in 0..400u32 {
        let from = if i % 2 == 0 { 1 } else { 2 + (i % 20) as u8 };
        let mut s = dial_from(from, b.local_addr()).await;
        match i % 4 {
            0 | 1 => {}
            2 => s.write_all(&[0, 0, 0, 90, 0, 1]).await.unwrap(),
            _ => s
                .write_all(&hello(&format!("x{i}@127.0.0.1")))
                .await
                .unwrap(),
        }
        held.push(s);
    }

    // A blip: the link is cut; both nodes must find each other again at once.
    let cut = Instant::now();
    proxy.cut();
    let down = wait_event(&mut events, |e| matches!(e, NodeEvent::Down { .. })).await;
    assert_eq!(
        down,
        NodeEvent::Down {
            node: "b@127.0.0.1".into(),
            reason: DownReason::ConnectionClosed
        }
    );
    wait_event(&mut events, |e| matches!(e, NodeEvent::Up(_))).await;
    let took = cut.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "reconnected in {took:?} with 400 unauthenticated sockets open"
    );
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(b.nodes(), vec!["a@127.0.0.1".to_string()]);

    // The bounds did the work: older unauthenticated sockets were closed to make room.
    let st = b.stats();
    let closed =
        st.preauth_evicted.load(Ordering::Relaxed) + st.preauth_refused.load(Ordering::Relaxed);
    assert!(closed >= 400 - 128, "closed {closed}");
    drop(held);
}
