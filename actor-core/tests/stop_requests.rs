//! Stop requests (OTP `proc_lib:stop`) keep their place in the mailbox whether or not anything
//! is queued when they arrive: what was sent before is handled, what is sent after never is,
//! only the first request's reason counts, and a kill still wins.

use actor_core::{Actor, Context, ExitReason, Node, Pid};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Log {
    handled: Vec<u32>,
    exits: Vec<Pid>,
    stopped: Vec<ExitReason>,
}

struct Recorder(Arc<Mutex<Log>>);

impl Actor for Recorder {
    type Msg = u32;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(true);
        Ok(())
    }
    async fn handle(&mut self, msg: u32, _ctx: &mut Context<Self>) {
        self.0.lock().unwrap().handled.push(msg);
    }
    async fn handle_exit(&mut self, from: Pid, _reason: ExitReason, _ctx: &mut Context<Self>) {
        self.0.lock().unwrap().exits.push(from);
    }
    async fn stopped(&mut self, reason: &ExitReason, _ctx: &mut Context<Self>) {
        self.0.lock().unwrap().stopped.push(reason.clone());
    }
}

// `#[tokio::test]` runs on one thread: the actor cannot run between the synchronous calls
// below, so each request really arrives at an idle (or a not yet woken) actor.

#[tokio::test]
async fn a_stop_to_an_idle_actor_comes_before_what_is_sent_after_it() {
    let node = Node::new("stop-idle@localhost");
    let log = Arc::new(Mutex::new(Log::default()));
    let (a, exit) = node.spawn_monitor(Recorder(log.clone())).await.unwrap();
    tokio::task::yield_now().await; // parked, waiting for mail
    assert!(a.stop(ExitReason::Shutdown));
    a.tell(1).unwrap();
    node.exit(a.pid(), ExitReason::error("trapped")); // a signal after the stop
    assert!(
        a.stop(ExitReason::Normal),
        "a later request is accepted and ignored"
    );
    let info = node.process_info(a.pid()).unwrap();
    assert_eq!(info.message_queue_len, 3, "stop, message, trapped exit");
    assert_eq!(
        exit.await,
        ExitReason::Shutdown,
        "the first request's reason"
    );
    let log = log.lock().unwrap();
    assert!(
        log.handled.is_empty(),
        "nothing sent after the stop is handled"
    );
    assert!(log.exits.is_empty(), "nor any signal that arrived after it");
    assert_eq!(log.stopped, vec![ExitReason::Shutdown]);
}

#[tokio::test]
async fn a_stop_behind_queued_messages_waits_for_them() {
    let node = Node::new("stop-queued@localhost");
    let log = Arc::new(Mutex::new(Log::default()));
    let (a, exit) = node.spawn_monitor(Recorder(log.clone())).await.unwrap();
    a.tell(1).unwrap();
    a.tell(2).unwrap();
    assert!(a.stop(ExitReason::Normal));
    a.tell(3).unwrap();
    assert_eq!(exit.await, ExitReason::Normal);
    let log = log.lock().unwrap();
    assert_eq!(log.handled, vec![1, 2]);
    assert_eq!(log.stopped, vec![ExitReason::Normal]);
}

#[tokio::test]
async fn a_kill_after_a_pending_stop_wins_and_skips_stopped() {
    let node = Node::new("stop-kill@localhost");
    let log = Arc::new(Mutex::new(Log::default()));
    let (a, exit) = node.spawn_monitor(Recorder(log.clone())).await.unwrap();
    tokio::task::yield_now().await;
    assert!(a.stop(ExitReason::Normal));
    node.exit(a.pid(), ExitReason::Kill);
    assert_eq!(exit.await, ExitReason::Killed);
    assert!(log.lock().unwrap().stopped.is_empty());
    assert!(!a.stop(ExitReason::Normal), "gone: no more requests");
    assert_eq!(node.cells_alive(), 1, "only the cell `a` still holds");
}

#[tokio::test]
async fn many_idle_actors_stop_and_leave_nothing_behind() {
    let node = Node::new("stop-many@localhost");
    let log = Arc::new(Mutex::new(Log::default()));
    let mut watches = Vec::new();
    for _ in 0..200 {
        let (a, exit) = node.spawn_monitor(Recorder(log.clone())).await.unwrap();
        assert!(a.stop(ExitReason::Normal));
        watches.push(exit);
    }
    for w in watches {
        assert_eq!(w.await, ExitReason::Normal);
    }
    assert_eq!(log.lock().unwrap().stopped.len(), 200);
    assert_eq!(node.process_count(), 0);
    assert_eq!(node.cells_alive(), 0);
}
