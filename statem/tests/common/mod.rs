//! A state machine for tests whose behaviour is a closure, and that logs every event, enter
//! call and termination on a channel, so that a test awaits what happened instead of sleeping.
#![allow(dead_code)]

use actor_core::{ExitReason, Node};
use statem::{Ctx, Event, Info, StateMachine, Statem, StatemRef, Transition};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// States, requests, contents and timer names are all short strings.
pub type S = &'static str;

pub const T: Duration = Duration::from_secs(5);

/// One logged happening: when (ms since the machine was made), and what, as
/// `"<state> <kind>:<content>"`, `"<state> enter:<old>"` or `"terminate:<reason>:<state>"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub ms: u64,
    pub line: String,
}

pub type Handler<const E: bool> =
    Box<dyn FnMut(S, Event<Fsm<E>>, &mut Ctx<'_, Fsm<E>>) -> Transition<Fsm<E>> + Send>;
pub type EnterHandler<const E: bool> =
    Box<dyn FnMut(S, S, &mut Ctx<'_, Fsm<E>>) -> Transition<Fsm<E>> + Send>;
pub type InitHandler<const E: bool> =
    Box<dyn FnMut(&mut Ctx<'_, Fsm<E>>) -> Result<S, ExitReason> + Send>;

/// `E`: whether state enter calls are on.
pub struct Fsm<const E: bool> {
    pub init: InitHandler<E>,
    pub handler: Handler<E>,
    pub enter: EnterHandler<E>,
    pub log: mpsc::UnboundedSender<Rec>,
    pub t0: Instant,
}

pub fn describe<const E: bool>(ev: &Event<Fsm<E>>) -> String {
    match ev {
        Event::Call(c, _) => format!("call:{c}"),
        Event::Cast(m) => format!("cast:{m}"),
        Event::Info(Info::Msg(m)) => format!("info:{m}"),
        Event::Info(Info::Down(d)) => format!("info:down:{}", d.reason),
        Event::Info(Info::Exit { reason, .. }) => format!("info:exit:{reason}"),
        Event::Info(_) => "info:?".to_string(),
        Event::Internal(m) => format!("internal:{m}"),
        Event::StateTimeout(m) => format!("state_timeout:{m}"),
        Event::EventTimeout(m) => format!("timeout:{m}"),
        Event::GenericTimeout(n, m) => format!("timeout({n}):{m}"),
    }
}

impl<const E: bool> Fsm<E> {
    /// A machine that starts in `init`, with no init actions, and handles events with `h`.
    pub fn new(
        init: S,
        h: impl FnMut(S, Event<Fsm<E>>, &mut Ctx<'_, Fsm<E>>) -> Transition<Fsm<E>> + Send + 'static,
    ) -> (Self, mpsc::UnboundedReceiver<Rec>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let fsm = Fsm {
            init: Box::new(move |_| Ok(init)),
            handler: Box::new(h),
            enter: Box::new(|_, _, _| Transition::KeepState),
            log: tx,
            t0: Instant::now(),
        };
        (fsm, rx)
    }

    pub fn with_init(
        mut self,
        f: impl FnMut(&mut Ctx<'_, Fsm<E>>) -> Result<S, ExitReason> + Send + 'static,
    ) -> Self {
        self.init = Box::new(f);
        self
    }

    pub fn with_enter(
        mut self,
        f: impl FnMut(S, S, &mut Ctx<'_, Fsm<E>>) -> Transition<Fsm<E>> + Send + 'static,
    ) -> Self {
        self.enter = Box::new(f);
        self
    }

    fn rec(&self, line: String) {
        let ms = self.t0.elapsed().as_millis() as u64;
        let _ = self.log.send(Rec { ms, line });
    }
}

impl<const E: bool> StateMachine for Fsm<E> {
    type State = S;
    type Call = S;
    type Reply = String;
    type Msg = S;
    type Timer = S;
    const STATE_ENTER: bool = E;

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<S, ExitReason> {
        (self.init)(ctx)
    }

    async fn handle_event(
        &mut self,
        state: &S,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        self.rec(format!("{state} {}", describe(&event)));
        (self.handler)(state, event, ctx)
    }

    async fn state_enter(
        &mut self,
        old: &S,
        state: &S,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        self.rec(format!("{state} enter:{old}"));
        (self.enter)(old, state, ctx)
    }

    async fn terminate(&mut self, reason: &ExitReason, state: &S) {
        self.rec(format!("terminate:{reason}:{state}"));
    }
}

pub async fn start<const E: bool>(fsm: Fsm<E>) -> (Node, StatemRef<Fsm<E>>) {
    let node = Node::new("statem-test@localhost");
    let r = Statem::start(&node, fsm).await.expect("start");
    (node, r)
}

/// The next logged line.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Rec>) -> String {
    tokio::time::timeout(Duration::from_secs(3600), rx.recv())
        .await
        .expect("nothing logged for an hour")
        .expect("log closed")
        .line
}

/// The next logged record (with its time).
pub async fn next_rec(rx: &mut mpsc::UnboundedReceiver<Rec>) -> Rec {
    tokio::time::timeout(Duration::from_secs(3600), rx.recv())
        .await
        .expect("nothing logged for an hour")
        .expect("log closed")
}

/// Asserts the next logged lines, in order.
pub async fn expect(rx: &mut mpsc::UnboundedReceiver<Rec>, lines: &[&str]) {
    for (i, want) in lines.iter().enumerate() {
        let got = next(rx).await;
        assert_eq!(&got, want, "line {i} of {lines:?}");
    }
}

/// Asserts that nothing more has been logged (everything sent so far has been handled:
/// call this after a call to the machine returned).
pub fn expect_quiet(rx: &mut mpsc::UnboundedReceiver<Rec>) {
    if let Ok(r) = rx.try_recv() {
        panic!("unexpected: {r:?}");
    }
}

/// Replies `"ok"` to a call that the handler does not care about.
pub fn ok(ev: Event<Fsm<false>>) {
    if let Event::Call(_, to) = ev {
        to.send("ok".to_string());
    }
}
