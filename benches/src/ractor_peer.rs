//! The ractor 0.16 peer (default features, no `cluster`): the workloads written as a ractor
//! user writes them (`Actor::spawn`, `cast`, `call` with `RpcReplyPort`, `stop`).

use crate::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// W1: an actor that does nothing.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<()>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// W1: spawn the actors one after another (`Actor::spawn` returns once `pre_start` ran), then
/// stop them all and await every join handle.
pub async fn w1_spawn(c: Counts) -> Metrics {
    let mut actors = Vec::with_capacity(c.spawns);
    let rss_before = rss_bytes();
    let start = Instant::now();
    for _ in 0..c.spawns {
        actors.push(Actor::spawn(None, Idle, ()).await.expect("spawn"));
    }
    let spawn_phase = start.elapsed();
    let rss_alive = rss_bytes();
    for (actor, _) in &actors {
        actor.stop(None);
    }
    for (_, handle) in actors {
        handle.await.expect("join");
    }
    let total = start.elapsed();
    spawn_metrics(c.spawns, spawn_phase, total, rss_before, rss_alive)
}

/// W2: counts `u64`s and signals when it has `target` of them.
struct Counter;

struct CounterState {
    n: u64,
    target: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Counter {
    type Msg = u64;
    type State = CounterState;
    type Arguments = (u64, oneshot::Sender<()>);

    async fn pre_start(
        &self,
        _me: ActorRef<u64>,
        (target, done): Self::Arguments,
    ) -> Result<CounterState, ActorProcessingErr> {
        Ok(CounterState {
            n: 0,
            target,
            done: Some(done),
        })
    }

    async fn handle(
        &self,
        _me: ActorRef<u64>,
        _msg: u64,
        state: &mut CounterState,
    ) -> Result<(), ActorProcessingErr> {
        state.n += 1;
        if state.n == state.target {
            if let Some(done) = state.done.take() {
                let _ = done.send(());
            }
        }
        Ok(())
    }
}

/// W2: the driver casts `tells` numbers to one counting actor.
pub async fn w2_tell(c: Counts) -> Metrics {
    let (done, finished) = oneshot::channel();
    let (counter, _handle) = Actor::spawn(None, Counter, (c.tells, done))
        .await
        .expect("spawn");
    let start = Instant::now();
    for i in 0..c.tells {
        counter.cast(i).expect("cast");
    }
    finished.await.expect("counter signal");
    vec![("throughput", rate(c.tells, start.elapsed()))]
}

/// W2b: `senders` tasks each cast `tells_per_sender` numbers to one counting actor.
pub async fn w2b_many_senders(c: Counts) -> Metrics {
    let total = c.senders as u64 * c.tells_per_sender;
    let (done, finished) = oneshot::channel();
    let (counter, _handle) = Actor::spawn(None, Counter, (total, done))
        .await
        .expect("spawn");
    let start = Instant::now();
    for _ in 0..c.senders {
        let counter = counter.clone();
        let n = c.tells_per_sender;
        tokio::spawn(async move {
            for i in 0..n {
                counter.cast(i).expect("cast");
            }
        });
    }
    finished.await.expect("counter signal");
    vec![("throughput", rate(total, start.elapsed()))]
}

/// W3: replies `n + 1` to `n`.
struct Incr;

struct Ask(u64, RpcReplyPort<u64>);

impl Actor for Incr {
    type Msg = Ask;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<Ask>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _me: ActorRef<Ask>,
        Ask(n, reply): Ask,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(n + 1);
        Ok(())
    }
}

/// One call, as `call!` / `call_t!` make it.
async fn ask(incr: &ActorRef<Ask>, n: u64) -> u64 {
    match incr.call(|reply| Ask(n, reply), Some(CALL_TIMEOUT)).await {
        Ok(CallResult::Success(v)) => v,
        Ok(CallResult::Timeout) => panic!("call timed out"),
        Ok(CallResult::SenderError) => panic!("call got no reply"),
        Err(e) => panic!("call failed: {e}"),
    }
}

/// W3: sequential calls, after an unmeasured warm-up.
pub async fn w3_ask(c: Counts) -> Metrics {
    let (incr, _handle) = Actor::spawn(None, Incr, ()).await.expect("spawn");
    for i in 0..c.warmup {
        assert_eq!(ask(&incr, i).await, i + 1);
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.calls {
        let sent = Instant::now();
        let v = ask(&incr, i).await;
        lat.record_since(sent);
        assert_eq!(v, i + 1);
    }
    lat.metrics(start.elapsed())
}

enum RingMsg {
    SetNext(ActorRef<RingMsg>),
    Token(u64),
}

/// W4: one actor of the ring (state: the next actor); the one that receives the token at 0
/// signals.
struct RingNode {
    done: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Actor for RingNode {
    type Msg = RingMsg;
    type State = Option<ActorRef<RingMsg>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _me: ActorRef<RingMsg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _me: ActorRef<RingMsg>,
        msg: RingMsg,
        next: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RingMsg::SetNext(n) => *next = Some(n),
            RingMsg::Token(0) => {
                if let Some(done) = self.done.lock().expect("lock").take() {
                    let _ = done.send(());
                }
            }
            RingMsg::Token(n) => {
                let next = next.as_ref().expect("ring not closed");
                next.cast(RingMsg::Token(n - 1))?;
            }
        }
        Ok(())
    }
}

/// W4: a ring of `ring` actors; the token starts at actor 0 with `hops`.
pub async fn w4_ring(c: Counts) -> Metrics {
    let (done, finished) = oneshot::channel();
    let done = Arc::new(Mutex::new(Some(done)));
    let mut ring = Vec::with_capacity(c.ring);
    for _ in 0..c.ring {
        let actor = RingNode { done: done.clone() };
        let (r, _handle) = Actor::spawn(None, actor, ()).await.expect("spawn");
        ring.push(r);
    }
    for (i, actor) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].clone();
        actor.cast(RingMsg::SetNext(next)).expect("set next");
    }
    let start = Instant::now();
    ring[0].cast(RingMsg::Token(c.hops)).expect("first send");
    finished.await.expect("ring signal");
    vec![("throughput", rate(c.hops, start.elapsed()))]
}
