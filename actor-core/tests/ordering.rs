//! Per-pair ordering: messages from one sender arrive in the order sent, and a trapped exit
//! arrives after the messages its sender sent before exiting.
mod common;
use actor_core::{Actor, ActorRef, Context, ExitReason, Node, SpawnOpts};
use common::*;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_one_sender_arrive_in_order() {
    let node = Node::new("order@localhost");
    let sink = probe(&node).await;
    // Several concurrent senders; each one's own sequence must stay ordered.
    let mut tasks = Vec::new();
    for s in 0..4u64 {
        let sink = sink.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000u64 {
                sink.tell(Cmd::Note(s << 32 | i)).unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = log(&sink).await;
    assert_eq!(log.len(), 40_000);
    let mut next = [0u64; 4];
    for e in log {
        let Event::Msg(n) = e else {
            panic!("unexpected {e:?}")
        };
        let (s, i) = ((n >> 32) as usize, n & 0xffff_ffff);
        assert_eq!(i, next[s], "sender {s} out of order");
        next[s] += 1;
    }
}

/// Sends `n` notes to `to`, then exits abnormally.
struct Sender {
    to: ActorRef<Cmd>,
    n: u64,
}
impl Actor for Sender {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.link(self.to.pid()).unwrap();
        Ok(())
    }
    async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        for i in 0..self.n {
            self.to.tell(Cmd::Note(i)).unwrap();
        }
        ctx.stop(ExitReason::error("done"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapped_exit_arrives_after_the_senders_earlier_messages() {
    let node = Node::new("order@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink = trapping_probe(&node, tx).await;
    let sender = node
        .spawn_opts(
            Sender {
                to: sink.clone(),
                n: 1000,
            },
            SpawnOpts::default(),
        )
        .await
        .unwrap();
    sender.tell(()).unwrap();
    for i in 0..1000 {
        assert_eq!(rx.recv().await.unwrap().1, Event::Msg(i));
    }
    assert_eq!(
        rx.recv().await.unwrap().1,
        Event::Exit(sender.pid(), ExitReason::error("done"))
    );
}
