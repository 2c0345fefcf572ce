//! State enter calls: on the initial state and on every change of state, again on
//! repeat_state, never on keep_state; their actions apply; they may not change the state,
//! postpone or insert events.
mod common;
use actor_core::ExitReason;
use common::*;
use statem::{Event, Transition};
use std::time::Duration;

/// `goto,<state>` changes state, `repeat` repeats it, anything else keeps it.
fn walker() -> (Fsm<true>, tokio::sync::mpsc::UnboundedReceiver<Rec>) {
    Fsm::new("a", |_, ev, ctx| match ev {
        Event::Cast(c) if c.starts_with("goto,") => Transition::NextState(&c[5..]),
        Event::Cast("repeat") => Transition::RepeatState,
        Event::Cast("same") => Transition::NextState("a"),
        Event::Cast("postpone-and-go") => {
            ctx.postpone(ev);
            Transition::NextState("b")
        }
        _ => Transition::KeepState,
    })
}

#[tokio::test]
async fn the_initial_state_gets_an_enter_call_with_itself_as_the_old_state() {
    let (fsm, mut log) = walker();
    let (_node, _m) = start(fsm).await;
    expect(&mut log, &["a enter:a"]).await;
}

#[tokio::test]
async fn state_changes_make_enter_calls_keep_state_does_not() {
    let (fsm, mut log) = walker();
    let (_node, m) = start(fsm).await;
    for c in ["noop", "same", "goto,b", "noop", "goto,c"] {
        m.cast(c).unwrap();
    }
    expect(
        &mut log,
        &[
            "a enter:a",
            "a cast:noop",
            "a cast:same",
            "a cast:goto,b",
            "b enter:a",
            "b cast:noop",
            "b cast:goto,c",
            "c enter:b",
        ],
    )
    .await;
}

#[tokio::test]
async fn repeat_state_makes_the_enter_call_again() {
    let (fsm, mut log) = walker();
    let (_node, m) = start(fsm).await;
    m.cast("repeat").unwrap();
    m.cast("noop").unwrap();
    expect(
        &mut log,
        &["a enter:a", "a cast:repeat", "a enter:a", "a cast:noop"],
    )
    .await;
}

#[tokio::test]
async fn without_state_enter_repeat_state_is_keep_state() {
    let (fsm, mut log) = Fsm::<false>::new("a", |_, _, _| Transition::RepeatState);
    let (_node, m) = start(fsm).await;
    m.cast("x").unwrap();
    m.cast("y").unwrap();
    expect(&mut log, &["a cast:x", "a cast:y"]).await;
}

#[tokio::test]
async fn postponed_events_are_retried_after_the_enter_call() {
    let (fsm, mut log) = walker();
    let (_node, m) = start(fsm).await;
    m.cast("postpone-and-go").unwrap();
    expect(
        &mut log,
        &[
            "a enter:a",
            "a cast:postpone-and-go",
            "b enter:a",
            "b cast:postpone-and-go",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_enter_call_may_repeat_itself_and_may_name_its_own_state() {
    let mut n = 0;
    let (fsm, mut log) = walker();
    let fsm = fsm.with_enter(move |_, state, _| {
        n += 1;
        match n {
            1 => Transition::RepeatState,
            2 => Transition::NextState(state),
            _ => Transition::KeepState,
        }
    });
    let (_node, m) = start(fsm).await;
    m.cast("goto,b").unwrap();
    expect(
        &mut log,
        &["a enter:a", "a enter:a", "a cast:goto,b", "b enter:a"],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn enter_call_actions_come_after_the_event_callback_actions() {
    let (fsm, mut log) = Fsm::<true>::new("a", |state, ev, ctx| match (state, ev) {
        ("a", Event::Cast("go")) => {
            ctx.state_timeout(Duration::from_millis(100), "from-event");
            Transition::NextState("b")
        }
        _ => Transition::KeepState,
    });
    let fsm = fsm.with_enter(|_, state, ctx| {
        if state == "b" {
            ctx.state_timeout(Duration::from_millis(200), "from-enter");
            ctx.generic_timeout("g", Duration::from_millis(50), "g");
        }
        Transition::KeepState
    });
    let (_node, m) = start(fsm).await;
    m.cast("go").unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = next_rec(&mut log).await;
        seen.push((r.ms, r.line));
    }
    assert_eq!(
        seen,
        vec![
            (0, "a enter:a".to_string()),
            (0, "a cast:go".to_string()),
            (0, "b enter:a".to_string()),
            (50, "b timeout(g):g".to_string()),
            (200, "b state_timeout:from-enter".to_string()),
        ]
    );
}

#[tokio::test]
async fn an_enter_call_that_changes_the_state_stops_the_machine() {
    let (fsm, mut log) = walker();
    let fsm = fsm.with_enter(|_, state, _| {
        if state == "b" {
            Transition::NextState("c")
        } else {
            Transition::KeepState
        }
    });
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("goto,b").unwrap();
    let reason = tokio::time::timeout(T, exit).await.unwrap();
    assert!(
        matches!(&reason, ExitReason::Error(e) if e.to_string().contains("may not change the state")),
        "{reason:?}"
    );
    // terminate runs, in the state that was entered.
    expect(
        &mut log,
        &[
            "a enter:a",
            "a cast:goto,b",
            "b enter:a",
            &format!("terminate:{reason}:b"),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_enter_call_that_postpones_stops_the_machine() {
    let (fsm, _log) = walker();
    let fsm = fsm.with_enter(|_, state, ctx| {
        if state == "b" {
            ctx.postpone(Event::Internal("x"));
        }
        Transition::KeepState
    });
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("goto,b").unwrap();
    let reason = tokio::time::timeout(T, exit).await.unwrap();
    assert!(
        matches!(&reason, ExitReason::Error(e) if e.to_string().contains("state enter call may not postpone")),
        "{reason:?}"
    );
}

#[tokio::test]
async fn an_enter_call_that_inserts_events_stops_the_machine() {
    let (fsm, _log) = walker();
    let fsm = fsm.with_enter(|_, state, ctx| {
        if state == "b" {
            ctx.next_internal("x");
        }
        Transition::KeepState
    });
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    m.cast("goto,b").unwrap();
    let reason = tokio::time::timeout(T, exit).await.unwrap();
    assert!(
        matches!(&reason, ExitReason::Error(e) if e.to_string().contains("state enter call may not insert events")),
        "{reason:?}"
    );
}

#[tokio::test]
async fn the_initial_enter_call_may_stop_the_machine() {
    let (fsm, mut log) = walker();
    let fsm = fsm.with_enter(|_, _, _| Transition::Stop(ExitReason::error("no")));
    // The machine starts, then stops: its enter call runs when it starts.
    let (_node, m) = start(fsm).await;
    assert!(!m.is_alive() || m.call("x", T).await.is_err());
    expect(&mut log, &["a enter:a", "terminate:no:a"]).await;
}

#[tokio::test]
async fn an_enter_call_may_stop_and_reply() {
    let (fsm, _log) = Fsm::<true>::new("a", |_, ev, ctx| match ev {
        Event::Call("go", to) => {
            // Keep the handle: the enter call of `b` replies.
            ctx.next_event(Event::Call("held", to));
            Transition::KeepState
        }
        Event::Call("held", to) => {
            HELD.lock().replace(to);
            Transition::NextState("b")
        }
        _ => Transition::KeepState,
    });
    let fsm = fsm.with_enter(|_, state, _| {
        if state == "b" {
            let to = HELD.lock().take().unwrap();
            Transition::StopAndReply(ExitReason::Normal, vec![(to, "bye".to_string())])
        } else {
            Transition::KeepState
        }
    });
    let (node, m) = start(fsm).await;
    let exit = node.wait_exit(m.pid());
    assert_eq!(m.call("go", T).await, Ok("bye".to_string()));
    assert_eq!(exit.await, ExitReason::Normal);
}

static HELD: parking_lot::Mutex<Option<actor_core::ReplyTo<String>>> =
    parking_lot::Mutex::new(None);
