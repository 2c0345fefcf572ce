//! The transition observer: (from, to, event kind) for every handled event, plus what the
//! application adds from its own data, e.g. receipts for what a transition charged.
use actor_core::{ExitReason, Node};
use statem::{Ctx, Event, EventKind, Observed, StateMachine, Statem, Transition};
use std::time::Duration;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sub {
    Trial,
    Active,
    Suspended,
}

#[derive(Debug, PartialEq)]
struct Receipt {
    from: Sub,
    to: Sub,
    kind: EventKind,
    /// The application's value: what the transition charged.
    charged: Option<u32>,
}

struct Billing {
    receipts: mpsc::UnboundedSender<Receipt>,
    /// Set by the event callback, taken by the observer.
    charge: Option<u32>,
}

enum Cmd {
    Pay(u32),
    Miss,
}

impl StateMachine for Billing {
    type State = Sub;
    type Call = Cmd;
    type Reply = Sub;
    type Msg = ();
    type Timer = ();

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<Sub, ExitReason> {
        ctx.state_timeout(Duration::from_secs(14 * 24 * 3600), ());
        Ok(Sub::Trial)
    }

    async fn handle_event(
        &mut self,
        state: &Sub,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        let next = match (state, event) {
            (_, Event::Call(Cmd::Pay(amount), to)) => {
                self.charge = Some(amount);
                ctx.reply(to, Sub::Active);
                Sub::Active
            }
            (_, Event::Call(Cmd::Miss, to)) => {
                ctx.reply(to, Sub::Suspended);
                Sub::Suspended
            }
            (Sub::Trial, Event::StateTimeout(())) => Sub::Suspended,
            (s, _) => *s,
        };
        Transition::NextState(next)
    }

    fn on_transition(&mut self, t: &Observed<'_, Self>) {
        let _ = self.receipts.send(Receipt {
            from: *t.from,
            to: *t.to,
            kind: t.kind,
            charged: self.charge.take(),
        });
    }
}

#[tokio::test(start_paused = true)]
async fn the_observer_sees_every_transition_with_the_application_value() {
    let node = Node::new("billing@localhost");
    let (tx, mut receipts) = mpsc::unbounded_channel();
    let m = Statem::start(
        &node,
        Billing {
            receipts: tx,
            charge: None,
        },
    )
    .await
    .unwrap();
    // The trial runs out.
    let r = receipts.recv().await.unwrap();
    assert_eq!(
        r,
        Receipt {
            from: Sub::Trial,
            to: Sub::Suspended,
            kind: EventKind::StateTimeout,
            charged: None
        }
    );
    assert_eq!(m.call(Cmd::Pay(30), T).await, Ok(Sub::Active));
    assert_eq!(m.call(Cmd::Pay(5), T).await, Ok(Sub::Active));
    assert_eq!(m.call(Cmd::Miss, T).await, Ok(Sub::Suspended));
    let mut rest = Vec::new();
    for _ in 0..3 {
        rest.push(receipts.recv().await.unwrap());
    }
    assert_eq!(
        rest,
        vec![
            Receipt {
                from: Sub::Suspended,
                to: Sub::Active,
                kind: EventKind::Call,
                charged: Some(30)
            },
            // A keep-state transition is observed too (from == to).
            Receipt {
                from: Sub::Active,
                to: Sub::Active,
                kind: EventKind::Call,
                charged: Some(5)
            },
            Receipt {
                from: Sub::Active,
                to: Sub::Suspended,
                kind: EventKind::Call,
                charged: None
            },
        ]
    );
    assert!(rest.iter().map(|r| r.from != r.to).eq([true, false, true]));
}
