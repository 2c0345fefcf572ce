//! Info events: plain messages, monitor `Down`s and trapped exit signals; the event kinds of
//! calls, casts and infos; serialisable messages.
use actor_core::{Actor, Context, ExitReason, Node, Pid};
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, Info, StateMachine, Statem, StatemMsg, Transition};
use std::time::Duration;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Msg {
    Watch(Pid),
    Link(Pid),
    Note(String),
}

/// Logs what it gets.
struct Watcher {
    log: mpsc::UnboundedSender<String>,
}

impl StateMachine for Watcher {
    type State = u8;
    type Call = String;
    type Reply = String;
    type Msg = Msg;
    type Timer = ();

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<u8, ExitReason> {
        ctx.trap_exit(true);
        Ok(0)
    }

    async fn handle_event(
        &mut self,
        _state: &u8,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        let line = match event {
            Event::Cast(Msg::Watch(pid)) => {
                ctx.monitor(pid);
                "watching".to_string()
            }
            Event::Cast(Msg::Link(pid)) => {
                ctx.link(pid).unwrap();
                "linked".to_string()
            }
            Event::Cast(Msg::Note(n)) => format!("cast {n}"),
            Event::Info(Info::Msg(Msg::Note(n))) => format!("info {n}"),
            Event::Info(Info::Down(down)) => format!("down {}", down.reason),
            Event::Info(Info::Exit { reason, .. }) => format!("exit {reason}"),
            Event::Call(req, to) => {
                to.send(format!("re: {req}"));
                format!("call {req}")
            }
            other => format!("{:?}", other.kind()),
        };
        let _ = self.log.send(line);
        Transition::KeepState
    }
}

struct Victim;
impl Actor for Victim {
    type Msg = ExitReason;
    async fn handle(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        ctx.stop(reason);
    }
}

#[tokio::test]
async fn calls_casts_infos_downs_and_trapped_exits_arrive_as_their_kinds() {
    let node = Node::new("info@localhost");
    let (tx, mut log) = mpsc::unbounded_channel();
    let m = Statem::start(&node, Watcher { log: tx }).await.unwrap();
    let watched = node.spawn(Victim).await.unwrap();
    let linked = node.spawn(Victim).await.unwrap();
    m.cast(Msg::Watch(watched.pid())).unwrap();
    m.cast(Msg::Link(linked.pid())).unwrap();
    m.cast(Msg::Note("c".into())).unwrap();
    m.info(Msg::Note("i".into())).unwrap();
    assert_eq!(m.call("q".into(), T).await, Ok("re: q".to_string()));
    watched.tell(ExitReason::error("gone")).unwrap();
    linked.tell(ExitReason::error("cut")).unwrap();
    let mut lines = Vec::new();
    for _ in 0..7 {
        lines.push(log.recv().await.unwrap());
    }
    let (head, tail) = lines.split_at(5);
    assert_eq!(head, ["watching", "linked", "cast c", "info i", "call q"]);
    // The two exits race with each other; both arrive.
    let mut tail = tail.to_vec();
    tail.sort();
    assert_eq!(tail, ["down gone", "exit cut"]);
}

#[tokio::test]
async fn casts_and_infos_serialise_and_a_call_needs_a_wire_context() {
    let cast: StatemMsg<Watcher> = StatemMsg::Cast(Msg::Note("over the wire".into()));
    let bytes = postcard::to_allocvec(&cast).unwrap();
    let back: StatemMsg<Watcher> = postcard::from_bytes(&bytes).unwrap();
    assert!(matches!(&back, StatemMsg::Cast(Msg::Note(n)) if n == "over the wire"));

    // A decoded message works like a local one.
    let node = Node::new("info@localhost");
    let (tx, mut log) = mpsc::unbounded_channel();
    let m = Statem::start(&node, Watcher { log: tx }).await.unwrap();
    m.actor_ref().tell(back).unwrap();
    assert_eq!(log.recv().await.unwrap(), "cast over the wire");

    // A call's reply handle only encodes inside a distribution's wire context.
    let (to, _answer) = actor_core::ReplyTo::pair();
    let call: StatemMsg<Watcher> = StatemMsg::Call("q".into(), to);
    assert!(postcard::to_allocvec(&call).is_err());
}
