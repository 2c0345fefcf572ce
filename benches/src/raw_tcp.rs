//! Raw tokio TCP references (peer `raw-tokio`): the floor under W5 and W6, in one process.
//!
//! Frames are a 4-byte big-endian length (= 8) and an 8-byte payload; both ends set
//! `TCP_NODELAY` on loopback.

use crate::{rate, Counts, Latencies, Metrics};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

const BUF: usize = 64 * 1024;

/// A connected loopback pair: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.expect("connect");
    let (server, _) = accepted.expect("accept");
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server)
}

fn frame(n: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..4].copy_from_slice(&8u32.to_be_bytes());
    f[4..].copy_from_slice(&n.to_be_bytes());
    f
}

/// W7b: the driver writes `tcp_frames` frames through a 64 KiB `BufWriter` and flushes once
/// at the end; a reader task behind a 64 KiB `BufReader` counts them and signals when it has
/// them all.
pub async fn w7b_pipe(c: Counts) -> Metrics {
    let (client, server) = pair().await;
    let total = c.tcp_frames;
    let reader = tokio::spawn(async move {
        let mut rd = BufReader::with_capacity(BUF, server);
        // Every frame has the same size: one `read_exact` per frame, then the length is
        // checked. (A `read_u32` then a `read_exact` of the payload is two reads per frame and
        // makes the reader the bottleneck: about 11-24M frames/s here instead of 30-38M.)
        let mut f = [0u8; 12];
        let mut n = 0u64;
        while n < total {
            rd.read_exact(&mut f).await.expect("read frame");
            let len = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            assert_eq!(len, 8, "frame length");
            n += 1;
        }
        n
    });
    let start = Instant::now();
    let mut wr = BufWriter::with_capacity(BUF, client);
    for i in 0..total {
        wr.write_all(&frame(i)).await.expect("write");
    }
    wr.flush().await.expect("flush");
    let counted = reader.await.expect("reader task");
    let elapsed = start.elapsed();
    assert_eq!(counted, total);
    vec![("throughput", rate(total, elapsed))]
}

/// W7c: `tcp_round_trips` sequential round trips of one frame, which a server task echoes,
/// after `remote_warmup` unmeasured ones; µs.
pub async fn w7c_req_resp(c: Counts) -> Metrics {
    let (mut client, mut server) = pair().await;
    tokio::spawn(async move {
        let mut f = [0u8; 12];
        while server.read_exact(&mut f).await.is_ok() {
            if server.write_all(&f).await.is_err() {
                break;
            }
        }
    });
    let mut reply = [0u8; 12];
    for i in 0..c.remote_warmup {
        client.write_all(&frame(i)).await.expect("write");
        client.read_exact(&mut reply).await.expect("read");
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.tcp_round_trips {
        let sent = Instant::now();
        client.write_all(&frame(i)).await.expect("write");
        client.read_exact(&mut reply).await.expect("read");
        lat.record_since(sent);
        debug_assert_eq!(reply, frame(i));
    }
    lat.metrics(start.elapsed())
        .into_iter()
        .filter(|(m, _)| matches!(*m, "mean" | "p50" | "p99"))
        .map(|(m, v)| (m, v / 1e3))
        .collect()
}
