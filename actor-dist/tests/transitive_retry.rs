//! A transitive connect (to a node named in a peer's list) that fails is retried with
//! backoff, so one failure during a connect storm does not leave the mesh partial for good.

mod common;

use actor_dist::handshake::{initiate, Identity};
use actor_dist::wire::{encode_frame, Frame};
use actor_dist::DistConfig;
use common::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transitive_connect_is_retried() {
    let mut cfg = DistConfig::new(cookie());
    cfg.backoff = (Duration::from_millis(100), Duration::from_millis(400));
    let a = start_with("a@retry", cfg).await;

    // A port where nothing listens yet: C will listen there.
    let c_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };

    // A peer (a raw client) tells A that C is at `c_addr`.
    let mut s = TcpStream::connect(a.local_addr()).await.unwrap();
    let ck = cookie();
    let me = Identity {
        name: "p@retry",
        creation: 1,
        hidden: false,
        listen: "127.0.0.1:1".parse().unwrap(),
        app_version: env!("CARGO_PKG_VERSION"),
        cookie: &ck,
        capabilities: actor_dist::wire::capability::ALL,
    };
    initiate(&mut s, &me, [5; 32]).await.unwrap();
    let mut out = Vec::new();
    encode_frame(
        &Frame::Peers(vec![("c@retry".into(), c_addr)]),
        1 << 20,
        &mut out,
    )
    .unwrap();
    s.write_all(&out).await.unwrap();

    // A's first dial fails (nothing listens)...
    let deadline = tokio::time::Instant::now() + T;
    while a.stats().setup_failures.load(Ordering::Relaxed) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no dial to C");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!a.nodes().iter().any(|n| n == "c@retry"));
    // ... then C comes up there, and A's retry reaches it (8 attempts over more than 1 s).
    let c = start_with("c@retry", DistConfig::new(cookie()).listen(c_addr)).await;
    let deadline = tokio::time::Instant::now() + T;
    while !a.nodes().iter().any(|n| n == "c@retry") {
        assert!(tokio::time::Instant::now() < deadline, "A never retried C");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(c.nodes().iter().any(|n| n == "a@retry"));
    drop(s);
}
