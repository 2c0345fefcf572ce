//! Shutdown policies: brutal_kill, timeout (shutdown, then kill) and infinity.
mod common;
use actor_core::supervisor::{ChildSpec, Shutdown, Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

async fn terminate(w: Worker, policy: Shutdown) -> (ExitReason, Duration, Vec<Ev>) {
    let node = Node::new("shut@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = Worker { tx, ..w };
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(ChildSpec::worker("w", move || w.clone()).shutdown(policy));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    assert_eq!(next(&mut rx).await, started("w"));
    let pid = pid_of(&sup, "w").await.unwrap();
    let exited = node.wait_exit(pid);
    let t0 = Instant::now();
    sup.terminate_child("w").await.unwrap();
    let took = t0.elapsed();
    let reason = exited.await;
    let mut evs = Vec::new();
    while let Ok(e) = rx.try_recv() {
        evs.push(e);
    }
    assert_eq!(pid_of(&sup, "w").await, None, "spec kept, not running");
    (reason, took, evs)
}

fn w(trap: bool, stop_delay: Duration) -> Worker {
    let (tx, _) = mpsc::unbounded_channel();
    Worker {
        name: "w".into(),
        tx,
        trap,
        stop_delay,
    }
}

#[tokio::test]
async fn brutal_kill_skips_the_stopped_hook() {
    let (reason, _, evs) = terminate(w(true, Duration::ZERO), Shutdown::BrutalKill).await;
    assert_eq!(reason, ExitReason::Killed);
    assert!(evs.is_empty());
}

#[tokio::test(start_paused = true)]
async fn timeout_lets_a_trapping_child_stop_cleanly() {
    let (reason, took, evs) = terminate(
        w(true, Duration::from_millis(50)),
        Shutdown::Timeout(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(evs, vec![stopped("w", ExitReason::Shutdown)]);
    assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn timeout_kills_a_child_that_does_not_stop_in_time() {
    let (reason, took, evs) = terminate(
        w(true, Duration::from_secs(3600)),
        Shutdown::Timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(reason, ExitReason::Killed);
    assert!(evs.is_empty(), "its stopped hook was cut short");
    assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(3600));
}

#[tokio::test(start_paused = true)]
async fn infinity_waits_as_long_as_the_child_takes() {
    let (reason, took, evs) =
        terminate(w(true, Duration::from_secs(600)), Shutdown::Infinity).await;
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(evs, vec![stopped("w", ExitReason::Shutdown)]);
    assert!(took >= Duration::from_secs(600));
}

#[tokio::test]
async fn a_child_not_trapping_exits_ends_at_once_on_shutdown() {
    let (reason, _, evs) = terminate(
        w(false, Duration::ZERO),
        Shutdown::Timeout(Duration::from_secs(5)),
    )
    .await;
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(
        evs.is_empty(),
        "no stopped hook without trap_exit, as in OTP"
    );
}
