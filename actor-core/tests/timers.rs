//! Timers: send_after, cancel, intervals; one per actor stays cheap.
mod common;
use actor_core::{Actor, Context, Node};
use common::*;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test(start_paused = true)]
async fn send_after_fires_in_deadline_order_and_cancel_prevents_it() {
    let node = Node::new("timers@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let p = node.spawn(Probe::with_events(tx)).await.unwrap();
    node.send_after(Duration::from_millis(300), &p, Cmd::Note(3));
    node.send_after(Duration::from_millis(100), &p, Cmd::Note(1));
    let cancelled = node.send_after(Duration::from_millis(200), &p, Cmd::Note(2));
    let left = node.cancel_timer(cancelled).expect("still pending");
    assert!(left <= Duration::from_millis(200));
    let start = tokio::time::Instant::now();
    assert_eq!(rx.recv().await.unwrap().1, Event::Msg(1));
    assert_eq!(rx.recv().await.unwrap().1, Event::Msg(3));
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        node.cancel_timer(cancelled),
        None,
        "cancelling twice reports nothing left"
    );
    assert_eq!(node.pending_timers(), 0);
}

struct Ticker {
    ticks: u32,
    tx: mpsc::UnboundedSender<u32>,
}
impl Actor for Ticker {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), actor_core::ExitReason> {
        ctx.send_interval(Duration::from_secs(1), || ());
        Ok(())
    }
    async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        self.ticks += 1;
        let _ = self.tx.send(self.ticks);
        if self.ticks == 3 {
            ctx.stop(actor_core::ExitReason::Normal);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn interval_ticks_until_the_actor_exits() {
    let node = Node::new("timers@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t = node.spawn(Ticker { ticks: 0, tx }).await.unwrap();
    let start = tokio::time::Instant::now();
    for i in 1..=3 {
        assert_eq!(rx.recv().await, Some(i));
    }
    assert!(start.elapsed() >= Duration::from_secs(3));
    node.wait_exit(t.pid()).await;
    // The next tick finds the actor gone and the interval ends.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(node.pending_timers(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelled_interval_stops() {
    let node = Node::new("timers@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let p = node.spawn(Probe::with_events(tx)).await.unwrap();
    let t = node.send_interval(Duration::from_millis(10), &p, || Cmd::Note(7));
    assert_eq!(rx.recv().await.unwrap().1, Event::Msg(7));
    assert_eq!(rx.recv().await.unwrap().1, Event::Msg(7));
    assert!(node.cancel_timer(t).is_some());
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.call(Cmd::Ping, T).await.unwrap();
    while rx.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_timer_per_actor_for_ten_thousand_actors() {
    let node = Node::new("timers@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut probes = Vec::new();
    for _ in 0..10_000 {
        probes.push(node.spawn(Probe::with_events(tx.clone())).await.unwrap());
    }
    for (i, p) in probes.iter().enumerate() {
        node.send_after(
            Duration::from_millis(1 + (i % 50) as u64),
            p,
            Cmd::Note(i as u64),
        );
    }
    let mut got = 0;
    while got < 10_000 {
        rx.recv().await.unwrap();
        got += 1;
    }
    assert_eq!(node.pending_timers(), 0);
}
