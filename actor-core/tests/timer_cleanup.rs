//! Timers addressed to an actor are cancelled when it exits; intervals skip a full mailbox.
mod common;
use actor_core::{Actor, Context, ExitReason, Node, SpawnOpts};
use common::*;
use std::time::Duration;

struct Sleeper;

impl Actor for Sleeper {
    type Msg = u32;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.send_after(Duration::from_secs(1800), 1);
        ctx.send_interval(Duration::from_secs(600), || 2);
        Ok(())
    }
    async fn handle(&mut self, _: u32, _: &mut Context<Self>) {}
}

#[tokio::test]
async fn a_dead_actors_timers_are_cancelled_and_its_cell_freed_at_once() {
    let node = Node::new("tc@localhost");
    for _ in 0..100 {
        let (s, exit) = node.spawn_monitor(Sleeper).await.unwrap();
        let other = probe(&node).await;
        // A timer from outside, addressed to the sleeper, goes too.
        node.send_after(Duration::from_secs(3600), &s, 3);
        s.stop(ExitReason::Normal);
        drop(s);
        assert_eq!(exit.await, ExitReason::Normal);
        other.stop(ExitReason::Normal);
        node.wait_exit(other.pid()).await;
    }
    assert_eq!(node.pending_timers(), 0);
    // No reference of ours is left: the runtime freed every cell.
    assert_eq!(node.cells_alive(), 0);
}

#[tokio::test]
async fn a_killed_actors_timers_are_cancelled() {
    let node = Node::new("tc@localhost");
    let s = node.spawn(Sleeper).await.unwrap();
    assert_eq!(node.pending_timers(), 2);
    let exit = node.wait_exit(s.pid());
    node.exit(s.pid(), ExitReason::Kill);
    exit.await;
    assert_eq!(node.pending_timers(), 0);
}

#[tokio::test]
async fn a_timer_to_a_dead_actor_is_cancelled_at_once() {
    let node = Node::new("tc@localhost");
    let p = probe(&node).await;
    let exit = node.wait_exit(p.pid());
    p.stop(ExitReason::Normal);
    exit.await;
    let t = node.send_after(Duration::from_secs(60), &p, Cmd::Note(1));
    assert_eq!(node.pending_timers(), 0);
    assert_eq!(node.cancel_timer(t), None);
}

#[tokio::test]
async fn fired_and_cancelled_timers_are_forgotten_by_their_target() {
    let node = Node::new("tc@localhost");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let p = node.spawn(Probe::with_events(tx)).await.unwrap();
    for i in 0..1_000 {
        node.send_after(Duration::ZERO, &p, Cmd::Note(i));
        let t = node.send_after(Duration::from_secs(60), &p, Cmd::Note(i));
        assert!(node.cancel_timer(t).is_some());
    }
    for _ in 0..1_000 {
        rx.recv().await.unwrap();
    }
    assert_eq!(node.pending_timers(), 0);
}

/// Blocks on its first message until told to go on, so its bounded mailbox fills.
struct Slow {
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
    seen: tokio::sync::mpsc::UnboundedSender<u32>,
}

impl Actor for Slow {
    type Msg = u32;
    async fn handle(&mut self, n: u32, _: &mut Context<Self>) {
        if let Some(g) = self.gate.take() {
            let _ = g.await;
        }
        let _ = self.seen.send(n);
    }
}

#[tokio::test(start_paused = true)]
async fn an_interval_skips_ticks_while_the_mailbox_is_full_and_carries_on() {
    let node = Node::new("tc@localhost");
    let (go, gate) = tokio::sync::oneshot::channel();
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let slow = node
        .spawn_opts(
            Slow {
                gate: Some(gate),
                seen,
            },
            SpawnOpts::bounded(1),
        )
        .await
        .unwrap();
    let mut n = 0;
    node.send_interval(Duration::from_millis(10), &slow, move || {
        n += 1;
        n
    });
    // 1 is being handled (blocked), 2 fills the mailbox, later ticks find it full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        node.pending_timers(),
        1,
        "a full mailbox does not stop the interval"
    );
    go.send(()).unwrap();
    assert_eq!(seen_rx.recv().await, Some(1));
    assert_eq!(seen_rx.recv().await, Some(2));
    // Ticks 3..=10 were skipped; the interval goes on.
    let next = seen_rx.recv().await.unwrap();
    assert!(next > 10, "tick {next} should have been skipped");
    let exit = node.wait_exit(slow.pid());
    slow.stop(ExitReason::Normal);
    exit.await;
    assert_eq!(node.pending_timers(), 0, "stops when the target is gone");
}
