//! W14 dynamic supervision scale and W15 monitor churn (actor-core; the remote W15 variant
//! with actor-dist). ractor 0.16 has no dynamic supervisor, and its monitors are behind a
//! non-default feature, so neither workload has a ractor line.

use crate::{rss_bytes, Counts, Metrics};
use actor_core::supervisor::{DynamicSupervisor, DynamicSupervisorSpec};
use actor_core::{Actor, Context, ExitReason, Node, Pid};
use std::time::Instant;

/// A child that does nothing.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

/// W14: a dynamic supervisor starts `n` children one after another, each awaited, then every
/// child is terminated through the supervisor.
pub async fn w14_dynamic_supervision(n: usize) -> Metrics {
    let node = Node::new("w14@localhost");
    let sup = DynamicSupervisor::start(&node, DynamicSupervisorSpec::worker(|()| Idle))
        .await
        .expect("supervisor");
    let mut pids: Vec<Pid> = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let started = sup.start_child(()).await.expect("start_child");
        pids.push(started.pid().expect("a child, not ignored"));
    }
    let started = start.elapsed();
    let start = Instant::now();
    for pid in pids {
        sup.terminate_child(pid).await.expect("terminate_child");
    }
    let terminated = start.elapsed();
    assert_eq!(node.process_count(), 1, "only the supervisor is left");
    vec![
        ("start_per_child", started.as_secs_f64() * 1e6 / n as f64),
        (
            "terminate_per_child",
            terminated.as_secs_f64() * 1e6 / n as f64,
        ),
    ]
}

/// W15: monitors the target, then exits normally without demonitoring.
struct Watcher {
    target: Pid,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.target);
        ctx.stop(ExitReason::Normal);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

async fn churn(node: &Node, target: Pid, n: usize) {
    // A few hundred at a time: each watcher is spawned, monitors, exits; all awaited.
    const BATCH: usize = 256;
    let mut left = n;
    while left > 0 {
        let k = left.min(BATCH);
        let mut exits = Vec::with_capacity(k);
        for _ in 0..k {
            let (_w, exit) = node
                .spawn_monitor(Watcher { target })
                .await
                .expect("spawn watcher");
            exits.push(exit);
        }
        for e in exits {
            assert_eq!(e.await, ExitReason::Normal);
        }
        left -= k;
    }
}

fn held(before: u64, after: u64, n: usize, monitors: usize) -> Metrics {
    vec![
        (
            "held_per_watcher",
            after.saturating_sub(before) as f64 / n as f64,
        ),
        ("target_monitors_after", monitors as f64),
    ]
}

/// W15 (local): one long-lived target, `c.churn_watchers` short-lived watchers.
pub async fn w15_monitor_churn(c: Counts) -> Metrics {
    let node = Node::new("w15@localhost");
    let target = node.spawn(Idle).await.expect("target");
    // Warm the allocator so that its own growth is not counted as held memory.
    churn(&node, target.pid(), c.churn_watchers / 20).await;
    let before = rss_bytes();
    churn(&node, target.pid(), c.churn_watchers).await;
    let after = rss_bytes();
    held(
        before,
        after,
        c.churn_watchers,
        node.monitor_count(target.pid()),
    )
}

/// W15 (remote): the watchers on node A, the target on node B (two nodes of this process,
/// connected over loopback TCP), `c.churn_watchers / 10` watchers.
pub async fn w15_remote_monitor_churn(c: Counts) -> Metrics {
    use actor_dist::{Cookie, Dist, DistConfig};
    let cfg = || DistConfig::new(Cookie::new("w15").expect("cookie"));
    let a = Dist::start(&Node::new("w15a@127.0.0.1"), cfg())
        .await
        .expect("node a");
    let b = Dist::start(&Node::new("w15b@127.0.0.1"), cfg())
        .await
        .expect("node b");
    a.connect(b.name(), b.local_addr()).await.expect("connect");
    let target = b.node().spawn(Idle).await.expect("target");
    let n = c.churn_watchers / 10;
    churn(a.node(), target.pid(), n / 20).await;
    let before = rss_bytes();
    churn(a.node(), target.pid(), n).await;
    // An rpc to B travels the same ordered connection as the demonitors before it: when it
    // answers, B has applied them all.
    let node_b = b.node().clone();
    let target_pid = target.pid();
    b.register_rpc("w15_monitors", move |(): ()| {
        let n = node_b.monitor_count(target_pid);
        async move { n }
    });
    let monitors: usize = a
        .call(
            b.name(),
            "w15_monitors",
            &(),
            std::time::Duration::from_secs(30),
        )
        .await
        .expect("rpc");
    let after = rss_bytes();
    let t = a.tracked();
    assert_eq!(t.monitors_out, 0, "node A still tracks monitors: {t:?}");
    assert_eq!(
        b.tracked().monitors_in,
        monitors,
        "B tracks what the target holds"
    );
    held(before, after, n, monitors)
}
