//! Large messages go in fragments interleaved with other traffic on the link: small calls
//! between other actors are not stuck behind them, and the order of messages between one
//! pair of processes is kept exactly, whatever their sizes.
mod common;
use actor_core::{Actor, Context, ReplyTo};
use actor_dist::{DistConfig, Message};
use common::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Bytes as one postcard byte string (not a sequence of `u8`s): a copy, not a loop.
mod bytes {
    use serde::de::{Deserializer, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Serialize, Deserialize)]
struct Blob {
    /// Which sender, and its sequence number.
    from: u8,
    seq: u64,
    #[serde(with = "bytes")]
    data: Vec<u8>,
}

impl Message for Blob {
    const NAME: &'static str = "test.Blob";
}

/// Reports each blob it takes: (from, seq, len, first and last byte).
struct Sink(mpsc::UnboundedSender<(u8, u64, usize, u8, u8)>);

impl Actor for Sink {
    type Msg = Blob;
    async fn handle(&mut self, b: Blob, _: &mut Context<Self>) {
        let first = b.data.first().copied().unwrap_or(0);
        let last = b.data.last().copied().unwrap_or(0);
        let _ = self.0.send((b.from, b.seq, b.data.len(), first, last));
    }
}

#[derive(Serialize, Deserialize)]
struct Ask(u64, ReplyTo<u64>);

impl Message for Ask {
    const NAME: &'static str = "test.Ask";
}

struct Echo;

impl Actor for Echo {
    type Msg = Ask;
    async fn handle(&mut self, Ask(n, r): Ask, _: &mut Context<Self>) {
        r.send(n + 1);
    }
}

fn big_config() -> DistConfig {
    let mut cfg = DistConfig::new(cookie());
    cfg.max_frame = 80 << 20;
    cfg.outbound_limit = 160 << 20;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_calls_complete_while_a_64_mib_message_is_in_flight() {
    let a = start_with("a@127.0.0.1", big_config()).await;
    let b = start_with("b@127.0.0.1", big_config()).await;
    b.register::<Blob>();
    b.register::<Ask>();
    connect(&a, &b).await;
    let (tx, mut delivered) = mpsc::unbounded_channel();
    let sink = b.node().spawn(Sink(tx)).await.unwrap();
    let echo = b.node().spawn(Echo).await.unwrap();
    let sink = a.actor_ref::<Blob>(sink.pid()).unwrap();
    let echo = a.actor_ref::<Ask>(echo.pid()).unwrap();
    assert_eq!(echo.call(|r| Ask(0, r), T).await, Ok(1)); // warm

    let mut data = vec![7u8; 64 << 20];
    *data.last_mut().unwrap() = 9;
    sink.tell(Blob {
        from: 0,
        seq: 0,
        data,
    })
    .unwrap();
    // 1,000 calls on the same link, all started while the bulk message is queued.
    let started = Instant::now();
    let calls: Vec<_> = (0..1000u64)
        .map(|i| {
            let echo = echo.clone();
            tokio::spawn(async move {
                let sent = Instant::now();
                let r = echo.call(|r| Ask(i, r), Duration::from_secs(60)).await;
                (r, sent.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for (i, c) in calls.into_iter().enumerate() {
        let (r, took) = c.await.unwrap();
        assert_eq!(r, Ok(i as u64 + 1));
        slowest = slowest.max(took);
    }
    let calls_done = started.elapsed();
    // The bulk message has not been delivered yet: the calls did not wait for it.
    assert!(
        delivered.try_recv().is_err(),
        "the 64 MiB message arrived before the small calls completed ({calls_done:?})"
    );
    let got = tokio::time::timeout(Duration::from_secs(120), delivered.recv())
        .await
        .expect("bulk message delivered")
        .unwrap();
    assert_eq!(got, (0, 0, 64 << 20, 7, 9), "intact");
    eprintln!(
        "1000 calls done in {calls_done:?} (slowest {slowest:?}); bulk after {:?}",
        started.elapsed()
    );
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()], "no node-down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_between_a_pair_is_kept_with_mixed_sizes() {
    let a = start_with("a@127.0.0.1", big_config()).await;
    let b = start_with("b@127.0.0.1", big_config()).await;
    b.register::<Blob>();
    connect(&a, &b).await;
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let s1 = b.node().spawn(Sink(tx1)).await.unwrap();
    let s2 = b.node().spawn(Sink(tx2)).await.unwrap();
    let s1 = a.actor_ref::<Blob>(s1.pid()).unwrap();
    let s2 = a.actor_ref::<Blob>(s2.pid()).unwrap();
    // Sizes around the fragment size and far above it, mixed with small ones.
    let size = |seq: u64| match seq % 7 {
        0 => 300 * 1024,
        3 => 64 * 1024 + 1,
        5 => 64 * 1024 - 40,
        _ => (seq % 13) as usize,
    };
    const N: u64 = 200;
    // Two senders on A, each to its own sink, and one of them also to the other's sink.
    let t1 = {
        let (s1, s2) = (s1.clone(), s2.clone());
        tokio::spawn(async move {
            for seq in 0..N {
                let to = if seq % 2 == 0 { &s1 } else { &s2 };
                to.send(Blob {
                    from: 1,
                    seq,
                    data: vec![seq as u8; size(seq)],
                })
                .await
                .unwrap();
            }
        })
    };
    let t2 = tokio::spawn(async move {
        for seq in 0..N {
            s2.send(Blob {
                from: 2,
                seq,
                data: vec![seq as u8; size(seq + 3)],
            })
            .await
            .unwrap();
        }
    });
    t1.await.unwrap();
    t2.await.unwrap();
    let mut seen1 = Vec::new();
    let mut seen2: Vec<(u8, u64)> = Vec::new();
    while seen1.len() < (N / 2) as usize {
        let (from, seq, len, first, _) = rx1.recv().await.unwrap();
        assert_eq!(
            (from, len, first),
            (1, size(seq), if len > 0 { seq as u8 } else { 0 })
        );
        seen1.push(seq);
    }
    while seen2.len() < (N + N / 2) as usize {
        let (from, seq, _, _, _) = rx2.recv().await.unwrap();
        seen2.push((from, seq));
    }
    assert_eq!(
        seen1,
        (0..N).step_by(2).collect::<Vec<_>>(),
        "sender 1 -> sink 1 in order"
    );
    let from1: Vec<u64> = seen2
        .iter()
        .filter(|(f, _)| *f == 1)
        .map(|(_, s)| *s)
        .collect();
    let from2: Vec<u64> = seen2
        .iter()
        .filter(|(f, _)| *f == 2)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(
        from1,
        (1..N).step_by(2).collect::<Vec<_>>(),
        "sender 1 -> sink 2 in order"
    );
    assert_eq!(
        from2,
        (0..N).collect::<Vec<_>>(),
        "sender 2 -> sink 2 in order"
    );
}

/// A task streaming large messages with `send().await` lets the connection's writer run
/// between them: on a single-threaded runtime (where nothing else can run while it does not
/// yield), the first message reaches the peer while the stream is still being sent, long
/// before the outbound buffer would be full.
#[tokio::test(flavor = "current_thread")]
async fn a_task_streaming_large_messages_lets_the_writer_run_between_them() {
    let a = start_with("a@127.0.0.1", big_config()).await;
    let b = start_with("b@127.0.0.1", big_config()).await;
    b.register::<Blob>();
    connect(&a, &b).await;
    let (tx, mut delivered) = mpsc::unbounded_channel();
    let sink = b.node().spawn(Sink(tx)).await.unwrap();
    let sink = a.actor_ref::<Blob>(sink.pid()).unwrap();
    const N: u64 = 40; // 40 MiB: far below the 160 MiB outbound limit
    let mut arrived_while_sending = 0;
    for seq in 0..N {
        sink.send(Blob {
            from: 0,
            seq,
            data: vec![1; 1 << 20],
        })
        .await
        .unwrap();
        while delivered.try_recv().is_ok() {
            arrived_while_sending += 1;
        }
    }
    assert!(
        arrived_while_sending > 0,
        "no message arrived while {N} MiB were sent: the sender never let the writer run"
    );
    for _ in arrived_while_sending..N {
        tokio::time::timeout(T, delivered.recv())
            .await
            .expect("every message arrives")
            .unwrap();
    }
}
