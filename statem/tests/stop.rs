//! Stopping: stop, stop_and_reply, stop requests, bad actions, panics, init errors; callers
//! waiting in postponed events; callers that die mid-call.
mod common;
use actor_core::{Actor, CallError, Context, ExitReason, Node, SpawnError};
use common::*;
use statem::{Event, Statem, StatemRef, Transition};
use std::time::Duration;

fn stopper() -> (Fsm<false>, tokio::sync::mpsc::UnboundedReceiver<Rec>) {
    Fsm::new("s", |state, ev, ctx| match (state, ev) {
        (_, Event::Cast("stop")) => Transition::Stop(ExitReason::error("bye")),
        (_, Event::Call("quit", to)) => {
            Transition::StopAndReply(ExitReason::Normal, vec![(to, "bye".to_string())])
        }
        (_, Event::Cast("panic")) => panic!("boom"),
        (_, Event::Cast("go")) => Transition::NextState("t"),
        ("s", ev @ Event::Call(..)) => {
            ctx.postpone(ev);
            Transition::KeepState
        }
        ("t", Event::Call(c, to)) => {
            let sent = to.send(format!("{c} done"));
            ctx.next_internal(if sent { "replied" } else { "caller gone" });
            Transition::KeepState
        }
        _ => Transition::KeepState,
    })
}

#[tokio::test]
async fn stop_ends_the_machine_with_its_reason_and_runs_terminate() {
    let (fsm, mut log) = stopper();
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("stop").unwrap();
    assert_eq!(exit.await, ExitReason::error("bye"));
    expect(&mut log, &["s cast:stop", "terminate:bye:s"]).await;
    assert!(!m.is_alive());
    assert!(m.call("x", T).await.unwrap_err().is_noproc());
}

#[tokio::test]
async fn stop_and_reply_replies_then_stops() {
    let (fsm, mut log) = stopper();
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    assert_eq!(m.call("quit", T).await, Ok("bye".to_string()));
    assert_eq!(exit.await, ExitReason::Normal);
    expect(&mut log, &["s call:quit", "terminate:normal:s"]).await;
}

#[tokio::test]
async fn callers_in_postponed_and_queued_events_learn_the_exit_reason() {
    let (fsm, mut log) = stopper();
    let (_node, m) = start(fsm).await;
    let postponed = {
        let m = m.clone();
        tokio::spawn(async move { m.call("waits", T).await })
    };
    expect(&mut log, &["s call:waits"]).await;
    m.cast("stop").unwrap();
    let queued = m.call("queued", T).await;
    assert_eq!(
        postponed.await.unwrap(),
        Err(CallError::Exit(ExitReason::error("bye")))
    );
    assert_eq!(queued, Err(CallError::Exit(ExitReason::error("bye"))));
}

#[tokio::test]
async fn a_stop_request_runs_terminate() {
    let (fsm, mut log) = stopper();
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("go").unwrap();
    assert!(m.stop(ExitReason::Shutdown));
    assert_eq!(exit.await, ExitReason::Shutdown);
    expect(&mut log, &["s cast:go", "terminate:shutdown:t"]).await;
}

#[tokio::test]
async fn a_panic_in_a_callback_is_the_exit_reason_and_skips_terminate() {
    let (fsm, mut log) = stopper();
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("panic").unwrap();
    assert_eq!(exit.await, ExitReason::Panic("boom".to_string()));
    expect(&mut log, &["s cast:panic"]).await;
    // The log sender went with the machine, without a terminate line.
    assert!(log.recv().await.is_none());
}

#[tokio::test]
async fn an_init_error_fails_the_start() {
    let (fsm, _log) = stopper();
    let fsm = fsm.with_init(|_| Err(ExitReason::error("no config")));
    let node = Node::new("stop@localhost");
    let err = Statem::start(&node, fsm).await.unwrap_err();
    assert_eq!(err, SpawnError::Init(ExitReason::error("no config")));
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn postponing_in_init_fails_the_start() {
    let (fsm, _log) = stopper();
    let fsm = fsm.with_init(|ctx| {
        ctx.postpone(Event::Internal("x"));
        Ok("s")
    });
    let node = Node::new("stop@localhost");
    let err = Statem::start(&node, fsm).await.unwrap_err();
    assert!(
        matches!(&err, SpawnError::Init(ExitReason::Error(e)) if e.to_string().contains("init may not postpone")),
        "{err:?}"
    );
}

#[tokio::test]
async fn postponing_two_events_stops_the_machine() {
    let (fsm, _log) = Fsm::<false>::new("s", |_, ev, ctx| {
        ctx.postpone(ev);
        ctx.postpone(Event::Internal("another"));
        Transition::KeepState
    });
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    let r = m.call("x", T).await;
    let reason = exit.await;
    assert!(
        matches!(&reason, ExitReason::Error(e) if e.to_string().contains("may not postpone two events")),
        "{reason:?}"
    );
    // The caller learns the reason, even though its event was rejected.
    assert_eq!(r, Err(CallError::Exit(reason)));
}

/// A caller that calls the machine from its own task and reports the result.
struct Caller {
    target: StatemRef<Fsm<false>>,
}
impl Actor for Caller {
    type Msg = &'static str;
    async fn handle(&mut self, req: &'static str, _ctx: &mut Context<Self>) {
        let _ = self.target.call(req, Duration::from_secs(3600)).await;
    }
}

#[tokio::test]
async fn a_caller_that_dies_mid_call_does_not_disturb_the_machine() {
    let (fsm, mut log) = stopper();
    let (node, m) = start(fsm).await;
    // The caller's request is postponed (held by the machine) when the caller is killed.
    let caller = node.spawn(Caller { target: m.clone() }).await.unwrap();
    let caller_exit = node.wait_exit(caller.pid());
    caller.tell("from the dead").unwrap();
    expect(&mut log, &["s call:from the dead"]).await;
    node.exit(caller.pid(), ExitReason::Kill);
    assert_eq!(caller_exit.await, ExitReason::Killed);
    // The postponed call is retried after the state change; its reply finds nobody.
    m.cast("go").unwrap();
    assert_eq!(m.call("alive?", T).await, Ok("alive? done".to_string()));
    expect(
        &mut log,
        &[
            "s cast:go",
            "t call:from the dead",
            "t internal:caller gone",
            "t call:alive?",
            "t internal:replied",
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_timed_out_gets_nothing_and_the_machine_goes_on() {
    let (fsm, mut log) = stopper();
    let (_node, m) = start(fsm).await;
    assert_eq!(
        m.call("slow", Duration::from_millis(10)).await,
        Err(CallError::Timeout)
    );
    m.cast("go").unwrap();
    assert_eq!(m.call("next", T).await, Ok("next done".to_string()));
    expect(
        &mut log,
        &[
            "s call:slow",
            "s cast:go",
            "t call:slow",
            "t internal:caller gone",
            "t call:next",
            "t internal:replied",
        ],
    )
    .await;
}
