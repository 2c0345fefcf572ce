//! Raw tokio references (peer `raw-tokio`): the floor under any actor mailbox.

use crate::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// W1's floor: what any runtime on tokio pays at least per actor. Each "actor" is a bare
/// task waiting on a oneshot channel (its one-message mailbox); the driver keeps the sender
/// and the join handle (a way to reach the task and to await its end), sends on each
/// channel, then awaits every handle. No start-up to await: the task exists once spawned.
pub async fn w1_spawn(c: Counts) -> Metrics {
    let mut live = Vec::with_capacity(c.spawns);
    let rss_before = rss_bytes();
    let start = Instant::now();
    for _ in 0..c.spawns {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = rx.await;
        });
        live.push((tx, task));
    }
    let spawn_phase = start.elapsed();
    let rss_alive = rss_bytes();
    let mut tasks = Vec::with_capacity(c.spawns);
    for (tx, task) in live {
        let _ = tx.send(());
        tasks.push(task);
    }
    for task in tasks {
        task.await.expect("task");
    }
    let total = start.elapsed();
    spawn_metrics(c.spawns, spawn_phase, total, rss_before, rss_alive)
}

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
