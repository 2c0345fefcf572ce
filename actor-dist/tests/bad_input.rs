//! Hostile bytes on a node's port: garbage, truncated frames, oversized length prefixes,
//! frames before authentication, a slow-loris handshake. The node keeps serving its real
//! peers and nothing on their link is lost.
mod common;
use actor_dist::DistConfig;
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn attack(addr: std::net::SocketAddr, bytes: Vec<u8>) {
    if let Ok(mut s) = TcpStream::connect(addr).await {
        let _ = s.write_all(&bytes).await;
        let mut sink = [0u8; 256];
        // The node answers with a refusal or just closes; it must not hang us forever.
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read(&mut sink)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_do_not_disturb_real_peers() {
    let mut cfg = DistConfig::new(cookie());
    cfg.setup_timeout = Duration::from_millis(500);
    let b = start_with("b@127.0.0.1", cfg).await;
    let a = start("a@127.0.0.1").await;
    connect(&a, &b).await;
    let sink = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(sink.pid()).unwrap();
    let addr = b.local_addr();

    let mut valid_frame = Vec::new();
    actor_dist::wire::encode_frame(
        &actor_dist::wire::Frame::Send {
            to: sink.pid(),
            tag: 1,
            payload: b"x",
        },
        1 << 20,
        &mut valid_frame,
    )
    .unwrap();
    let attacks: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0, 0, 0, 10, 1, 2, 3],      // truncated
        u32::MAX.to_be_bytes().to_vec(), // oversized length prefix
        valid_frame,                     // a data frame before any handshake
        (0..=255u8).cycle().take(5000).collect(),
    ];
    let mut sent = 0u64;
    for bytes in attacks {
        let flood = tokio::spawn(attack(addr, bytes));
        for _ in 0..200 {
            remote.tell(Cmd::Note(sent)).unwrap();
            sent += 1;
        }
        flood.await.unwrap();
    }
    // Slow loris: connect, say nothing; the node drops it after the setup timeout.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "silent peer is dropped: {closed:?}"
    );

    let log = remote.call(Cmd::Log, T).await.unwrap();
    assert_eq!(
        log,
        (0..sent).map(Event::Msg).collect::<Vec<_>>(),
        "nothing lost, in order"
    );
    assert_eq!(b.nodes(), vec!["a@127.0.0.1".to_string()]);
    assert!(
        b.stats()
            .setup_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 3
    );
}
