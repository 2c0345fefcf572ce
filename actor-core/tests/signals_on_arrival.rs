//! Signals act on arrival: `kill` and untrapped exits end an actor at once, even with a large
//! backlog queued; a `stop` request waits its turn.
mod common;
use actor_core::{Actor, Context, ExitReason, Node};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Slow {
    seen: Arc<AtomicU64>,
}
impl Actor for Slow {
    type Msg = u64;
    async fn handle(&mut self, _: u64, _: &mut Context<Self>) {
        self.seen.fetch_add(1, Ordering::Relaxed);
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_an_actor_with_a_million_queued_messages() {
    let node = Node::new("sig@localhost");
    let seen = Arc::new(AtomicU64::new(0));
    let a = node.spawn(Slow { seen: seen.clone() }).await.unwrap();
    for i in 0..1_000_000 {
        a.tell(i).unwrap();
    }
    let w = node.wait_exit(a.pid());
    node.exit(a.pid(), ExitReason::Kill);
    let reason = tokio::time::timeout(Duration::from_secs(5), w)
        .await
        .expect("kill acts at once");
    assert_eq!(reason, ExitReason::Killed);
    assert!(
        seen.load(Ordering::Relaxed) < 1_000_000,
        "it did not drain the mailbox first"
    );
    assert!(a.tell(1).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrapped_exit_signal_ends_actor_mid_backlog() {
    let node = Node::new("sig@localhost");
    let seen = Arc::new(AtomicU64::new(0));
    let a = node.spawn(Slow { seen: seen.clone() }).await.unwrap();
    for i in 0..1_000_000 {
        a.tell(i).unwrap();
    }
    let w = node.wait_exit(a.pid());
    node.exit(a.pid(), ExitReason::Shutdown);
    assert_eq!(w.await, ExitReason::Shutdown);
    assert!(seen.load(Ordering::Relaxed) < 1_000_000);
}

#[tokio::test]
async fn stop_request_runs_after_queued_messages() {
    let node = Node::new("sig@localhost");
    let seen = Arc::new(AtomicU64::new(0));
    let a = node.spawn(Slow { seen: seen.clone() }).await.unwrap();
    for i in 0..1000 {
        a.tell(i).unwrap();
    }
    let w = node.wait_exit(a.pid());
    assert!(a.stop(ExitReason::Normal));
    assert_eq!(w.await, ExitReason::Normal);
    assert_eq!(seen.load(Ordering::Relaxed), 1000);
}
