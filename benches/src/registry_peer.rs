//! The `actor-registry` peer: W9, the local gproc-style registry (names only).
//!
//! ractor has no gproc-style registry (only its global name table and process groups), so W9
//! has no ractor peer.

use crate::{rate, Counts, Metrics};
use actor_core::{Actor, Context, Node, ReplyTo};
use actor_registry::{Key, Kind, Registry};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODE: &str = "bench@localhost";

/// Tasks doing the lookups, concurrently.
const LOOKUP_TASKS: u64 = 2;

/// W9: an actor that does nothing; it only holds a name.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _msg: (), _ctx: &mut Context<Self>) {}
}

/// W9: register one unique name per (already spawned) actor, look up random registered names
/// from concurrent tasks, then unregister every name. The keys are built before the clock
/// starts; each phase is timed on its own.
pub async fn w9_registry(c: Counts) -> Metrics {
    let node = Node::new(NODE);
    let reg = Registry::new(&node);
    let n = c.reg_names;
    let mut pids = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    for _ in 0..n {
        let a = node.spawn(Idle).await.expect("spawn");
        pids.push(a.pid());
        actors.push(a);
    }
    let keys: Arc<Vec<Key>> = Arc::new((0..n as i64).map(|i| Key::from(("worker", i))).collect());
    let reg_keys: Vec<Key> = keys.to_vec();
    let unreg_keys: Vec<Key> = keys.to_vec();

    // register
    let start = Instant::now();
    for (k, &pid) in reg_keys.into_iter().zip(&pids) {
        reg.register(Kind::Name, k, pid, ()).expect("register");
    }
    let register = rate(n as u64, start.elapsed());

    // where: random registered names (xorshift64), split over tasks on the runtime's workers
    let per_task = c.reg_lookups / LOOKUP_TASKS;
    let start = Instant::now();
    let tasks: Vec<_> = (0..LOOKUP_TASKS)
        .map(|t| {
            let reg = reg.clone();
            let keys = keys.clone();
            tokio::spawn(async move {
                let len = keys.len() as u64;
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ t;
                let mut found = 0u64;
                for _ in 0..per_task {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    found += u64::from(reg.where_(&keys[(x % len) as usize]).is_some());
                }
                found
            })
        })
        .collect();
    let mut found = 0;
    for task in tasks {
        found += task.await.expect("lookup task panicked");
    }
    let lookups = per_task * LOOKUP_TASKS;
    let where_ = rate(lookups, start.elapsed());
    assert_eq!(found, lookups, "every lookup must find its name");

    // unregister
    let start = Instant::now();
    for (k, &pid) in unreg_keys.into_iter().zip(&pids) {
        reg.unregister(Kind::Name, k, pid).expect("unregister");
    }
    let unregister = rate(n as u64, start.elapsed());
    assert!(
        keys.iter().all(|k| reg.where_(k).is_none()),
        "a name survived unregister"
    );

    drop(actors);
    let (by_ref, via) = via_calls(&node, &reg, c.calls / 5).await;
    vec![
        ("register", register),
        ("where", where_),
        ("unregister", unregister),
        ("call_by_ref", by_ref),
        ("call_via", via),
    ]
}

/// The W9 `via` lines: sequential calls (`u64` -> `u64 + 1`) to one named actor, by its
/// reference and by its name (a `NamedRef`, resolved at every call), interleaved in rounds
/// so both see the same machine; calls per second of each.
async fn via_calls(node: &Node, reg: &Registry, calls: u64) -> (f64, f64) {
    struct Echo;
    impl Actor for Echo {
        type Msg = (u64, ReplyTo<u64>);
        async fn handle(&mut self, (n, r): Self::Msg, _: &mut Context<Self>) {
            r.send(n + 1);
        }
    }
    let echo = node.spawn(Echo).await.expect("spawn");
    reg.register(Kind::Name, "echo", echo.pid(), ())
        .expect("register");
    let named = reg.via::<(u64, ReplyTo<u64>)>("echo");
    let t = Duration::from_secs(10);
    for i in 0..calls / 10 {
        echo.call(|r| (i, r), t).await.expect("warm-up");
        named.call(|r| (i, r), t).await.expect("warm-up");
    }
    let (mut by_ref, mut via) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u64 = 10;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for i in 0..calls / ROUNDS {
            echo.call(|r| (i, r), t).await.expect("call by ref");
        }
        by_ref += start.elapsed();
        let start = Instant::now();
        for i in 0..calls / ROUNDS {
            named.call(|r| (i, r), t).await.expect("call by name");
        }
        via += start.elapsed();
    }
    (rate(calls, by_ref), rate(calls, via))
}
