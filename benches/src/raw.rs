//! Raw tokio references (peer `raw-tokio`): the floor under any actor mailbox.

use crate::{rate, Counts, Latencies, Metrics};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// W7a: the driver sends `raw_msgs` numbers through an `unbounded_channel` to one consumer
/// task, which signals when it has received them all.
pub async fn w7a_mpsc(c: Counts) -> Metrics {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let (done, finished) = oneshot::channel();
    let total = c.raw_msgs;
    tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
            if n == total {
                let _ = done.send(());
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..total {
        tx.send(i).expect("send");
    }
    finished.await.expect("consumer signal");
    vec![("throughput", rate(total, start.elapsed()))]
}

/// W2b's floor: `senders` tasks each send `tells_per_sender` numbers through one
/// `unbounded_channel` to one consumer task.
pub async fn w2b_many_senders(c: Counts) -> Metrics {
    let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
    let (done, finished) = oneshot::channel();
    let total = c.senders as u64 * c.tells_per_sender;
    tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
            if n == total {
                let _ = done.send(());
                break;
            }
        }
    });
    let start = Instant::now();
    for _ in 0..c.senders {
        let tx = tx.clone();
        let n = c.tells_per_sender;
        tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).expect("send");
            }
        });
    }
    finished.await.expect("consumer signal");
    vec![("throughput", rate(total, start.elapsed()))]
}

/// W7d: an ask with nothing but tokio: a request through an `unbounded_channel` carrying a
/// `oneshot` sender, answered by a server task; sequential calls after a warm-up.
pub async fn w7d_ask(c: Counts) -> Metrics {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    tokio::spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            let _ = reply.send(n + 1);
        }
    });
    let ask = |n: u64| {
        let (reply, answer) = oneshot::channel();
        tx.send((n, reply)).expect("send");
        answer
    };
    for i in 0..c.warmup {
        assert_eq!(ask(i).await, Ok(i + 1));
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.calls {
        let sent = Instant::now();
        let v = ask(i).await;
        lat.record_since(sent);
        assert_eq!(v, Ok(i + 1));
    }
    lat.metrics(start.elapsed())
}
