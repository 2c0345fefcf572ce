//! Bulk user traffic does not turn registry replication into a partition: while one node
//! streams large messages to a peer with backpressure (`send().await`), 10,000 global
//! registrations made on it replicate, no node-down is seen, and the replicas end equal.
mod common;
use actor_core::{Actor, Context};
use actor_dist::{Message, NodeEvent};
use actor_registry::{Kind, Pattern};
use common::cluster::{cluster, T};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// A large message. Its bytes are encoded as one byte string (as `serde_bytes` does), not
/// as a sequence of `u8`s: the same bytes on the wire, without a serde call per byte (which
/// in a debug build costs more CPU than the whole transfer).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Blob(#[serde(with = "bytes")] Vec<u8>);

mod bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_byte_buf(V)
    }
}

impl Message for Blob {
    const NAME: &'static str = "registry-test.bulk.Blob";
}

/// Reports the first byte of each blob (its sequence number) and its length.
struct BlobSink(mpsc::UnboundedSender<(u8, usize)>);

impl Actor for BlobSink {
    type Msg = Blob;
    async fn handle(&mut self, b: Blob, _: &mut Context<Self>) {
        let _ = self.0.send((b.0[0], b.0.len()));
    }
}

const BLOBS: usize = 64;
const BLOB: usize = 2 << 20;
const NAMES: u64 = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_sends_and_replication_share_a_link_without_a_disconnect() {
    let ms = cluster(2).await;
    let (a, b) = (&ms[0], &ms[1]);
    for m in &ms {
        m.dist.register::<Blob>();
    }
    let mut events_a = a.dist.subscribe();
    let mut events_b = b.dist.subscribe();
    let (tx, mut got) = mpsc::unbounded_channel();
    let sink = b.node().spawn(BlobSink(tx)).await.unwrap();
    let to_sink = a.dist.actor_ref::<Blob>(sink.pid()).unwrap();

    let streamer = tokio::spawn(async move {
        for i in 0..BLOBS {
            let mut blob = vec![0u8; BLOB];
            blob[0] = i as u8;
            to_sink
                .send(Blob(blob))
                .await
                .expect("send with backpressure");
        }
    });
    // A subscriber on B to a property it holds: A publishes to it during the stream.
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let subscriber = common::cluster::sub(b.node(), &notes_tx).await;
    b.global
        .register(Kind::Property, "feed", subscriber.pid(), ())
        .unwrap();
    b.global.sync(T).await.unwrap();
    a.global.sync(T).await.unwrap();
    let feed = actor_registry::Key::from("feed");
    let holder = common::spawn(a.node()).await;
    let mut published = 0u64;
    for i in 0..NAMES {
        a.global
            .register(Kind::Name, ("bulk", i as i64), holder.pid(), ())
            .unwrap();
        if i % 10 == 0 {
            let reached = a
                .global
                .send(Kind::Property, &feed, common::cluster::Note(i))
                .unwrap();
            assert_eq!(reached, 1, "the subscriber on B");
            published += 1;
        }
        if i % 500 == 0 {
            tokio::task::yield_now().await; // let the streamer run between batches
        }
    }
    tokio::time::timeout(T * 3, streamer)
        .await
        .expect("the stream finishes")
        .unwrap();
    for i in 0..BLOBS {
        let (seq, len) = tokio::time::timeout(T, got.recv())
            .await
            .expect("every blob arrives")
            .unwrap();
        assert_eq!((seq as usize, len), (i, BLOB), "blobs in order, whole");
    }

    for n in 0..published {
        let (_, note) = tokio::time::timeout(T, notes.recv())
            .await
            .expect("every publish arrives")
            .unwrap();
        assert_eq!(note, n * 10, "publishes in order");
    }
    a.global.sync(T).await.unwrap();
    b.global.sync(T).await.unwrap();
    let all = Pattern::all();
    assert_eq!(a.global.count(Kind::Name, &all), NAMES as usize);
    assert_eq!(
        a.global.select(Kind::Name, &all),
        b.global.select(Kind::Name, &all),
        "replicas equal"
    );
    for (name, ev) in [("a", &mut events_a), ("b", &mut events_b)] {
        while let Ok(e) = ev.try_recv() {
            assert!(
                !matches!(e, NodeEvent::Down { .. }),
                "{name} saw a node-down: {e:?}"
            );
        }
    }
    assert_eq!(a.dist.nodes(), vec![b.name().to_string()]);
    for m in &ms {
        assert_eq!(m.global.stats().send_failures.load(Ordering::Relaxed), 0);
        assert_eq!(m.dist.stats().bad_frames.load(Ordering::Relaxed), 0);
        assert_eq!(m.dist.stats().undelivered.load(Ordering::Relaxed), 0);
    }
}
