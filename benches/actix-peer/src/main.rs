//! The actix 0.13 peer of the benches (W1 spawn, W2 tell, W2b many senders, W3 ask, W4
//! ring), written as an actix user writes them: `Actor` with `Context<Self>`, `Handler<M>`
//! impls, `start()`, `do_send`, `send(..).await`, on actix's own single-threaded `System`
//! (peer `actix-1t`: every actor and the driver share one thread, as actix always runs).
//!
//! actix has no spawn that awaits start-up and no join handle, so W1 does as the Erlang peer
//! does: each actor reports `started` and `stopped` through a channel, and the driver counts
//! the reports. Built on its own (its own workspace, lock file and target directory), so
//! that its dependencies' features never change how the other peers are built:
//!
//! ```text
//! actix-peer <W1|W2|W2b|W3|W4> 1t [--quick]   # prints metric=value lines
//! ```

#[allow(dead_code)]
#[path = "../../src/common.rs"]
mod common;

use actix::prelude::*;
use common::{rate, rss_bytes, spawn_metrics, Counts, Latencies, Metrics};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// W1: an actor that does nothing but report its start and its stop.
struct Idle {
    events: mpsc::UnboundedSender<()>,
}

impl Actor for Idle {
    type Context = Context<Self>;
    fn started(&mut self, _ctx: &mut Context<Self>) {
        let _ = self.events.send(());
    }
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let _ = self.events.send(());
    }
}

/// W1: stops the actor.
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

impl Handler<Stop> for Idle {
    type Result = ();
    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// W1: start the actors one after another and count their `started` reports; then stop them
/// all and count their `stopped` reports.
async fn w1_spawn(c: Counts) -> Metrics {
    let (events, mut reports) = mpsc::unbounded_channel();
    let mut addrs = Vec::with_capacity(c.spawns);
    let rss_before = rss_bytes();
    let start = Instant::now();
    for _ in 0..c.spawns {
        addrs.push(
            Idle {
                events: events.clone(),
            }
            .start(),
        );
    }
    for _ in 0..c.spawns {
        reports.recv().await.expect("started");
    }
    let spawn_phase = start.elapsed();
    let rss_alive = rss_bytes();
    for a in &addrs {
        a.do_send(Stop);
    }
    for _ in 0..c.spawns {
        reports.recv().await.expect("stopped");
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
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Tell(u64);

impl Handler<Tell> for Counter {
    type Result = ();
    fn handle(&mut self, Tell(n): Tell, _ctx: &mut Context<Self>) {
        std::hint::black_box(n);
        self.n += 1;
        if self.n == self.target {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// One W2 or W2b run: `senders` tasks (0: the driver itself) `do_send` `per_sender` each.
async fn tell_run(senders: usize, per_sender: u64) -> f64 {
    let total = senders.max(1) as u64 * per_sender;
    let (done, finished) = oneshot::channel();
    let counter = Counter {
        n: 0,
        target: total,
        done: Some(done),
    }
    .start();
    let start = Instant::now();
    if senders == 0 {
        for i in 0..per_sender {
            counter.do_send(Tell(i));
        }
    } else {
        for _ in 0..senders {
            let counter = counter.clone();
            actix::spawn(async move {
                for i in 0..per_sender {
                    counter.do_send(Tell(i));
                }
            });
        }
    }
    finished.await.expect("counter signal");
    rate(total, start.elapsed())
}

/// W2: the driver `do_send`s `tells` numbers to one counting actor.
async fn w2_tell(c: Counts) -> Metrics {
    vec![("throughput", tell_run(0, c.tells).await)]
}

/// W2b: `senders` tasks `do_send` to one counting actor.
async fn w2b_many_senders(c: Counts) -> Metrics {
    vec![("throughput", tell_run(c.senders, c.tells_per_sender).await)]
}

/// W3: replies `n + 1` to `n`.
struct Incr;

impl Actor for Incr {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "u64")]
struct Ask(u64);

impl Handler<Ask> for Incr {
    type Result = u64;
    fn handle(&mut self, Ask(n): Ask, _ctx: &mut Context<Self>) -> u64 {
        n + 1
    }
}

/// W3: sequential `send(..).await`s, after an unmeasured warm-up.
async fn w3_ask(c: Counts) -> Metrics {
    let incr = Incr.start();
    for i in 0..c.warmup {
        assert_eq!(incr.send(Ask(i)).await.expect("send"), i + 1);
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.calls {
        let sent = Instant::now();
        let v = incr.send(Ask(i)).await.expect("send");
        lat.record_since(sent);
        assert_eq!(v, i + 1);
    }
    lat.metrics(start.elapsed())
}

/// W4: one actor of the ring; the one that receives the token at 0 signals.
struct RingNode {
    next: Option<Addr<RingNode>>,
    done: Rc<RefCell<Option<oneshot::Sender<()>>>>,
}

impl Actor for RingNode {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
enum RingMsg {
    SetNext(Addr<RingNode>),
    Token(u64),
}

impl Handler<RingMsg> for RingNode {
    type Result = ();
    fn handle(&mut self, msg: RingMsg, _ctx: &mut Context<Self>) {
        match msg {
            RingMsg::SetNext(next) => self.next = Some(next),
            RingMsg::Token(0) => {
                if let Some(done) = self.done.borrow_mut().take() {
                    let _ = done.send(());
                }
            }
            RingMsg::Token(n) => {
                let next = self.next.as_ref().expect("ring not closed");
                next.do_send(RingMsg::Token(n - 1));
            }
        }
    }
}

/// W4: a ring of `ring` actors; the token starts at actor 0 with `hops`.
async fn w4_ring(c: Counts) -> Metrics {
    let (done, finished) = oneshot::channel();
    let done = Rc::new(RefCell::new(Some(done)));
    let ring: Vec<Addr<RingNode>> = (0..c.ring)
        .map(|_| {
            RingNode {
                next: None,
                done: done.clone(),
            }
            .start()
        })
        .collect();
    for (i, actor) in ring.iter().enumerate() {
        actor.do_send(RingMsg::SetNext(ring[(i + 1) % ring.len()].clone()));
    }
    let start = Instant::now();
    ring[0].do_send(RingMsg::Token(c.hops));
    finished.await.expect("ring signal");
    vec![("throughput", rate(c.hops, start.elapsed()))]
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let c = if quick { Counts::QUICK } else { Counts::FULL };
    let (Some(workload), Some("1t")) = (args.first(), args.get(1).map(String::as_str)) else {
        eprintln!("usage: actix-peer <W1|W2|W2b|W3|W4> 1t [--quick] (actix runs single-threaded)");
        return std::process::ExitCode::from(2);
    };
    // A hung workload must not hang the whole run.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(600));
        eprintln!("actix-peer: the workload did not finish within 600 s");
        std::process::exit(3);
    });
    let system = System::new();
    let metrics = match workload.as_str() {
        "W1" => system.block_on(w1_spawn(c)),
        "W2" => system.block_on(w2_tell(c)),
        "W2b" => system.block_on(w2b_many_senders(c)),
        "W3" => system.block_on(w3_ask(c)),
        "W4" => system.block_on(w4_ring(c)),
        w => {
            eprintln!("actix-peer: no workload {w}");
            return std::process::ExitCode::from(2);
        }
    };
    common::print_metrics(&metrics);
    std::process::exit(0);
}
