//! Heartbeats: a blackholed link (open but silent) is detected within about one tick time;
//! pending calls fail at once; the node reconnects to its seed after the heal.
mod common;
use actor_core::CallError;
use actor_dist::{DistConfig, DownReason, NodeEvent};
use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_link_gives_net_tick_timeout_then_reconnects_after_heal() {
    let tick = Duration::from_millis(800);
    let b = start_with("b@127.0.0.1", DistConfig::new(cookie()).tick_time(tick)).await;
    let proxy = Proxy::start(b.local_addr()).await;
    let mut cfg = DistConfig::new(cookie())
        .tick_time(tick)
        .seed("b@127.0.0.1", proxy.addr);
    cfg.setup_timeout = Duration::from_millis(500);
    cfg.backoff = (Duration::from_millis(50), Duration::from_millis(200));
    let mut events_a = {
        // Subscribe as soon as the node starts (the seed may connect first).
        let node = actor_core::Node::new("a@127.0.0.1");
        let a = actor_dist::Dist::start(&node, cfg).await.unwrap();
        a.register::<Cmd>();
        let ev = a.subscribe();
        A.with(|x| *x.borrow_mut() = Some(a));
        ev
    };
    let a = A.with(|x| x.borrow().clone().unwrap());
    // The seed may already be up by the time we subscribed.
    if a.nodes().is_empty() {
        wait_event(&mut events_a, |e| matches!(e, NodeEvent::Up(_))).await;
    }

    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    let pending = tokio::spawn({
        let remote = remote.clone();
        async move {
            let r = remote.call(Cmd::Swallow, Duration::from_secs(60)).await;
            (r, Instant::now())
        }
    });
    until_swallowed(&remote).await;

    let cut = Instant::now();
    proxy.blackhole();
    let ev = wait_event(&mut events_a, |e| matches!(e, NodeEvent::Down { .. })).await;
    let detected = cut.elapsed();
    assert_eq!(
        ev,
        NodeEvent::Down {
            node: "b@127.0.0.1".into(),
            reason: DownReason::NetTickTimeout
        }
    );
    assert!(detected >= tick / 2, "not before silence: {detected:?}");
    assert!(
        detected <= tick * 2,
        "within about one tick (1.25 x plus scheduling): {detected:?}"
    );
    let (res, failed_at) = pending.await.unwrap();
    assert_eq!(res, Err(CallError::NodeDown("b@127.0.0.1".into())));
    assert!(failed_at.duration_since(cut) <= detected + Duration::from_millis(100));

    proxy.heal();
    wait_event(&mut events_a, |e| matches!(e, NodeEvent::Up(_))).await;
    assert_eq!(
        remote.call(|r| Cmd::Echo(5, r), T).await,
        Ok(6),
        "works again after the heal"
    );
}

thread_local! {
    static A: std::cell::RefCell<Option<actor_dist::Dist>> = const { std::cell::RefCell::new(None) };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_connection_closed_and_the_seed_reconnects() {
    let b = start("b@127.0.0.1").await;
    let proxy = Proxy::start(b.local_addr()).await;
    let mut cfg = DistConfig::new(cookie()).seed("b@127.0.0.1", proxy.addr);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(100));
    let node = actor_core::Node::new("a@127.0.0.1");
    let a = actor_dist::Dist::start(&node, cfg).await.unwrap();
    let mut events = a.subscribe();
    // The seed may already be up by the time we subscribe.
    if a.nodes().is_empty() {
        wait_event(&mut events, |e| matches!(e, NodeEvent::Up(_))).await;
    }
    proxy.cut();
    let ev = wait_event(&mut events, |e| matches!(e, NodeEvent::Down { .. })).await;
    assert_eq!(
        ev,
        NodeEvent::Down {
            node: "b@127.0.0.1".into(),
            reason: DownReason::ConnectionClosed
        }
    );
    wait_event(&mut events, |e| matches!(e, NodeEvent::Up(_))).await;
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
}
