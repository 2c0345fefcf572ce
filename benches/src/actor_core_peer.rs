//! The `actor-core` peer: the workloads written as a user of this framework writes them.

use crate::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use actor_core::{Actor, ActorRef, Context, ExitReason, Node, ReplyTo};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const NODE: &str = "bench@localhost";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// W1: an actor that does nothing.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
}

/// W1: spawn the actors one after another (each `spawn` returns once `started` ran), then stop
/// them all and await every exit.
pub async fn w1_spawn(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let mut refs = Vec::with_capacity(c.spawns);
    let rss_before = rss_bytes();
    let start = Instant::now();
    for _ in 0..c.spawns {
        refs.push(node.spawn(Idle).await.expect("spawn"));
    }
    let spawn_phase = start.elapsed();
    let rss_alive = rss_bytes();
    let exits: Vec<_> = refs.iter().map(|r| node.wait_exit(r.pid())).collect();
    for r in &refs {
        r.stop(ExitReason::Normal);
    }
    for exit in exits {
        let reason = exit.await;
        assert!(reason.is_normal(), "actor exited with {reason:?}");
    }
    let total = start.elapsed();
    spawn_metrics(c.spawns, spawn_phase, total, rss_before, rss_alive)
}

/// W2: counts `u64`s and signals when it has `target` of them.
struct Counter {
    n: u64,
    target: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Counter {
    type Msg = u64;
    async fn handle(&mut self, _msg: u64, _ctx: &mut Context<Self>) {
        self.n += 1;
        if self.n == self.target {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// W2: the driver tells `tells` numbers to one counting actor.
pub async fn w2_tell(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let (done, finished) = oneshot::channel();
    let counter = node
        .spawn(Counter {
            n: 0,
            target: c.tells,
            done: Some(done),
        })
        .await
        .expect("spawn");
    let start = Instant::now();
    for i in 0..c.tells {
        counter.tell(i).expect("tell");
    }
    finished.await.expect("counter signal");
    vec![("throughput", rate(c.tells, start.elapsed()))]
}

/// W2b: `senders` tasks each tell `tells_per_sender` numbers to one counting actor.
pub async fn w2b_many_senders(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let total = c.senders as u64 * c.tells_per_sender;
    let (done, finished) = oneshot::channel();
    let counter = node
        .spawn(Counter {
            n: 0,
            target: total,
            done: Some(done),
        })
        .await
        .expect("spawn");
    let start = Instant::now();
    for _ in 0..c.senders {
        let counter = counter.clone();
        let n = c.tells_per_sender;
        tokio::spawn(async move {
            for i in 0..n {
                counter.tell(i).expect("tell");
            }
        });
    }
    finished.await.expect("counter signal");
    vec![("throughput", rate(total, start.elapsed()))]
}

/// W3: replies `n + 1` to `n`.
struct Incr;

impl Actor for Incr {
    type Msg = (u64, ReplyTo<u64>);
    async fn handle(&mut self, (n, reply): Self::Msg, _ctx: &mut Context<Self>) {
        reply.send(n + 1);
    }
}

/// W3: sequential calls, after an unmeasured warm-up.
pub async fn w3_ask(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let incr = node.spawn(Incr).await.expect("spawn");
    for i in 0..c.warmup {
        let r = incr.call(|reply| (i, reply), CALL_TIMEOUT).await;
        assert_eq!(r, Ok(i + 1));
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.calls {
        let sent = Instant::now();
        let r = incr.call(|reply| (i, reply), CALL_TIMEOUT).await;
        lat.record_since(sent);
        assert_eq!(r, Ok(i + 1));
    }
    lat.metrics(start.elapsed())
}

enum RingMsg {
    SetNext(ActorRef<RingMsg>),
    Token(u64),
}

/// W4: one actor of the ring; the one that receives the token at 0 signals.
struct RingNode {
    next: Option<ActorRef<RingMsg>>,
    done: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Actor for RingNode {
    type Msg = RingMsg;
    async fn handle(&mut self, msg: RingMsg, _ctx: &mut Context<Self>) {
        match msg {
            RingMsg::SetNext(next) => self.next = Some(next),
            RingMsg::Token(0) => {
                if let Some(done) = self.done.lock().expect("lock").take() {
                    let _ = done.send(());
                }
            }
            RingMsg::Token(n) => {
                let next = self.next.as_ref().expect("ring not closed");
                next.tell(RingMsg::Token(n - 1)).expect("forward");
            }
        }
    }
}

/// W4: a ring of `ring` actors; the token starts at actor 0 with `hops`.
pub async fn w4_ring(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let (done, finished) = oneshot::channel();
    let done = Arc::new(Mutex::new(Some(done)));
    let mut ring = Vec::with_capacity(c.ring);
    for _ in 0..c.ring {
        let actor = RingNode {
            next: None,
            done: done.clone(),
        };
        ring.push(node.spawn(actor).await.expect("spawn"));
    }
    for (i, actor) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].clone();
        actor.tell(RingMsg::SetNext(next)).expect("set next");
    }
    let start = Instant::now();
    ring[0].tell(RingMsg::Token(c.hops)).expect("first send");
    finished.await.expect("ring signal");
    vec![("throughput", rate(c.hops, start.elapsed()))]
}
