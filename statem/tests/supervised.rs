//! A machine under a supervisor: started from a child spec, restarted fresh after a panic,
//! shut down with `terminate` when it traps exits; linked and monitored like any actor.
mod common;
use actor_core::supervisor::{Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node, SpawnOpts};
use common::*;
use statem::{Event, Statem, StatemRef, Transition};

fn counter_factory(
    log: tokio::sync::mpsc::UnboundedSender<Rec>,
) -> impl Fn() -> Fsm<true> + Send + Sync + 'static {
    move || {
        let (mut fsm, _) = Fsm::<true>::new("zero", |state, ev, _| match (state, ev) {
            (_, Event::Cast("panic")) => panic!("crash"),
            ("zero", Event::Cast("inc")) => Transition::NextState("one"),
            (s, Event::Call(_, to)) => {
                to.send(s.to_string());
                Transition::KeepState
            }
            _ => Transition::KeepState,
        });
        fsm.log = log.clone();
        fsm
    }
}

async fn child(node: &Node, sup: &actor_core::supervisor::SupervisorRef) -> StatemRef<Fsm<true>> {
    let children = sup.which_children().await.unwrap();
    StatemRef::from_pid(node, children[0].pid.expect("running")).unwrap()
}

#[tokio::test]
async fn a_supervised_machine_is_restarted_fresh_after_a_panic() {
    let node = Node::new("sup@localhost");
    let (tx, mut log) = tokio::sync::mpsc::unbounded_channel();
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .child(Statem::child_spec("counter", counter_factory(tx)));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut log, &["zero enter:zero"]).await;
    let m = child(&node, &sup).await;
    m.cast("inc").unwrap();
    assert_eq!(m.call("state?", T).await, Ok("one".to_string()));
    let exit = node.wait_exit(m.pid());
    m.cast("panic").unwrap();
    assert_eq!(exit.await, ExitReason::Panic("crash".to_string()));
    // The restarted machine starts from its initial state.
    expect(
        &mut log,
        &[
            "zero cast:inc",
            "one enter:zero",
            "one call:state?",
            "one cast:panic",
            "zero enter:zero",
        ],
    )
    .await;
    let again = child(&node, &sup).await;
    assert_ne!(again.pid(), m.pid());
    assert_eq!(again.call("state?", T).await, Ok("zero".to_string()));
}

#[tokio::test]
async fn a_supervisor_shutdown_runs_terminate_when_the_machine_traps_exits() {
    let node = Node::new("sup@localhost");
    let (tx, mut log) = tokio::sync::mpsc::unbounded_channel();
    let opts = SpawnOpts {
        trap_exit: true,
        ..SpawnOpts::default()
    };
    let spec = SupervisorSpec::new(Strategy::OneForOne).child(Statem::child_spec_opts(
        "counter",
        opts,
        counter_factory(tx),
    ));
    let sup = Supervisor::start(&node, spec).await.unwrap();
    expect(&mut log, &["zero enter:zero"]).await;
    sup.terminate_child("counter").await.unwrap();
    expect(&mut log, &["terminate:shutdown:zero"]).await;
}

#[tokio::test]
async fn a_linked_machine_takes_its_linked_process_down_and_monitors_fire() {
    let node = Node::new("sup@localhost");
    let (tx, mut log) = tokio::sync::mpsc::unbounded_channel();
    let first = Statem::start(&node, counter_factory(tx.clone())())
        .await
        .unwrap();
    let opts = SpawnOpts {
        link: Some(first.pid()),
        ..SpawnOpts::default()
    };
    let second = Statem::start_opts(&node, counter_factory(tx)(), opts)
        .await
        .unwrap();
    expect(&mut log, &["zero enter:zero", "zero enter:zero"]).await;
    let (first_exit, second_exit) = (node.wait_exit(first.pid()), node.wait_exit(second.pid()));
    second.cast("panic").unwrap();
    assert_eq!(second_exit.await, ExitReason::Panic("crash".to_string()));
    assert_eq!(first_exit.await, ExitReason::Panic("crash".to_string()));
}
