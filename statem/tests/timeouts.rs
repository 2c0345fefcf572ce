//! Timeouts: state, event and generic timeouts; set, restart, update, cancel; zero timeouts;
//! absolute times; automatic cancellation; stale timer messages. All in paused time.
mod common;
use common::*;
use statem::{Event, Info, Transition};
use std::time::Duration;
use tokio::time::Instant;

/// A machine driven by scripts: every event's content is looked up in `scripts` (or is a
/// script itself if it contains a comma). A script is commands separated by spaces, fields by
/// commas:
/// `st,<ms>,<c>` / `st,@<ms>,<c>` (absolute, from the start) / `st,upd,<c>` / `st,cancel`,
/// the same with `et` for the event timeout and `g,<name>,...` for generic timeouts,
/// `next,<c>` (insert internal), `goto,<state>`, `hib`.
fn scripted(
    scripts: &'static [(&'static str, &'static str)],
) -> (Fsm<false>, tokio::sync::mpsc::UnboundedReceiver<Rec>) {
    let t0 = Instant::now();
    Fsm::new("s", move |_, ev, ctx| {
        let content = match &ev {
            Event::Cast(c)
            | Event::Internal(c)
            | Event::StateTimeout(c)
            | Event::EventTimeout(c)
            | Event::GenericTimeout(_, c)
            | Event::Info(Info::Msg(c)) => *c,
            Event::Call(c, _) => *c,
            _ => "",
        };
        if let Event::Call(_, to) = ev {
            to.send("ok".to_string());
        }
        let script = match scripts.iter().find(|(k, _)| *k == content) {
            Some((_, s)) => *s,
            None if content.contains(',') => content,
            None => "",
        };
        let mut result = Transition::KeepState;
        for cmd in script.split_whitespace() {
            let f: Vec<&'static str> = cmd.split(',').collect();
            let ms = |s: &str| Duration::from_millis(s.trim_start_matches('@').parse().unwrap());
            match f.as_slice() {
                ["st", "cancel"] => ctx.cancel_state_timeout(),
                ["st", "upd", c] => ctx.update_state_timeout(*c),
                ["st", t, c] if t.starts_with('@') => ctx.state_timeout_at(t0 + ms(t), c),
                ["st", t, c] => ctx.state_timeout(ms(t), c),
                ["et", "cancel"] => ctx.cancel_event_timeout(),
                ["et", "upd", c] => ctx.update_event_timeout(*c),
                ["et", t, c] if t.starts_with('@') => ctx.event_timeout_at(t0 + ms(t), c),
                ["et", t, c] => ctx.event_timeout(ms(t), c),
                ["g", n, "cancel"] => ctx.cancel_generic_timeout(*n),
                ["g", n, "upd", c] => ctx.update_generic_timeout(*n, *c),
                ["g", n, t, c] if t.starts_with('@') => ctx.generic_timeout_at(n, t0 + ms(t), c),
                ["g", n, t, c] => ctx.generic_timeout(n, ms(t), c),
                ["next", c] => ctx.next_internal(*c),
                ["goto", s] => result = Transition::NextState(*s),
                ["hib"] => ctx.hibernate(),
                other => panic!("bad command {other:?}"),
            }
        }
        result
    })
}

/// The next record, as `(ms, line)`.
async fn at(log: &mut tokio::sync::mpsc::UnboundedReceiver<Rec>) -> (u64, String) {
    let r = next_rec(log).await;
    (r.ms, r.line)
}

/// Asserts the next records, with their times.
async fn expect_at(log: &mut tokio::sync::mpsc::UnboundedReceiver<Rec>, want: &[(u64, &str)]) {
    for (ms, line) in want {
        assert_eq!(at(log).await, (*ms, line.to_string()));
    }
}

// ---- state timeout -------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn state_timeout_fires_after_its_time() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a").unwrap();
    expect_at(
        &mut log,
        &[(0, "s cast:st,100,a"), (100, "s state_timeout:a")],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_state_change_cancels_the_state_timeout() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a g,probe,500,probe").unwrap();
    m.cast("goto,t").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,a g,probe,500,probe"),
            (0, "s cast:goto,t"),
            (500, "t timeout(probe):probe"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn keep_state_and_next_state_to_the_same_state_keep_the_state_timeout() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a").unwrap();
    m.cast("noop").unwrap();
    m.cast("goto,s").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,a"),
            (0, "s cast:noop"),
            (0, "s cast:goto,s"),
            (100, "s state_timeout:a"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_state_timeout_set_with_a_state_change_belongs_to_the_new_state() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,old").unwrap();
    m.cast("goto,t st,200,new").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,old"),
            (0, "s cast:goto,t st,200,new"),
            (200, "t state_timeout:new"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn setting_a_running_state_timeout_restarts_it() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a").unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    m.cast("st,100,b").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,a"),
            (50, "s cast:st,100,b"),
            (150, "s state_timeout:b"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn update_changes_the_content_of_a_running_state_timeout_and_keeps_its_time() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a").unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    m.cast("st,upd,b").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,a"),
            (30, "s cast:st,upd,b"),
            (100, "s state_timeout:b"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn update_of_a_state_timeout_that_is_not_running_fires_it_at_once() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,upd,b").unwrap();
    m.cast("after").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,upd,b"),
            (0, "s state_timeout:b"),
            (0, "s cast:after"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_the_state_timeout() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("st,100,a g,probe,500,probe").unwrap();
    m.cast("st,cancel").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,100,a g,probe,500,probe"),
            (0, "s cast:st,cancel"),
            (500, "s timeout(probe):probe"),
        ],
    )
    .await;
}

// ---- last action of each kind wins ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn for_each_timer_the_last_action_wins() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    // state: set 100 then set 200 -> 200; generic x: set then cancel -> none; generic y:
    // cancel then set -> set; event timeout: set 50 then set 300 (fires, no event comes).
    m.cast("st,100,a st,200,b g,x,50,x g,x,cancel g,y,cancel g,y,250,y et,50,e1 et,300,e2")
        .unwrap();
    let _ = at(&mut log).await;
    expect_at(
        &mut log,
        &[
            (200, "s state_timeout:b"),
            // The state timeout event cancelled the event timeout (any event does).
            (250, "s timeout(y):y"),
        ],
    )
    .await;
    m.cast("g,probe,1000,probe").unwrap();
    expect_at(
        &mut log,
        &[
            (250, "s cast:g,probe,1000,probe"),
            (1250, "s timeout(probe):probe"),
        ],
    )
    .await;
}

// ---- event timeout -------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_event_timeout_fires_when_no_event_arrives() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("et,100,e").unwrap();
    expect_at(&mut log, &[(0, "s cast:et,100,e"), (100, "s timeout:e")]).await;
}

#[tokio::test(start_paused = true)]
async fn any_event_cancels_the_event_timeout() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    // A cast cancels it.
    m.cast("et,100,e g,probe,500,probe").unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    m.cast("noop").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:et,100,e g,probe,500,probe"),
            (50, "s cast:noop"),
            (500, "s timeout(probe):probe"),
        ],
    )
    .await;
    // So does a call, an info message, and a timeout event of another kind.
    m.cast("et,100,e").unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    m.call("sync", T).await.unwrap();
    m.cast("et,100,e").unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    m.info("hello").unwrap();
    m.cast("et,100,e g,x,50,x g,probe,500,probe").unwrap();
    expect_at(
        &mut log,
        &[
            (500, "s cast:et,100,e"),
            (510, "s call:sync"),
            (510, "s cast:et,100,e"),
            (520, "s info:hello"),
            (520, "s cast:et,100,e g,x,50,x g,probe,500,probe"),
            (570, "s timeout(x):x"),
            (1020, "s timeout(probe):probe"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_zero_event_timeout_fires_only_if_no_event_is_queued() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    // With an inserted event queued: that event cancels it.
    m.cast("et,0,e next,x").unwrap();
    // With nothing queued it fires before the next external event.
    m.cast("et,0,e2").unwrap();
    m.cast("after").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:et,0,e next,x"),
            (0, "s internal:x"),
            (0, "s cast:et,0,e2"),
            (0, "s timeout:e2"),
            (0, "s cast:after"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn updating_the_event_timeout_fires_it_at_once() {
    // The event being handled has cancelled it already, so it is never running.
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("et,100,e").unwrap();
    m.cast("et,upd,u").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:et,100,e"),
            (0, "s cast:et,upd,u"),
            (0, "s timeout:u"),
        ],
    )
    .await;
}

// ---- generic timeouts ----------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn generic_timeouts_are_independent_and_never_cancelled_automatically() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("g,a,100,a g,b,200,b").unwrap();
    m.cast("goto,t").unwrap();
    m.cast("noop").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:g,a,100,a g,b,200,b"),
            (0, "s cast:goto,t"),
            (0, "t cast:noop"),
            (100, "t timeout(a):a"),
            (200, "t timeout(b):b"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn generic_timeouts_are_updated_restarted_and_cancelled_by_name() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("g,a,100,a g,b,100,b g,c,100,c").unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    m.cast("g,a,upd,a2 g,b,cancel g,c,100,c2").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:g,a,100,a g,b,100,b g,c,100,c"),
            (40, "s cast:g,a,upd,a2 g,b,cancel g,c,100,c2"),
            (100, "s timeout(a):a2"),
            (140, "s timeout(c):c2"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn update_of_a_generic_timeout_that_is_not_running_fires_it_at_once() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("g,z,upd,now").unwrap();
    expect_at(
        &mut log,
        &[(0, "s cast:g,z,upd,now"), (0, "s timeout(z):now")],
    )
    .await;
}

// ---- zero timeouts and queue order ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn zero_timeouts_come_after_queued_events_and_before_new_external_ones() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("g,b,0,g0 next,x st,0,s0 next,y").unwrap();
    m.cast("later").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:g,b,0,g0 next,x st,0,s0 next,y"),
            (0, "s internal:x"),
            (0, "s internal:y"),
            // In the order the actions were given.
            (0, "s timeout(b):g0"),
            (0, "s state_timeout:s0"),
            (0, "s cast:later"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_zero_state_timeout_is_cancelled_by_a_state_change_of_a_queued_event() {
    let (fsm, mut log) = scripted(&[("x", "goto,t")]);
    let (_node, m) = start(fsm).await;
    m.cast("st,0,s0 g,g,0,g0 next,x").unwrap();
    m.cast("later").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:st,0,s0 g,g,0,g0 next,x"),
            (0, "s internal:x"),
            // The state timeout went with the state; the generic one stays.
            (0, "t timeout(g):g0"),
            (0, "t cast:later"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn restarting_a_pending_zero_timeout_with_a_time_replaces_it() {
    let (fsm, mut log) = scripted(&[("a", "g,b,100,b2")]);
    let (_node, m) = start(fsm).await;
    m.cast("g,a,0,a g,b,0,b").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:g,a,0,a g,b,0,b"),
            (0, "s timeout(a):a"),
            (100, "s timeout(b):b2"),
        ],
    )
    .await;
}

// ---- absolute times ------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn timeouts_at_absolute_instants() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    m.cast("st,@250,s g,a,@300,a et,@200,e").unwrap();
    expect_at(
        &mut log,
        &[
            (100, "s cast:st,@250,s g,a,@300,a et,@200,e"),
            (200, "s timeout:e"),
            (250, "s state_timeout:s"),
            (300, "s timeout(a):a"),
        ],
    )
    .await;
    // An instant in the past fires at once, through the timer service (after the external
    // events already queued, unlike a zero timeout).
    m.cast("g,p,@10,past").unwrap();
    m.cast("queued").unwrap();
    expect_at(
        &mut log,
        &[
            (300, "s cast:g,p,@10,past"),
            (300, "s cast:queued"),
            (300, "s timeout(p):past"),
        ],
    )
    .await;
}

// ---- stale timer messages ------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_timer_cancelled_or_restarted_after_it_fired_is_not_delivered() {
    // `a` and `b` are due at the same instant: the timer service sends both messages before
    // the machine handles `a`, whose handler then cancels `b` (and restarts `c`). The queued
    // messages of `b` and `c` are stale and must be ignored.
    let (fsm, mut log) = scripted(&[("a", "g,b,cancel g,c,50,c2")]);
    let (_node, m) = start(fsm).await;
    m.cast("g,a,100,a").unwrap();
    m.cast("g,b,100,b").unwrap();
    m.cast("g,c,100,c").unwrap();
    m.cast("g,probe,500,probe").unwrap();
    for _ in 0..4 {
        let _ = at(&mut log).await;
    }
    expect_at(
        &mut log,
        &[
            (100, "s timeout(a):a"),
            (150, "s timeout(c):c2"),
            (500, "s timeout(probe):probe"),
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_state_timeout_whose_message_is_queued_is_dropped_by_a_state_change() {
    let (fsm, mut log) = scripted(&[("a", "goto,t")]);
    let (_node, m) = start(fsm).await;
    m.cast("g,a,100,a").unwrap();
    m.cast("st,100,st g,probe,500,probe").unwrap();
    for _ in 0..2 {
        let _ = at(&mut log).await;
    }
    expect_at(
        &mut log,
        &[(100, "s timeout(a):a"), (500, "t timeout(probe):probe")],
    )
    .await;
}

// ---- hibernate -----------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn hibernate_keeps_timers_and_the_queue() {
    let (fsm, mut log) = scripted(&[]);
    let (_node, m) = start(fsm).await;
    m.cast("hib st,100,a g,b,200,b next,x").unwrap();
    m.cast("hib").unwrap();
    expect_at(
        &mut log,
        &[
            (0, "s cast:hib st,100,a g,b,200,b next,x"),
            (0, "s internal:x"),
            (0, "s cast:hib"),
            (100, "s state_timeout:a"),
            (200, "s timeout(b):b"),
        ],
    )
    .await;
}

// ---- a stopped machine leaves no timer behind ------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_stopped_machines_timers_are_cancelled_at_once() {
    let (fsm, mut log) = scripted(&[("arm", "st,1800000,a et,1800000,b g,x,1800000,c")]);
    let (node, m) = start(fsm).await;
    m.cast("arm").unwrap();
    next(&mut log).await;
    assert_eq!(
        node.pending_timers(),
        3,
        "state, event and generic timeouts"
    );
    let exit = node.wait_exit(m.pid());
    node.exit(m.pid(), actor_core::ExitReason::Kill);
    exit.await;
    assert_eq!(
        node.pending_timers(),
        0,
        "a dead machine's 30-minute timeouts go with it"
    );
}
