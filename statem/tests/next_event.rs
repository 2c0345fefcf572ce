//! next_event: inserted events run next, in the order given, before queued events and before
//! any new external event; any event type can be inserted; init can insert events.
mod common;
use actor_core::ReplyTo;
use common::*;
use statem::{Action, Event, Info, Transition};

#[tokio::test]
async fn inserted_events_run_in_the_order_given_before_external_ones() {
    let (fsm, mut log) = Fsm::<false>::new("s", |_, ev, ctx| {
        match ev {
            Event::Cast("go") => {
                ctx.next_internal("x");
                ctx.next_internal("y");
                ctx.push(Action::NextEvent(Event::Internal("z")));
            }
            // Inserted while y and z are queued: x1 and x2 go before them.
            Event::Internal("x") => {
                ctx.next_internal("x1");
                ctx.next_internal("x2");
            }
            _ => {}
        }
        Transition::KeepState
    });
    let (_node, m) = start(fsm).await;
    // Both casts are in the mailbox before `go` is handled.
    m.cast("go").unwrap();
    m.cast("later").unwrap();
    expect(
        &mut log,
        &[
            "s cast:go",
            "s internal:x",
            "s internal:x1",
            "s internal:x2",
            "s internal:y",
            "s internal:z",
            "s cast:later",
        ],
    )
    .await;
}

#[tokio::test]
async fn any_event_type_can_be_inserted() {
    // The receivers of inserted calls are kept here, so that the replies can be delivered.
    let mut waiting = Vec::new();
    let (fsm, mut log) = Fsm::<false>::new("s", move |_, ev, ctx| {
        match ev {
            Event::Cast("go") => {
                let (to, answer) = ReplyTo::pair();
                waiting.push(answer);
                ctx.next_event(Event::Call("inner", to));
                ctx.next_event(Event::Cast("c"));
                ctx.next_event(Event::Info(Info::Msg("i")));
                ctx.next_event(Event::StateTimeout("st"));
                ctx.next_event(Event::EventTimeout("et"));
                ctx.next_event(Event::GenericTimeout("g", "gt"));
            }
            Event::Call("inner", to) => {
                let sent = to.send("inner done".to_string());
                ctx.next_internal(if sent { "replied" } else { "lost" });
            }
            _ => {}
        }
        Transition::KeepState
    });
    let (_node, m) = start(fsm).await;
    m.cast("go").unwrap();
    expect(
        &mut log,
        &[
            "s cast:go",
            "s call:inner",
            "s internal:replied",
            "s cast:c",
            "s info:i",
            "s state_timeout:st",
            "s timeout:et",
            "s timeout(g):gt",
        ],
    )
    .await;
}

#[tokio::test]
async fn init_can_insert_events_that_run_before_any_external_one() {
    let (fsm, mut log) = Fsm::<false>::new("s", |_, _, _| Transition::KeepState);
    let fsm = fsm.with_init(|ctx| {
        ctx.next_internal("boot1");
        ctx.next_internal("boot2");
        Ok("s")
    });
    let (_node, m) = start(fsm).await;
    m.cast("ext").unwrap();
    expect(
        &mut log,
        &["s internal:boot1", "s internal:boot2", "s cast:ext"],
    )
    .await;
}

#[tokio::test]
async fn inserted_events_are_handled_even_if_no_message_ever_arrives() {
    let (fsm, mut log) = Fsm::<false>::new("s", |_, _, _| Transition::KeepState);
    let fsm = fsm.with_init(|ctx| {
        ctx.next_internal("boot");
        Ok("s")
    });
    let (_node, _m) = start(fsm).await;
    expect(&mut log, &["s internal:boot"]).await;
}

#[tokio::test]
async fn inserted_events_see_the_new_state() {
    let (fsm, mut log) = Fsm::<false>::new("a", |state, ev, ctx| match (state, ev) {
        ("a", Event::Cast("go")) => {
            ctx.next_internal("check");
            Transition::NextState("b")
        }
        _ => Transition::KeepState,
    });
    let (_node, m) = start(fsm).await;
    m.cast("go").unwrap();
    expect(&mut log, &["a cast:go", "b internal:check"]).await;
}
