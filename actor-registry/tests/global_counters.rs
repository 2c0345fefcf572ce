//! Counters in the global scope: an aggregated counter is the sum of the counters of its key
//! on every node, and stays exact while they are updated concurrently.
mod common;
use actor_registry::{Key, Kind, Value};
use common::cluster::{cluster, eventually};
use common::spawn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_counters_sum_every_node_under_concurrent_updates() {
    let ms = cluster(3).await;
    let holder = spawn(ms[2].node()).await;
    ms[2]
        .global
        .register(Kind::AggregatedCounter, "hits", holder.pid(), ())
        .unwrap();
    let mut tasks = Vec::new();
    for m in &ms {
        for _ in 0..4 {
            let w = spawn(m.node()).await;
            m.global
                .register(Kind::Counter, "hits", w.pid(), 0)
                .unwrap();
            let g = m.global.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..500 {
                    g.update_counter("hits", w.pid(), 1).unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                w
            }));
        }
    }
    let mut workers = Vec::new();
    for t in tasks {
        workers.push(t.await.unwrap());
    }
    let key = Key::from("hits");
    for m in &ms {
        eventually(|| m.global.lookup_value(Kind::AggregatedCounter, &key) == Ok(Value::Int(6000)))
            .await;
        assert_eq!(m.global.lookup_values(Kind::Counter, &key).len(), 12);
    }
    // Workers on node 0 go: their counts leave the sum everywhere.
    for w in &workers[..4] {
        w.stop(actor_core::ExitReason::Normal);
    }
    for m in &ms {
        eventually(|| m.global.lookup_value(Kind::AggregatedCounter, &key) == Ok(Value::Int(4000)))
            .await;
    }
}
