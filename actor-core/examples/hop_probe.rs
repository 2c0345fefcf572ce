//! A small program to count instructions of one ring hop or one call with
//! `valgrind --tool=callgrind` (instruction counts do not depend on the machine's load).
//!
//! ```text
//! cargo build --release -p actor-core --example hop_probe
//! valgrind --tool=callgrind target/release/examples/hop_probe ring-1t 20000
//! valgrind --tool=callgrind target/release/examples/hop_probe ring-1t 120000
//! ```
//!
//! Per operation = (Ir at the larger N − Ir at the smaller N) / (difference of N): start-up,
//! spawning and tear-down cancel out. Modes: `ring` (100-actor ring, W4's actor, multi-thread
//! runtime with two workers), `ring-1t` (current-thread runtime), `ask-task` (W3's sequential
//! calls from a task on a two-worker runtime), `ask-1t`, `tell` (W2: one sender, one counting
//! actor, current-thread).

use actor_core::{Actor, ActorRef, Context, Node, ReplyTo};
use std::time::Duration;
use tokio::sync::oneshot;

enum RingMsg {
    SetNext(ActorRef<RingMsg>),
    Token(u64),
}

struct RingNode {
    next: Option<ActorRef<RingMsg>>,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for RingNode {
    type Msg = RingMsg;
    async fn handle(&mut self, msg: RingMsg, _ctx: &mut Context<Self>) {
        match msg {
            RingMsg::SetNext(next) => self.next = Some(next),
            RingMsg::Token(0) => {
                if let Some(done) = self.done.take() {
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

async fn ring(hops: u64) {
    let node = Node::new("probe@localhost");
    let mut ring = Vec::new();
    let mut finished = Vec::new();
    for _ in 0..100 {
        let (done, fin) = oneshot::channel();
        finished.push(fin);
        let actor = RingNode {
            next: None,
            done: Some(done),
        };
        ring.push(node.spawn(actor).await.expect("spawn"));
    }
    for (i, actor) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].clone();
        actor.tell(RingMsg::SetNext(next)).expect("set next");
    }
    ring[0].tell(RingMsg::Token(hops)).expect("first send");
    // The token reaches 0 at actor `hops % 100`.
    finished
        .swap_remove((hops % 100) as usize)
        .await
        .expect("ring signal");
}

struct Incr;

impl Actor for Incr {
    type Msg = (u64, ReplyTo<u64>);
    async fn handle(&mut self, (n, reply): Self::Msg, _ctx: &mut Context<Self>) {
        reply.send(n + 1);
    }
}

async fn ask(calls: u64) {
    let node = Node::new("probe@localhost");
    let incr = node.spawn(Incr).await.expect("spawn");
    for i in 0..calls {
        let r = incr.call(|reply| (i, reply), Duration::from_secs(10)).await;
        assert_eq!(r, Ok(i + 1));
    }
}

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

async fn tell(tells: u64) {
    let node = Node::new("probe@localhost");
    let (done, finished) = oneshot::channel();
    let counter = node
        .spawn(Counter {
            n: 0,
            target: tells,
            done: Some(done),
        })
        .await
        .expect("spawn");
    for i in 0..tells {
        counter.tell(i).expect("tell");
    }
    finished.await.expect("counter signal");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: hop_probe <ring|ring-1t|ask-task|ask-1t|tell> <N>");
        std::process::exit(2);
    };
    let multi = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let single = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let t = std::time::Instant::now();
    match mode.as_str() {
        "ring" => multi().block_on(ring(n)),
        "ring-1t" => single().block_on(ring(n)),
        "ask-task" => {
            let rt = multi();
            rt.block_on(async { tokio::spawn(ask(n)).await.expect("driver") })
        }
        "ask-1t" => single().block_on(ask(n)),
        "tell" => single().block_on(tell(n)),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    let took = t.elapsed();
    println!(
        "{mode} n={n} took={took:?} rate={:.0}/s",
        n as f64 / took.as_secs_f64()
    );
    // Skip tearing down the runtime and the actors still alive.
    std::process::exit(0);
}
