//! Raw tokio references (peer `raw-tokio`): the floor under any actor mailbox.

use crate::{rate, Counts, Metrics};
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
