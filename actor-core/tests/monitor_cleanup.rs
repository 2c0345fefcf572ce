//! Monitors held by an actor are removed from their targets when it exits: a long-lived
//! target watched by many short-lived actors holds nothing afterwards.
mod common;
use actor_core::{Actor, Context, Down, ExitReason, Node, Pid};
use common::*;

/// Monitors `target` in `started`, then stops at once without demonitoring.
struct Watcher {
    target: Pid,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.target);
        ctx.monitor(self.target);
        ctx.stop(ExitReason::Normal);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

#[tokio::test]
async fn short_lived_watchers_leave_nothing_on_the_target() {
    let node = Node::new("mc@localhost");
    let target = probe(&node).await;
    for _ in 0..2_000 {
        let (_w, exit) = node
            .spawn_monitor(Watcher {
                target: target.pid(),
            })
            .await
            .unwrap();
        assert_eq!(exit.await, ExitReason::Normal);
    }
    assert_eq!(node.monitor_count(target.pid()), 0);
    assert_eq!(node.process_count(), 1);
    assert_eq!(node.cells_alive(), 1, "only the target's cell is left");
}

#[tokio::test]
async fn a_killed_watcher_also_removes_its_monitors() {
    let node = Node::new("mc@localhost");
    let target = probe(&node).await;
    let watchers: Vec<_> = futures_join(&node, 100).await;
    for w in &watchers {
        monitor(w, target.pid()).await;
        monitor(w, target.pid()).await;
    }
    assert_eq!(node.monitor_count(target.pid()), 200);
    for w in &watchers {
        let exit = node.wait_exit(w.pid());
        node.exit(w.pid(), ExitReason::Kill);
        assert_eq!(exit.await, ExitReason::Killed);
    }
    assert_eq!(node.monitor_count(target.pid()), 0);
}

async fn futures_join(node: &Node, n: usize) -> Vec<actor_core::ActorRef<Cmd>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(probe(node).await);
    }
    v
}

/// A watcher that monitors the target, then reports the `Down` it gets.
struct Reporter {
    target: Pid,
    tx: tokio::sync::mpsc::UnboundedSender<Down>,
}

impl Actor for Reporter {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.target);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_down(&mut self, down: Down, _: &mut Context<Self>) {
        let _ = self.tx.send(down);
    }
}

#[tokio::test]
async fn a_fired_monitor_is_forgotten_by_the_watcher_and_still_delivered() {
    let node = Node::new("mc@localhost");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let target = probe(&node).await;
    let _r = node
        .spawn(Reporter {
            target: target.pid(),
            tx,
        })
        .await
        .unwrap();
    target.tell(Cmd::Stop(ExitReason::error("bye"))).unwrap();
    let down = rx.recv().await.unwrap();
    assert_eq!(down.pid, target.pid());
    assert_eq!(down.reason, ExitReason::error("bye"));
}
