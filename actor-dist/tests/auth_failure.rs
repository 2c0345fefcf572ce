//! Admission: nothing about a node's connections changes on the strength of a name that has
//! not been proved. A failed authentication is its own event, never a node-down; a connect
//! that never came up is an error, not a node-down; auto-connects to an unreachable node back
//! off and sends fail fast meanwhile.
mod common;
use actor_core::{NodeId, Pid, SendError};
use actor_dist::wire::{encode_frame, Handshake, PROTOCOL_VERSION};
use actor_dist::{AuthFailure, Cookie, DistConfig, DownReason, NodeEvent};
use common::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::error::TryRecvError;

async fn read_handshake(s: &mut TcpStream) -> Handshake {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    s.read_exact(&mut body).await.unwrap();
    actor_dist::wire::decode_handshake(&body).unwrap()
}

async fn write_handshake(s: &mut TcpStream, h: &Handshake) {
    let mut out = Vec::new();
    encode_frame(h, 4096, &mut out).unwrap();
    s.write_all(&out).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_with_a_wrong_cookie_changes_nothing_for_the_real_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();
    connect(&a, &b).await;
    // (`connect` returns once the connection is up; its Up event may trail a little.)
    wait_event(&mut a_events, |e| matches!(e, NodeEvent::Up(_))).await;
    wait_event(&mut b_events, |e| matches!(e, NodeEvent::Up(_))).await;

    // A node claiming b's name, with the wrong cookie, while b is up.
    let impostor = start_with(
        "b@127.0.0.1",
        DistConfig::new(Cookie::new("not-the-cookie").unwrap()),
    )
    .await;
    assert_eq!(
        impostor.connect(a.name(), a.local_addr()).await,
        Err(DownReason::AuthFailed)
    );
    let ev = wait_event(&mut a_events, |_| true).await;
    assert!(
        matches!(&ev, NodeEvent::AuthFailed { claimed_name, reason: AuthFailure::CookieMismatch, .. }
            if claimed_name == "b@127.0.0.1"),
        "the first event on a is the failed authentication: {ev:?}"
    );
    // b stays up on a, and the link works.
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(
        a_events.try_recv(),
        Err(TryRecvError::Empty),
        "no Down on a"
    );
    assert_eq!(
        b_events.try_recv(),
        Err(TryRecvError::Empty),
        "no event on b"
    );
    assert_eq!(a.stats().auth_failures.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_name_mid_handshake_does_not_hold_up_a_real_connect() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let mut a_events = a.subscribe();

    // A raw socket says Hello as b and stops before proving anything.
    let mut raw = TcpStream::connect(a.local_addr()).await.unwrap();
    write_handshake(
        &mut raw,
        &Handshake::Hello {
            version: PROTOCOL_VERSION,
            name: "b@127.0.0.1".into(),
            creation: 99,
            hidden: false,
            listen: "127.0.0.1:1".parse().unwrap(),
            app_version: "x".into(),
            challenge: [1; 32],
        },
    )
    .await;
    // a answered with its own Hello: it has read the claim.
    assert!(matches!(
        read_handshake(&mut raw).await,
        Handshake::Hello { .. }
    ));

    // The real b connects both ways meanwhile, and is not held up by the claim.
    connect(&a, &b).await;
    connect(&b, &a).await;
    assert!(matches!(
        wait_event(&mut a_events, |_| true).await,
        NodeEvent::Up(info) if info.name == "b@127.0.0.1" && info.creation == b.node().creation()
    ));

    // The impostor's proof fails: an AuthFailed event, and b stays up.
    write_handshake(&mut raw, &Handshake::Proof([0; 32])).await;
    assert_eq!(
        read_handshake(&mut raw).await,
        Handshake::Refuse("auth".into()),
        "a fixed refusal code, nothing else"
    );
    let ev = wait_event(&mut a_events, |_| true).await;
    assert!(
        matches!(&ev, NodeEvent::AuthFailed { claimed_name, .. } if claimed_name == "b@127.0.0.1"),
        "{ev:?}"
    );
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
    assert_eq!(a_events.try_recv(), Err(TryRecvError::Empty));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_that_never_came_up_is_an_error_not_a_node_down() {
    let a = start("a@127.0.0.1").await;
    let mut events = a.subscribe();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let res = a.connect("x@127.0.0.1", closed).await;
    assert!(
        matches!(res, Err(DownReason::ConnectionSetupFailed(_))),
        "{res:?}"
    );
    // The next event is the next node coming up: no Down for x was ever emitted.
    let c = start("c@127.0.0.1").await;
    connect(&a, &c).await;
    let ev = wait_event(&mut events, |_| true).await;
    assert!(
        matches!(&ev, NodeEvent::Up(info) if info.name == "c@127.0.0.1"),
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_connects_to_an_unreachable_node_back_off_and_sends_fail_fast() {
    let mut cfg = DistConfig::new(cookie());
    cfg.backoff = (Duration::from_secs(30), Duration::from_secs(60));
    let a = start_with("a@127.0.0.1", cfg).await;
    let mut events = a.subscribe();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert!(a.connect("x@127.0.0.1", closed).await.is_err());
    let failures = a.stats().setup_failures.load(Ordering::Relaxed);
    let far = Pid {
        node: NodeId::from_name("x@127.0.0.1"),
        id: 1,
        creation: 1,
    };
    let remote = a.actor_ref::<Cmd>(far).unwrap();
    for n in 0..1000 {
        assert!(
            matches!(remote.tell(Cmd::Note(n)), Err(SendError::NoConnection(_))),
            "send {n} fails at once"
        );
    }
    assert_eq!(
        a.stats().setup_failures.load(Ordering::Relaxed),
        failures,
        "no connect attempt per message"
    );
    assert!(a.nodes().is_empty());
    assert_eq!(
        events.try_recv(),
        Err(TryRecvError::Empty),
        "no event per message"
    );
    // An explicit connect is still tried at once.
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
}
