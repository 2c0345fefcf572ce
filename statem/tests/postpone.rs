//! Postpone: postponed events are retried after a change of state, oldest first and before
//! the queued events, and not after keep_state, next_state to the same state or repeat_state.
mod common;
use common::*;
use statem::{Event, Transition};

/// In `locked`, postpones everything but `unlock` / `noop` / `same` / calls to `sync`;
/// in `open`, handles everything (and `lock` locks again).
fn door() -> (Fsm<false>, tokio::sync::mpsc::UnboundedReceiver<Rec>) {
    Fsm::new("locked", |state, ev, ctx| match (state, &ev) {
        (_, Event::Call("sync", _)) => {
            ok(ev);
            Transition::KeepState
        }
        ("locked", Event::Cast("unlock")) => Transition::NextState("open"),
        ("locked", Event::Cast("noop")) => Transition::KeepState,
        ("locked", Event::Cast("same")) => Transition::NextState("locked"),
        ("locked", _) => {
            ctx.postpone(ev);
            Transition::KeepState
        }
        ("open", Event::Cast("lock")) => Transition::NextState("locked"),
        ("open", _) => {
            if let Event::Call(c, to) = ev {
                to.send(format!("{c} done"));
            }
            Transition::KeepState
        }
        _ => unreachable!(),
    })
}

#[tokio::test]
async fn postponed_events_are_retried_after_a_state_change_oldest_first() {
    let (fsm, mut log) = door();
    let (_node, door) = start(fsm).await;
    door.cast("a").unwrap();
    door.cast("b").unwrap();
    let caller = {
        let door = door.clone();
        tokio::spawn(async move { door.call("c", T).await })
    };
    expect(
        &mut log,
        &["locked cast:a", "locked cast:b", "locked call:c"],
    )
    .await;
    door.cast("unlock").unwrap();
    door.cast("d").unwrap();
    expect(
        &mut log,
        &[
            "locked cast:unlock",
            "open cast:a",
            "open cast:b",
            "open call:c",
            // A new external event comes after all the retried ones.
            "open cast:d",
        ],
    )
    .await;
    assert_eq!(caller.await.unwrap(), Ok("c done".to_string()));
}

#[tokio::test]
async fn keep_state_and_next_state_to_the_same_state_do_not_retry() {
    let (fsm, mut log) = door();
    let (_node, door) = start(fsm).await;
    door.cast("a").unwrap();
    door.cast("noop").unwrap();
    door.cast("same").unwrap();
    assert_eq!(door.call("sync", T).await, Ok("ok".to_string()));
    expect(
        &mut log,
        &[
            "locked cast:a",
            "locked cast:noop",
            "locked cast:same",
            "locked call:sync",
        ],
    )
    .await;
    expect_quiet(&mut log);
    door.cast("unlock").unwrap();
    expect(&mut log, &["locked cast:unlock", "open cast:a"]).await;
}

#[tokio::test]
async fn an_event_postponed_again_waits_for_the_next_change() {
    // In `open`, `x` is postponed too; `lock` then retries it in `locked`, where it is
    // postponed again, and `unlock` retries it once more.
    let (fsm, mut log) = Fsm::<false>::new("locked", |state, ev, ctx| match (state, &ev) {
        ("locked", Event::Cast("unlock")) => Transition::NextState("open"),
        ("open", Event::Cast("lock")) => Transition::NextState("locked"),
        ("open", Event::Cast("take")) => Transition::KeepState,
        (_, Event::Cast("x")) => {
            ctx.postpone(ev);
            Transition::KeepState
        }
        _ => Transition::KeepState,
    });
    let (_node, m) = start(fsm).await;
    for c in ["x", "unlock", "lock", "unlock"] {
        m.cast(c).unwrap();
    }
    expect(
        &mut log,
        &[
            "locked cast:x",
            "locked cast:unlock",
            "open cast:x",
            "open cast:lock",
            "locked cast:x",
            "locked cast:unlock",
            "open cast:x",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_event_that_changes_state_and_postpones_itself_is_retried_in_the_new_state() {
    let (fsm, mut log) = Fsm::<false>::new("one", |state, ev, ctx| match (state, &ev) {
        ("one", Event::Cast("go")) => {
            ctx.postpone(ev);
            Transition::NextState("two")
        }
        _ => Transition::KeepState,
    });
    let (_node, m) = start(fsm).await;
    m.cast("go").unwrap();
    m.cast("after").unwrap();
    expect(&mut log, &["one cast:go", "two cast:go", "two cast:after"]).await;
}

#[tokio::test]
async fn inserted_events_go_before_retried_postponed_ones() {
    let (fsm, mut log) = Fsm::<false>::new("locked", |state, ev, ctx| match (state, &ev) {
        ("locked", Event::Cast("unlock")) => {
            ctx.next_internal("i1");
            ctx.next_internal("i2");
            Transition::NextState("open")
        }
        ("locked", Event::Cast(_)) => {
            ctx.postpone(ev);
            Transition::KeepState
        }
        _ => Transition::KeepState,
    });
    let (_node, m) = start(fsm).await;
    m.cast("p1").unwrap();
    m.cast("p2").unwrap();
    m.cast("unlock").unwrap();
    expect(
        &mut log,
        &[
            "locked cast:p1",
            "locked cast:p2",
            "locked cast:unlock",
            "open internal:i1",
            "open internal:i2",
            "open cast:p1",
            "open cast:p2",
        ],
    )
    .await;
}

#[tokio::test]
async fn repeat_state_does_not_retry_postponed_events() {
    let (fsm, mut log) = Fsm::<true>::new("s", |state, ev, ctx| match (state, &ev) {
        ("s", Event::Cast("again")) => Transition::RepeatState,
        ("s", Event::Cast("next")) => Transition::NextState("t"),
        ("s", Event::Cast(_)) => {
            ctx.postpone(ev);
            Transition::KeepState
        }
        _ => Transition::KeepState,
    });
    let (_node, m) = start(fsm).await;
    m.cast("p").unwrap();
    m.cast("again").unwrap();
    m.cast("next").unwrap();
    expect(
        &mut log,
        &[
            "s enter:s",
            "s cast:p",
            "s cast:again",
            // repeat_state: the enter call again, but no retry.
            "s enter:s",
            "s cast:next",
            "t enter:s",
            "t cast:p",
        ],
    )
    .await;
}
