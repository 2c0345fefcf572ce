//! The `statem` peer: W8, a two-state machine called as its users call it.

use crate::{Counts, Latencies, Metrics};
use actor_core::{ExitReason, Node};
use statem::{Ctx, Event, StateMachine, Statem, Transition};
use std::time::{Duration, Instant};

const NODE: &str = "bench@localhost";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// W8: off <-> on; every call flips the state and replies with the new one (as the Erlang
/// peer's `state_functions` machine does).
struct Toggle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    Off,
    On,
}

impl StateMachine for Toggle {
    type State = Switch;
    type Call = ();
    type Reply = Switch;
    type Msg = ();
    type Timer = ();

    async fn init(&mut self, _ctx: &mut Ctx<'_, Self>) -> Result<Switch, ExitReason> {
        Ok(Switch::Off)
    }

    async fn handle_event(
        &mut self,
        state: &Switch,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match event {
            Event::Call((), from) => {
                let next = match state {
                    Switch::Off => Switch::On,
                    Switch::On => Switch::Off,
                };
                ctx.reply(from, next);
                Transition::NextState(next)
            }
            _ => Transition::KeepState,
        }
    }
}

/// W8: sequential calls (each flips the machine), after an unmeasured warm-up.
pub async fn w8_statem_call(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let toggle = Statem::start(&node, Toggle).await.expect("start");
    let mut expect = Switch::Off;
    let mut flip = || {
        expect = if expect == Switch::Off {
            Switch::On
        } else {
            Switch::Off
        };
        expect
    };
    for _ in 0..c.warmup {
        let want = flip();
        assert_eq!(toggle.call((), CALL_TIMEOUT).await, Ok(want));
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for _ in 0..c.calls {
        let want = flip();
        let sent = Instant::now();
        let r = toggle.call((), CALL_TIMEOUT).await;
        lat.record_since(sent);
        assert_eq!(r, Ok(want));
    }
    lat.metrics(start.elapsed())
}
