//! A killed actor's pending callers get its reason at once: requests queued in the mailbox,
//! in the batch being processed, or parked by a handler; never `NoReply`, never a timeout.
mod common;
use actor_core::{Actor, CallError, Context, ExitReason, Node, ReplyTo};
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// Parks every request; `Hold` blocks the actor until its gate opens.
struct Parker {
    parked: Vec<ReplyTo<u64>>,
}

enum PMsg {
    Park(ReplyTo<u64>),
    Hold(
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
    ),
    Ask(ReplyTo<u64>),
}

impl Actor for Parker {
    type Msg = PMsg;
    async fn handle(&mut self, msg: PMsg, _: &mut Context<Self>) {
        match msg {
            PMsg::Park(r) => self.parked.push(r),
            PMsg::Hold(gate, entered) => {
                let _ = entered.send(());
                let _ = gate.await;
            }
            PMsg::Ask(r) => {
                r.send(1);
            }
        }
    }
}

async fn case(reason: ExitReason, expect: ExitReason) {
    let node = Node::new("kc@localhost");
    let p = node.spawn(Parker { parked: Vec::new() }).await.unwrap();
    // Parked by a handler.
    let parked: Vec<_> = (0..3)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.call(PMsg::Park, LONG).await })
        })
        .collect();
    // Wait until all three are parked (a call orders after them).
    while p.backlog() > 0 {
        tokio::task::yield_now().await;
    }
    // Held in a handler; what comes next waits in the mailbox, then in the batch.
    let (_gate, gate_rx) = tokio::sync::oneshot::channel::<()>();
    let (entered_tx, entered) = tokio::sync::oneshot::channel();
    p.tell(PMsg::Hold(gate_rx, entered_tx)).unwrap();
    entered.await.unwrap();
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.call(PMsg::Ask, LONG).await })
        })
        .collect();
    while p.backlog() < 5 {
        tokio::task::yield_now().await;
    }
    let start = tokio::time::Instant::now();
    node.exit(p.pid(), reason);
    for c in parked.into_iter().chain(queued) {
        assert_eq!(c.await.unwrap(), Err(CallError::Exit(expect.clone())));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn kill_fails_queued_batched_and_parked_calls_with_killed() {
    case(ExitReason::Kill, ExitReason::Killed).await;
}

#[tokio::test]
async fn an_untrapped_exit_fails_them_with_its_reason() {
    case(ExitReason::error("boom"), ExitReason::error("boom")).await;
}

/// The calls sit in the batch the actor swapped out of its mailbox: queued before it first
/// ran, behind a message that blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_the_batch_being_processed_get_the_reason() {
    for _ in 0..50 {
        let node = Node::new("kc@localhost");
        let p = node.spawn(Parker { parked: Vec::new() }).await.unwrap();
        let (_gate, gate_rx) = tokio::sync::oneshot::channel::<()>();
        let (entered_tx, entered) = tokio::sync::oneshot::channel();
        let (tx, rx) = ReplyTo::<u64>::pair();
        let (tx2, rx2) = ReplyTo::<u64>::pair();
        p.tell(PMsg::Hold(gate_rx, entered_tx)).unwrap();
        p.tell(PMsg::Ask(tx)).unwrap();
        p.tell(PMsg::Park(tx2)).unwrap();
        entered.await.unwrap();
        node.exit(p.pid(), ExitReason::Kill);
        assert_eq!(rx.await.unwrap(), Err(ExitReason::Killed));
        assert_eq!(rx2.await.unwrap(), Err(ExitReason::Killed));
    }
}

#[tokio::test]
async fn a_normal_stop_fails_parked_calls_with_the_stop_reason() {
    let node = Node::new("kc@localhost");
    let p = probe(&node).await;
    let call = tokio::spawn({
        let p = p.clone();
        async move { p.call(Cmd::Swallow, LONG).await }
    });
    p.call(Cmd::Ping, T).await.unwrap();
    p.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    assert_eq!(
        call.await.unwrap(),
        Err(CallError::Exit(ExitReason::Normal))
    );
}
