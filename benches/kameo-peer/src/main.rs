//! The kameo 0.22 peer of the benches (W1 spawn, W2 tell, W2b many senders, W3 ask, W4
//! ring), written as a kameo user writes them: `#[derive(Actor)]`, `Message<M>` impls,
//! `spawn` (default mailbox: bounded, 64), `tell(..).await`, `ask(..).await`,
//! `wait_for_startup`, `stop_gracefully`, `wait_for_shutdown`.
//!
//! Built on its own (its own workspace, lock file and target directory): kameo's default
//! `tracing` feature turns on tokio's, which must not reach the other peers' lines. The main
//! bench binary runs it as a child process:
//!
//! ```text
//! kameo-peer <W1|W2|W2b|W3|W4> <main|task|1t> [--quick]   # prints metric=value lines
//! ```

#[allow(dead_code)]
#[path = "../../src/common.rs"]
mod common;

use common::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use kameo::actor::{ActorRef, Spawn};
use kameo::mailbox;
use kameo::message::{Context, Message};
use kameo::Actor;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// W1: an actor that does nothing.
#[derive(Actor)]
struct Idle;

/// W1: spawn the actors one after another, await `wait_for_startup` on each, then
/// `stop_gracefully` them all and await every `wait_for_shutdown`.
async fn w1_spawn(c: Counts) -> Metrics {
    let mut refs = Vec::with_capacity(c.spawns);
    let rss_before = rss_bytes();
    let start = Instant::now();
    for _ in 0..c.spawns {
        refs.push(Idle::spawn(Idle));
    }
    for r in &refs {
        r.wait_for_startup().await;
    }
    let spawn_phase = start.elapsed();
    let rss_alive = rss_bytes();
    for r in &refs {
        r.stop_gracefully().await.expect("stop");
    }
    for r in &refs {
        r.wait_for_shutdown().await;
    }
    let total = start.elapsed();
    spawn_metrics(c.spawns, spawn_phase, total, rss_before, rss_alive)
}

/// W2: counts `u64`s and signals when it has `target` of them.
#[derive(Actor)]
struct Counter {
    n: u64,
    target: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Message<u64> for Counter {
    type Reply = ();
    async fn handle(&mut self, _msg: u64, _ctx: &mut Context<Self, ()>) {
        self.n += 1;
        if self.n == self.target {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// One W2 or W2b run: `senders` tasks (0: the driver itself) tell `per_sender` numbers each.
async fn tell_run(senders: usize, per_sender: u64, unbounded: bool) -> f64 {
    let total = senders.max(1) as u64 * per_sender;
    let (done, finished) = oneshot::channel();
    let counter = Counter {
        n: 0,
        target: total,
        done: Some(done),
    };
    let counter = if unbounded {
        Counter::spawn_with_mailbox(counter, mailbox::unbounded())
    } else {
        Counter::spawn(counter)
    };
    counter.wait_for_startup().await;
    let start = Instant::now();
    if senders == 0 {
        for i in 0..per_sender {
            counter.tell(i).await.expect("tell");
        }
    } else {
        for _ in 0..senders {
            let counter = counter.clone();
            tokio::spawn(async move {
                for i in 0..per_sender {
                    counter.tell(i).await.expect("tell");
                }
            });
        }
    }
    finished.await.expect("counter signal");
    rate(total, start.elapsed())
}

/// W2: the driver tells `tells` numbers to one counting actor, with the default mailbox
/// and with an unbounded one.
async fn w2_tell(c: Counts) -> Metrics {
    let bounded = tell_run(0, c.tells, false).await;
    let unbounded = tell_run(0, c.tells, true).await;
    vec![
        ("throughput", bounded),
        ("throughput_unbounded_mailbox", unbounded),
    ]
}

/// W2b: `senders` tasks to one counting actor, default and unbounded mailbox.
async fn w2b_many_senders(c: Counts) -> Metrics {
    let bounded = tell_run(c.senders, c.tells_per_sender, false).await;
    let unbounded = tell_run(c.senders, c.tells_per_sender, true).await;
    vec![
        ("throughput", bounded),
        ("throughput_unbounded_mailbox", unbounded),
    ]
}

/// W3: replies `n + 1` to `n`.
#[derive(Actor)]
struct Incr;

impl Message<u64> for Incr {
    type Reply = u64;
    async fn handle(&mut self, n: u64, _ctx: &mut Context<Self, u64>) -> u64 {
        n + 1
    }
}

/// W3: sequential asks, after an unmeasured warm-up.
async fn w3_ask(c: Counts) -> Metrics {
    let incr = Incr::spawn(Incr);
    incr.wait_for_startup().await;
    for i in 0..c.warmup {
        assert_eq!(incr.ask(i).await.expect("ask"), i + 1);
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.calls {
        let sent = Instant::now();
        let v = incr.ask(i).await.expect("ask");
        lat.record_since(sent);
        assert_eq!(v, i + 1);
    }
    lat.metrics(start.elapsed())
}

/// W4: one actor of the ring; the one that receives the token at 0 signals.
#[derive(Actor)]
struct RingNode {
    next: Option<ActorRef<RingNode>>,
    done: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

struct SetNext(ActorRef<RingNode>);
struct Token(u64);

impl Message<SetNext> for RingNode {
    type Reply = ();
    async fn handle(&mut self, SetNext(next): SetNext, _ctx: &mut Context<Self, ()>) {
        self.next = Some(next);
    }
}

impl Message<Token> for RingNode {
    type Reply = ();
    async fn handle(&mut self, Token(n): Token, _ctx: &mut Context<Self, ()>) {
        if n == 0 {
            if let Some(done) = self.done.lock().expect("lock").take() {
                let _ = done.send(());
            }
        } else {
            let next = self.next.as_ref().expect("ring not closed");
            next.tell(Token(n - 1)).await.expect("forward");
        }
    }
}

/// W4: a ring of `ring` actors; the token starts at actor 0 with `hops`.
async fn w4_ring(c: Counts) -> Metrics {
    let (done, finished) = oneshot::channel();
    let done = Arc::new(Mutex::new(Some(done)));
    let mut ring = Vec::with_capacity(c.ring);
    for _ in 0..c.ring {
        let r = RingNode::spawn(RingNode {
            next: None,
            done: done.clone(),
        });
        r.wait_for_startup().await;
        ring.push(r);
    }
    for (i, actor) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].clone();
        actor.tell(SetNext(next)).await.expect("set next");
    }
    let start = Instant::now();
    ring[0].tell(Token(c.hops)).await.expect("first send");
    finished.await.expect("ring signal");
    vec![("throughput", rate(c.hops, start.elapsed()))]
}

type Driver = Pin<Box<dyn Future<Output = Metrics> + Send>>;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let c = if quick { Counts::QUICK } else { Counts::FULL };
    let (Some(workload), Some(placement)) = (args.first(), args.get(1)) else {
        eprintln!("usage: kameo-peer <W1|W2|W2b|W3|W4> <main|task|1t> [--quick]");
        return std::process::ExitCode::from(2);
    };
    let fut: Driver = match workload.as_str() {
        "W1" => Box::pin(w1_spawn(c)),
        "W2" => Box::pin(w2_tell(c)),
        "W2b" => Box::pin(w2b_many_senders(c)),
        "W3" => Box::pin(w3_ask(c)),
        "W4" => Box::pin(w4_ring(c)),
        w => {
            eprintln!("kameo-peer: no workload {w}");
            return std::process::ExitCode::from(2);
        }
    };
    run_driver(placement, fut)
}

/// Runs `fut` on a runtime for `placement` (`main`: multi-thread, in `block_on`; `task`:
/// multi-thread, spawned onto a worker; `1t`: current-thread), prints its `metric=value`
/// lines and exits without tearing the runtime down.
pub fn run_driver(
    placement: &str,
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = Metrics> + Send>>,
) -> std::process::ExitCode {
    // A hung workload must not hang the whole run.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(600));
        eprintln!("peer: the workload did not finish within 600 s");
        std::process::exit(3);
    });
    let rt = match placement {
        "1t" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        "main" | "task" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        p => {
            eprintln!("unknown placement {p}");
            return std::process::ExitCode::from(2);
        }
    }
    .expect("tokio runtime");
    let task = placement == "task";
    let metrics = rt.block_on(async move {
        if task {
            tokio::spawn(fut).await.expect("driver task panicked")
        } else {
            fut.await
        }
    });
    common::print_metrics(&metrics);
    std::process::exit(0);
}
