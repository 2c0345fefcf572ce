//! No exit signal is lost in a race: linking to an actor that exits during the link call, and
//! spawning linked to (or monitored by) an actor that exits at that moment, always deliver
//! the exit or `noproc`. Each window is hammered many times on a multi-thread runtime.
mod common;
use actor_core::{Actor, Context, Down, ExitReason, LinkError, Node, Pid, SpawnError, SpawnOpts};
use common::*;
use tokio::sync::mpsc;

const ROUNDS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_to_an_exiting_actor_always_gets_the_exit_or_noproc() {
    let node = Node::new("race@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let a = trapping_probe(&node, tx).await;
    let (mut exits, mut noprocs) = (0, 0);
    for _ in 0..ROUNDS {
        let b = probe(&node).await;
        // B stops on another worker while A links to it.
        let stopper = tokio::spawn({
            let b = b.clone();
            async move { b.tell(Cmd::Stop(ExitReason::error("gone"))) }
        });
        let res = link(&a, b.pid()).await;
        stopper.await.unwrap().unwrap();
        match res {
            Ok(()) => {
                // Linked in time: the exit must arrive.
                let (_, ev) = rx.recv().await.unwrap();
                assert_eq!(ev, Event::Exit(b.pid(), ExitReason::error("gone")));
                exits += 1;
            }
            Err(LinkError::NoProc(p)) => {
                assert_eq!(p, b.pid());
                noprocs += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
        assert_eq!(
            node.link_count(a.pid()),
            0,
            "no link to a dead actor is left"
        );
    }
    assert_eq!(exits + noprocs, ROUNDS);
    assert!(rx.try_recv().is_err(), "no duplicate exits");
}

/// Does nothing; reports a trapped exit.
struct Child {
    tx: mpsc::UnboundedSender<(Pid, ExitReason)>,
}

impl Actor for Child {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, _: &mut Context<Self>) {
        let _ = self.tx.send((from, reason));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_linked_to_an_exiting_actor_always_gets_the_exit_or_noproc() {
    let node = Node::new("race@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (mut exits, mut noprocs, mut died) = (0, 0, 0);
    for i in 0..ROUNDS {
        let other = probe(&node).await;
        let trap = i % 2 == 0;
        let killer = tokio::spawn({
            let other = other.clone();
            async move { other.tell(Cmd::Stop(ExitReason::error("gone"))) }
        });
        let opts = SpawnOpts {
            link: Some(other.pid()),
            trap_exit: trap,
            ..SpawnOpts::default()
        };
        let res = node
            .spawn_monitor_opts(Child { tx: tx.clone() }, opts)
            .await;
        killer.await.unwrap().unwrap();
        match res {
            Ok((child, _)) if trap => {
                assert_eq!(
                    rx.recv().await.unwrap(),
                    (other.pid(), ExitReason::error("gone"))
                );
                child.stop(ExitReason::Normal);
                exits += 1;
            }
            Ok((_, exit)) => {
                // Not trapping: the abnormal exit takes the child down with it.
                assert_eq!(exit.await, ExitReason::error("gone"));
                died += 1;
            }
            // The exit arrived while `started` ran: the spawn fails with its reason.
            Err(SpawnError::Init(r)) => {
                assert_eq!(r, ExitReason::error("gone"));
                died += 1;
            }
            Err(SpawnError::LinkNoProc(p)) => {
                assert_eq!(p, other.pid());
                noprocs += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(exits + noprocs + died, ROUNDS);
}

/// Spawns a monitored child that exits at once, and reports the `Down`.
struct Parent {
    tx: mpsc::UnboundedSender<Down>,
}

/// Stops in `started`'s wake: its first message.
struct Brief;

impl Actor for Brief {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.myself().tell(()).unwrap();
        Ok(())
    }
    async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::error("brief"));
    }
}

impl Actor for Parent {
    type Msg = ();
    async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        let (child, mref) = ctx.spawn_monitor(Brief).await.unwrap();
        let _ = (child, mref);
    }
    async fn handle_down(&mut self, down: Down, _: &mut Context<Self>) {
        let _ = self.tx.send(down);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_monitor_of_an_actor_that_exits_at_once_always_gets_the_down() {
    let node = Node::new("race@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let parent = node.spawn(Parent { tx }).await.unwrap();
    for _ in 0..ROUNDS {
        parent.tell(()).unwrap();
    }
    for _ in 0..ROUNDS {
        let down = rx.recv().await.unwrap();
        assert_eq!(down.reason, ExitReason::error("brief"));
    }
    assert_eq!(node.process_count(), 1);
    // And from outside any actor.
    for _ in 0..ROUNDS {
        let (_b, exit) = node.spawn_monitor(Brief).await.unwrap();
        assert_eq!(exit.await, ExitReason::error("brief"));
    }
}
