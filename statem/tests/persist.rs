//! The persistence hook: replies wait until the transition is durable; a transition that
//! cannot be made durable stops the machine and its callers see why, unless the hook undoes
//! it: then the machine runs on in the state before, its callers see why.

use actor_core::{CallError, ExitReason, Node};
use futures::future::BoxFuture;
use statem::{Ctx, Event, Observed, Persist, StateMachine, Statem, StatemRef, Transition};
use std::time::Duration;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

/// Counts calls; the state is the count's parity.
struct Tally(u32);

impl StateMachine for Tally {
    type State = bool;
    type Call = ();
    type Reply = u32;
    type Msg = ();
    type Timer = ();

    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> {
        Ok(false)
    }

    async fn handle_event(
        &mut self,
        odd: &bool,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match ev {
            Event::Call((), from) => {
                self.0 += 1;
                ctx.reply(from, self.0);
                Transition::NextState(!odd)
            }
            _ => Transition::KeepState,
        }
    }
}

/// A hook that reports each transition and waits for a verdict on a channel.
struct Gate {
    seen: mpsc::UnboundedSender<(bool, bool, u32)>,
    verdicts: mpsc::UnboundedReceiver<Result<(), ExitReason>>,
    /// The count of the machine that `undo` gives back (`None`: no undo).
    undo_to: Option<u32>,
}

impl Persist<Tally> for Gate {
    fn persist<'a>(
        &'a mut self,
        m: &'a Tally,
        t: &'a Observed<'a, Tally>,
    ) -> BoxFuture<'a, Result<(), ExitReason>> {
        let _ = self.seen.send((*t.from, *t.to, m.0));
        Box::pin(async move { self.verdicts.recv().await.unwrap_or(Ok(())) })
    }

    fn undo(&mut self, _: &ExitReason) -> Option<Tally> {
        self.undo_to.map(Tally)
    }
}

async fn start() -> (
    Node,
    StatemRef<Tally>,
    mpsc::UnboundedReceiver<(bool, bool, u32)>,
    mpsc::UnboundedSender<Result<(), ExitReason>>,
) {
    start_with(None).await
}

async fn start_with(
    undo_to: Option<u32>,
) -> (
    Node,
    StatemRef<Tally>,
    mpsc::UnboundedReceiver<(bool, bool, u32)>,
    mpsc::UnboundedSender<Result<(), ExitReason>>,
) {
    let node = Node::new("persist@localhost");
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (verdict, verdicts) = mpsc::unbounded_channel();
    let gate = Gate {
        seen: seen_tx,
        verdicts,
        undo_to,
    };
    let m = node
        .spawn(Statem::persisted(Tally(0), Box::new(gate)))
        .await
        .unwrap();
    (node, StatemRef::from(m), seen, verdict)
}

#[tokio::test]
async fn a_reply_waits_until_the_transition_is_durable() {
    let (_node, m, mut seen, verdict) = start().await;
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.call((), T).await }
    });
    assert_eq!(seen.recv().await, Some((false, true, 1)));
    // The hook has not answered: neither has the machine.
    tokio::task::yield_now().await;
    assert!(!call.is_finished());
    verdict.send(Ok(())).unwrap();
    assert_eq!(call.await.unwrap(), Ok(1));
    // The next event starts from the new state.
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.call((), T).await }
    });
    assert_eq!(seen.recv().await, Some((true, false, 2)));
    verdict.send(Ok(())).unwrap();
    assert_eq!(call.await.unwrap(), Ok(2));
}

#[tokio::test]
async fn a_transition_that_cannot_be_made_durable_stops_the_machine() {
    let (node, m, mut seen, verdict) = start().await;
    let exit = node.wait_exit(m.pid());
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.call((), T).await }
    });
    assert_eq!(seen.recv().await, Some((false, true, 1)));
    verdict.send(Err(ExitReason::error("fenced"))).unwrap();
    assert_eq!(exit.await, ExitReason::error("fenced"));
    assert_eq!(
        call.await.unwrap(),
        Err(CallError::Exit(ExitReason::error("fenced")))
    );
}

#[tokio::test]
async fn an_undone_transition_leaves_the_machine_running_in_the_state_before() {
    let (node, m, mut seen, verdict) = start_with(Some(0)).await;
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.call((), T).await }
    });
    assert_eq!(seen.recv().await, Some((false, true, 1)));
    let refused = ExitReason::shutdown_with(actor_core::Term::atom("not_quorate"));
    verdict.send(Err(refused.clone())).unwrap();
    // The caller learns why; the machine lives on.
    assert_eq!(call.await.unwrap(), Err(CallError::Exit(refused)));
    assert!(node.is_alive(m.pid()));
    // The next event starts from the state and the machine before the undone one.
    let call = tokio::spawn({
        let m = m.clone();
        async move { m.call((), T).await }
    });
    assert_eq!(seen.recv().await, Some((false, true, 1)));
    verdict.send(Ok(())).unwrap();
    assert_eq!(call.await.unwrap(), Ok(1));
}
