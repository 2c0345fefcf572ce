//! A statem is called and cast to from another node like any actor: its calls cross the
//! wire, replies come back, and a caller on another node learns at once when it dies.
use actor_core::{CallError, ExitReason, Node};
use actor_dist::{Cookie, Dist, DistConfig, SpawnOnOpts};
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, RemoteMachine, StateMachine, Statem, StatemMsg, StatemRef, Transition};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

/// A switch: each `Flip` call toggles it and replies with the new state; `Break` stops it.
struct Switch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Pos {
    Off,
    On,
}

#[derive(Serialize, Deserialize)]
enum Req {
    Flip,
    Break,
}

impl StateMachine for Switch {
    type State = Pos;
    type Call = Req;
    type Reply = Pos;
    type Msg = u64;
    type Timer = ();

    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<Pos, ExitReason> {
        Ok(Pos::Off)
    }

    async fn handle_event(
        &mut self,
        state: &Pos,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match event {
            Event::Call(Req::Flip, from) => {
                let next = if *state == Pos::Off {
                    Pos::On
                } else {
                    Pos::Off
                };
                ctx.reply(from, next);
                Transition::NextState(next)
            }
            Event::Call(Req::Break, _from) => Transition::Stop(ExitReason::error("broken")),
            Event::Cast(_) => Transition::NextState(Pos::On),
            _ => Transition::KeepState,
        }
    }
}

impl RemoteMachine for Switch {
    const NAME: &'static str = "statem.tests.Switch";
}

async fn node(name: &str) -> Dist {
    Dist::start(&Node::new(name), DistConfig::new(Cookie::new("c").unwrap()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statem_on_another_node_is_called_like_a_local_one() {
    let a = node("a@127.0.0.1").await;
    let b = node("b@127.0.0.1").await;
    b.register_kind("switch", |(): ()| Statem::new(Switch));
    a.connect(b.name(), b.local_addr()).await.unwrap();

    let remote = a
        .spawn_on::<StatemMsg<Switch>, _>(b.name(), "switch", &(), SpawnOnOpts::default())
        .await
        .unwrap();
    let sw = StatemRef::<Switch>::from(remote);
    assert_eq!(sw.call(Req::Flip, T).await, Ok(Pos::On));
    assert_eq!(sw.call(Req::Flip, T).await, Ok(Pos::Off));
    sw.cast(1).unwrap();
    assert_eq!(
        sw.call(Req::Flip, T).await,
        Ok(Pos::Off),
        "the cast switched it on first"
    );

    // A statem started directly on b is reachable by pid too.
    let local_on_b = Statem::start(b.node(), Switch).await.unwrap();
    let by_pid =
        StatemRef::<Switch>::from(a.actor_ref::<StatemMsg<Switch>>(local_on_b.pid()).unwrap());
    assert_eq!(by_pid.call(Req::Flip, T).await, Ok(Pos::On));

    // The machine drops the request unanswered and stops: the remote caller gets the exit
    // reason at once, not at the timeout.
    let t0 = std::time::Instant::now();
    let res = sw.call(Req::Break, Duration::from_secs(30)).await;
    assert_eq!(res, Err(CallError::Exit(ExitReason::error("broken"))));
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A call after the stop fails with the exit reason's `noproc`.
    assert_eq!(
        sw.call(Req::Flip, T).await,
        Err(CallError::Exit(ExitReason::NoProc))
    );
}
