//! A worker for supervisor tests: reports its start and its orderly stop on a channel, so a
//! test can check start order, stop order and restarts without sleeping.

use actor_core::supervisor::{ChildSpec, SupervisorRef};
use actor_core::{Actor, Context, ExitReason, Node, Pid, ReplyTo};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Started(String),
    Stopped(String, ExitReason),
}

pub enum WMsg {
    Crash(ExitReason),
    Panic,
    Ping(ReplyTo<String>),
}

#[derive(Clone)]
pub struct Worker {
    pub name: String,
    pub tx: mpsc::UnboundedSender<Ev>,
    /// Traps exits, so a supervisor's shutdown runs `stopped`.
    pub trap: bool,
    /// How long `stopped` takes.
    pub stop_delay: Duration,
}

impl Worker {
    pub fn new(name: &str, tx: &mpsc::UnboundedSender<Ev>) -> Worker {
        Worker {
            name: name.to_string(),
            tx: tx.clone(),
            trap: true,
            stop_delay: Duration::ZERO,
        }
    }
}

impl Actor for Worker {
    type Msg = WMsg;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(self.trap);
        let _ = self.tx.send(Ev::Started(self.name.clone()));
        Ok(())
    }
    async fn handle(&mut self, msg: WMsg, ctx: &mut Context<Self>) {
        match msg {
            WMsg::Crash(r) => ctx.stop(r),
            WMsg::Panic => panic!("worker {} crashed", self.name),
            WMsg::Ping(r) => {
                r.send(self.name.clone());
            }
        }
    }
    async fn stopped(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        if !self.stop_delay.is_zero() {
            tokio::time::sleep(self.stop_delay).await;
        }
        let _ = self.tx.send(Ev::Stopped(self.name.clone(), reason.clone()));
    }
}

pub fn worker(name: &str, tx: &mpsc::UnboundedSender<Ev>) -> ChildSpec {
    let w = Worker::new(name, tx);
    ChildSpec::worker(name, move || w.clone())
}

pub async fn pid_of(sup: &SupervisorRef, id: &str) -> Option<Pid> {
    sup.which_children()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .and_then(|c| c.pid)
}

/// The children's pids in start order (`which_children` answers newest first, as OTP).
pub async fn pids(sup: &SupervisorRef) -> Vec<Option<Pid>> {
    sup.which_children()
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|c| c.pid)
        .collect()
}

/// The children's ids in start order.
pub async fn ids(sup: &SupervisorRef) -> Vec<String> {
    sup.which_children()
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|c| c.id)
        .collect()
}

/// Makes the child `id` stop itself with `reason`.
pub async fn crash(node: &Node, sup: &SupervisorRef, id: &str, reason: ExitReason) -> Pid {
    let pid = pid_of(sup, id).await.expect("child running");
    node.actor_ref::<WMsg>(pid)
        .unwrap()
        .tell(WMsg::Crash(reason))
        .unwrap();
    pid
}

pub async fn next(rx: &mut mpsc::UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("event within 10 s")
        .expect("channel open")
}

pub async fn expect(rx: &mut mpsc::UnboundedReceiver<Ev>, want: &[Ev]) {
    for w in want {
        assert_eq!(&next(rx).await, w);
    }
}

pub fn started(n: &str) -> Ev {
    Ev::Started(n.to_string())
}

pub fn stopped(n: &str, r: ExitReason) -> Ev {
    Ev::Stopped(n.to_string(), r)
}

/// Start attempts of a gated child: each attempt hands the test a sender on which it answers
/// `true` (start the worker) or `false` (fail the start).
pub type Gate = mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<bool>>;

/// A worker named `name` whose every start waits for the test's decision through the [`Gate`].
pub fn gated(name: &str, tx: &mpsc::UnboundedSender<Ev>) -> (ChildSpec, Gate) {
    use actor_core::supervisor::child_opts;
    use actor_core::SpawnError;
    use futures::future::BoxFuture;
    let (gate_tx, gate_rx) = mpsc::unbounded_channel();
    let w = Worker::new(name, tx);
    let spec = ChildSpec::from_fn(name, move |node: Node, sup: Pid| {
        let (answer, decision) = tokio::sync::oneshot::channel();
        let _ = gate_tx.send(answer);
        let w = w.clone();
        Box::pin(async move {
            if decision.await.unwrap_or(false) {
                node.spawn_opts(w, child_opts(sup)).await.map(|r| r.pid())
            } else {
                Err(SpawnError::Init(ExitReason::error("refused")))
            }
        }) as BoxFuture<'static, _>
    });
    (spec, gate_rx)
}

/// Waits for the next start attempt through `gate` and answers it.
pub async fn attempt(gate: &mut Gate, ok: bool) {
    let answer = tokio::time::timeout(Duration::from_secs(10), gate.recv())
        .await
        .expect("a start attempt within 10 s")
        .expect("gate open");
    answer.send(ok).unwrap();
}

/// Queues a request to the supervisor now (deterministically ahead of anything the supervisor
/// sends itself later) and returns the receiver of its answer.
pub fn queue<R: Send + 'static>(
    sup: &SupervisorRef,
    make: impl FnOnce(ReplyTo<R>) -> actor_core::supervisor::SupervisorMsg,
) -> tokio::sync::oneshot::Receiver<Result<R, ExitReason>> {
    let (r, rx) = ReplyTo::pair();
    assert!(sup.actor_ref().tell(make(r)).is_ok());
    rx
}
