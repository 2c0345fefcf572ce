//! rpc: call, cast, multicall with bad nodes, async_call with yield / nb_yield, typed errors;
//! a panicking function leaves the node running.
mod common;
use actor_dist::{Dist, RpcError};
use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn register(d: &Dist, counter: Arc<AtomicU64>, cast_seen: tokio::sync::mpsc::UnboundedSender<u64>) {
    d.register_rpc("note", move |n: u64| {
        let tx = cast_seen.clone();
        async move {
            let _ = tx.send(n);
        }
    });
    d.register_rpc("add", |(x, y): (u64, u64)| async move { x + y });
    d.register_rpc("boom", |(): ()| async move {
        panic!("rpc exploded");
        #[allow(unreachable_code)]
        0u64
    });
    d.register_rpc("slow", |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    });
    d.register_rpc("bump", move |n: u64| {
        let c = counter.clone();
        async move { c.fetch_add(n, Ordering::SeqCst) }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_call_cast_multicall_and_async_call() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let c = start("c@127.0.0.1").await;
    let counter = Arc::new(AtomicU64::new(0));
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    register(&b, counter.clone(), seen_tx.clone());
    register(&c, counter.clone(), seen_tx);
    connect(&a, &b).await;
    connect(&a, &c).await;

    assert_eq!(
        a.call::<_, u64>(b.name(), "add", &(2u64, 3u64), T).await,
        Ok(5)
    );
    assert_eq!(
        a.call::<_, u64>(b.name(), "nope", &(), T).await,
        Err(RpcError::NoSuchFunction("nope".into()))
    );
    // postcard is not self-describing: empty bytes cannot be a (u64, u64).
    assert!(matches!(
        a.call::<_, u64>(b.name(), "add", &(), T).await,
        Err(RpcError::Decode(_))
    ));
    assert_eq!(
        a.call::<_, u64>(b.name(), "boom", &(), T).await,
        Err(RpcError::RemotePanic("rpc exploded".into()))
    );
    assert_eq!(
        a.call::<_, u64>(b.name(), "add", &(1u64, 1u64), T).await,
        Ok(2),
        "b survived the panic"
    );
    assert_eq!(
        a.call::<_, u64>(b.name(), "slow", &500u64, Duration::from_millis(50))
            .await,
        Err(RpcError::Timeout)
    );

    // A cast runs on b without an answer; each rpc runs in its own task (as in OTP), so
    // the test observes its effect rather than assuming an order.
    assert!(a.cast(b.name(), "note", &10u64).await);
    assert_eq!(
        tokio::time::timeout(T, seen.recv()).await.unwrap(),
        Some(10)
    );
    assert_eq!(a.call::<_, u64>(b.name(), "bump", &3u64, T).await, Ok(0));
    assert_eq!(counter.load(Ordering::SeqCst), 3);

    let nodes = vec![
        b.name().to_string(),
        c.name().to_string(),
        "down@127.0.0.1".to_string(),
    ];
    let m = a
        .multicall::<_, u64>(&nodes, "add", &(20u64, 22u64), Duration::from_secs(2))
        .await;
    assert_eq!(
        m.results,
        vec![
            (b.name().to_string(), Ok(42)),
            (c.name().to_string(), Ok(42))
        ]
    );
    assert_eq!(m.bad_nodes, vec!["down@127.0.0.1".to_string()]);

    let mut h = a.async_call::<_, u64>(b.name(), "slow", &300u64, T);
    assert_eq!(
        h.nb_yield(Duration::from_millis(10)).await,
        None,
        "not ready yet"
    );
    assert_eq!(h.nb_yield(Duration::from_secs(5)).await, Some(Ok(300)));
    let h = a.async_call::<_, u64>(c.name(), "add", &(1u64, 2u64), T);
    assert_eq!(h.yield_().await, Ok(3));
}
