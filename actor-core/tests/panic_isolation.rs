//! A panic in a handler is that actor's exit reason; everything else keeps running.
mod common;
use actor_core::{Actor, Context, ExitReason, Node, SpawnError};
use common::*;

#[tokio::test]
async fn panic_becomes_the_exit_reason_and_nothing_else_is_disturbed() {
    let node = Node::new("panic@localhost");
    let bystanders: Vec<_> = futures_join(&node, 10).await;
    let victim = probe(&node).await;
    let w = node.wait_exit(victim.pid());
    victim.tell(Cmd::Panic("handler bug".into())).unwrap();
    assert_eq!(w.await, ExitReason::Panic("handler bug".into()));
    for b in &bystanders {
        b.call(Cmd::Ping, T).await.unwrap();
    }
    // The node still spawns.
    let fresh = probe(&node).await;
    fresh.call(Cmd::Ping, T).await.unwrap();
}

async fn futures_join(node: &Node, n: usize) -> Vec<actor_core::ActorRef<Cmd>> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(probe(node).await);
    }
    v
}

struct FailsToStart(bool);
impl Actor for FailsToStart {
    type Msg = ();
    async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        if self.0 {
            panic!("init panic");
        }
        Err(ExitReason::error("no config"))
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

#[tokio::test]
async fn failing_or_panicking_start_is_a_spawn_error() {
    let node = Node::new("panic@localhost");
    assert_eq!(
        node.spawn(FailsToStart(false)).await.unwrap_err(),
        SpawnError::Init(ExitReason::error("no config"))
    );
    assert_eq!(
        node.spawn(FailsToStart(true)).await.unwrap_err(),
        SpawnError::Init(ExitReason::Panic("init panic".into()))
    );
    assert_eq!(node.process_count(), 0);
}
