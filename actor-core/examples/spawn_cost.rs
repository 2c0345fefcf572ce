//! Where one spawn and one stop go: W1 (spawn N idle actors one after another, stop them
//! all, await every exit) with a counting allocator, so the heap cost per actor is exact and
//! repeatable where timings and RSS are not.
//!
//! ```text
//! cargo run --release -p actor-core --example spawn_cost -- [N] [current]
//! ```
//!
//! Prints, per actor: allocations and bytes requested during the spawn phase, heap bytes
//! held while all N are alive, allocations during the stop phase, RSS delta, and the time
//! of each phase. `current` runs on a current-thread runtime (one thread: the cleanest
//! input for `valgrind --tool=callgrind`).

use actor_core::{Actor, Context, ExitReason, Node};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REQUESTED: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        REQUESTED.fetch_add(l.size() as u64, Relaxed);
        LIVE.fetch_add(l.size() as i64, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        REQUESTED.fetch_add(new as u64, Relaxed);
        LIVE.fetch_add(new as i64 - l.size() as i64, Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Idle;

impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
}

/// The floor: a bare task per "actor" that waits on a oneshot channel (its mailbox), then
/// ends; the driver keeps the sender and the join handle, as a runtime must keep a way to
/// reach and to await each actor.
async fn raw_tokio(n: usize) {
    let mut live = Vec::with_capacity(n);
    let (a0, l0, r0) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed), rss());
    let t0 = Instant::now();
    for _ in 0..n {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = rx.await;
        });
        live.push((tx, task));
    }
    let spawn = t0.elapsed();
    let (a1, l1, r1) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed), rss());
    let t1 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for (tx, task) in live {
        let _ = tx.send(());
        tasks.push(task);
    }
    for t in tasks {
        t.await.expect("task");
    }
    let stop = t1.elapsed();
    let per = |x: i64| x as f64 / n as f64;
    println!(
        "raw tokio: spawn allocs/task={:.2} heap bytes/task={:.1} rss bytes/task={:.1}",
        per((a1 - a0) as i64),
        per(l1 - l0),
        per(r1 - r0)
    );
    println!(
        "time: spawn {:.3} us/task, stop {:.3} us/task, spawn+stop {:.3} us/task",
        spawn.as_secs_f64() * 1e6 / n as f64,
        stop.as_secs_f64() * 1e6 / n as f64,
        (spawn + stop).as_secs_f64() * 1e6 / n as f64
    );
}

fn rss() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let opts: Vec<String> = args.collect();
    let current = opts.iter().any(|o| o == "current");
    let raw = opts.iter().any(|o| o == "raw");
    let rt = if current {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .expect("runtime");
    if raw {
        rt.block_on(raw_tokio(n));
        return;
    }
    rt.block_on(async {
        let node = Node::new("probe@localhost");
        // One spawn and stop first, so one-off set-up is not counted per actor.
        let warm = node.spawn(Idle).await.expect("spawn");
        let w = node.wait_exit(warm.pid());
        warm.stop(ExitReason::Normal);
        w.await;
        drop(warm);
        let mut refs = Vec::with_capacity(n);
        let mut exits = Vec::with_capacity(n);
        let (a0, q0, l0, r0) = (
            ALLOCS.load(Relaxed),
            REQUESTED.load(Relaxed),
            LIVE.load(Relaxed),
            rss(),
        );
        let t0 = Instant::now();
        for _ in 0..n {
            refs.push(node.spawn(Idle).await.expect("spawn"));
        }
        let spawn = t0.elapsed();
        let (a1, q1, l1, r1) = (
            ALLOCS.load(Relaxed),
            REQUESTED.load(Relaxed),
            LIVE.load(Relaxed),
            rss(),
        );
        for r in &refs {
            exits.push(node.wait_exit(r.pid()));
        }
        let a2 = ALLOCS.load(Relaxed);
        let t1 = Instant::now();
        for r in &refs {
            r.stop(ExitReason::Normal);
        }
        for e in exits.drain(..) {
            assert!(e.await.is_normal());
        }
        let stop = t1.elapsed();
        let a3 = ALLOCS.load(Relaxed);
        drop(refs);
        let l3 = LIVE.load(Relaxed);
        let per = |x: i64| x as f64 / n as f64;
        println!(
            "actors={n} runtime={}",
            if current { "current" } else { "multi" }
        );
        println!(
            "spawn: allocs/actor={:.2} bytes requested/actor={:.1}",
            per((a1 - a0) as i64),
            per((q1 - q0) as i64)
        );
        println!(
            "alive: heap bytes/actor={:.1} rss bytes/actor={:.1}",
            per(l1 - l0),
            per(r1 - r0)
        );
        println!("stop: allocs/actor={:.2}", per((a3 - a2) as i64));
        println!("after: heap bytes/actor still held={:.2}", per(l3 - l0));
        println!(
            "time: spawn {:.3} us/actor, stop {:.3} us/actor, spawn+stop {:.3} us/actor",
            spawn.as_secs_f64() * 1e6 / n as f64,
            stop.as_secs_f64() * 1e6 / n as f64,
            (spawn + stop).as_secs_f64() * 1e6 / n as f64
        );
    });
}
