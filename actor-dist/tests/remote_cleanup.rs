//! What an actor leaves behind across a node link goes with it: monitors held on a remote
//! target are removed there (the target's node is told), a killed actor's remote callers get
//! its reason at once, and structured exit reasons cross the wire unchanged.
mod common;
use actor_core::{Actor, CallError, Context, ExitReason, Pid, ReplyTo, Term};
use actor_dist::Tracked;
use common::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Monitors a (remote) target twice, then stops without demonitoring.
struct Watcher {
    target: Pid,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.target);
        ctx.monitor(self.target);
        ctx.stop(ExitReason::Normal);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_watchers_that_exit_leave_nothing_on_the_target_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let target = b.node().spawn(Probe::new()).await.unwrap();
    for _ in 0..1_000 {
        let (_w, exit) = a
            .node()
            .spawn_monitor(Watcher {
                target: target.pid(),
            })
            .await
            .unwrap();
        assert_eq!(exit.await, ExitReason::Normal);
    }
    // A call from A orders after every demonitor A sent (one ordered connection).
    let remote = a.actor_ref::<Cmd>(target.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(b.node().monitor_count(target.pid()), 0);
    assert_eq!(a.tracked(), Tracked::default());
    assert_eq!(b.tracked(), Tracked::default());
}

#[derive(Serialize, Deserialize)]
enum PMsg {
    Park(ReplyTo<u64>),
    Parked(ReplyTo<usize>),
}

impl actor_dist::Message for PMsg {
    const NAME: &'static str = "test.PMsg";
}

/// Keeps every request it gets unanswered.
struct Parker(Vec<ReplyTo<u64>>);

impl Actor for Parker {
    type Msg = PMsg;
    async fn handle(&mut self, msg: PMsg, _: &mut Context<Self>) {
        match msg {
            PMsg::Park(r) => self.0.push(r),
            PMsg::Parked(r) => {
                r.send(self.0.len());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_callers_of_a_killed_actor_get_killed_at_once() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    a.register::<PMsg>();
    b.register::<PMsg>();
    connect(&a, &b).await;
    let parker = b.node().spawn(Parker(Vec::new())).await.unwrap();
    let remote = a.actor_ref::<PMsg>(parker.pid()).unwrap();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let r = remote.clone();
            tokio::spawn(async move { r.call(PMsg::Park, Duration::from_secs(60)).await })
        })
        .collect();
    // Wait (by round trips) until all ten are parked.
    while parker.call(PMsg::Parked, T).await.unwrap() < 10 {
        tokio::task::yield_now().await;
    }
    let start = tokio::time::Instant::now();
    b.node().exit(parker.pid(), ExitReason::Kill);
    for c in calls {
        assert_eq!(c.await.unwrap(), Err(CallError::Exit(ExitReason::Killed)));
    }
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_exit_reasons_cross_nodes_unchanged() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let watcher = a
        .node()
        .spawn(Probe {
            trap: true,
            events: Some(tx),
            dist: Some(a.clone()),
        })
        .await
        .unwrap();
    let target = b.node().spawn(Probe::new()).await.unwrap();
    watcher
        .call(|r| Cmd::Monitor(target.pid(), r), T)
        .await
        .unwrap();
    let reason = ExitReason::error(Term::tuple([
        Term::atom("quota_exceeded"),
        "acme".into(),
        Term::Int(3),
        Term::list([target.pid().into()]),
    ]));
    a.actor_ref::<Cmd>(target.pid())
        .unwrap()
        .tell(Cmd::Stop(reason.clone()))
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev, Event::Down(target.pid(), reason));
}
