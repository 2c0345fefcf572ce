//! A property test of replication: random operations on two nodes of one global scope, run
//! without waiting for each other (so the same name is often taken on both at once); after
//! two rounds of acknowledged fences both replicas hold exactly the same entries and groups,
//! each name has one holder, and each replica is internally consistent.
mod common;
use actor_core::{ActorRef, ExitReason, Pid};
use actor_registry::{GlobalConfig, Key, Kind, OnConflict, Value};
use common::cluster::{config, member_with, synced, Member, SCOPE, T};
use common::{spawn, Msg};
use proptest::prelude::*;
use std::sync::Arc;

const PIDS: usize = 2;
const KEYS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Register(Kind, usize, usize, i64),
    Unregister(Kind, usize, usize),
    SetValue(Kind, usize, usize, i64),
    UpdateCounter(usize, usize, i64),
    Join(usize, usize),
    Leave(usize, usize),
    Kill(usize),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Name),
        1 => Just(Kind::Property),
        2 => Just(Kind::Counter),
        1 => Just(Kind::AggregatedCounter)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let (k, p) = (0..KEYS, 0..PIDS);
    prop_oneof![
        5 => (kind(), k.clone(), p.clone(), -3i64..3).prop_map(|(a, b, c, d)| Op::Register(a, b, c, d)),
        2 => (kind(), k.clone(), p.clone()).prop_map(|(a, b, c)| Op::Unregister(a, b, c)),
        2 => (kind(), k.clone(), p.clone(), -3i64..3).prop_map(|(a, b, c, d)| Op::SetValue(a, b, c, d)),
        2 => (k.clone(), p.clone(), -3i64..3).prop_map(|(a, b, c)| Op::UpdateCounter(a, b, c)),
        2 => (0..2usize, p.clone()).prop_map(|(a, b)| Op::Join(a, b)),
        1 => (0..2usize, p.clone()).prop_map(|(a, b)| Op::Leave(a, b)),
        1 => p.prop_map(Op::Kill),
    ]
}

fn key(k: usize) -> Key {
    Key::from(("k", k as i64))
}

fn group(g: usize) -> Key {
    Key::from(("g", g as i64))
}

async fn run(script: Vec<(usize, Op)>) {
    // Losers are told by a no-op callback, so they live on (their exits would race the fences).
    let g = GlobalConfig::new(SCOPE).on_conflict(OnConflict::Notify(Arc::new(|_| {})));
    let ms: Vec<Member> = vec![
        member_with("r0@127.0.0.1", config(), g.clone()).await,
        member_with("r1@127.0.0.1", config(), g).await,
    ];
    ms[0]
        .dist
        .connect(ms[1].name(), ms[1].dist.local_addr())
        .await
        .unwrap();
    synced(&ms[0], 1).await;
    synced(&ms[1], 1).await;
    let mut actors: Vec<Vec<ActorRef<Msg>>> = Vec::new();
    for m in &ms {
        let mut v = Vec::new();
        for _ in 0..PIDS {
            v.push(spawn(m.node()).await);
        }
        actors.push(v);
    }
    for (n, op) in script {
        let reg = &ms[n].global;
        // Errors are expected (taken names, keys not held...): only convergence is checked.
        match op {
            Op::Register(kind, k, p, v) => {
                let _ = reg.register(kind, key(k), actors[n][p].pid(), v);
            }
            Op::Unregister(kind, k, p) => {
                let _ = reg.unregister(kind, key(k), actors[n][p].pid());
            }
            Op::SetValue(kind, k, p, v) => {
                let _ = reg.set_value(kind, key(k), actors[n][p].pid(), Value::Int(v));
            }
            Op::UpdateCounter(k, p, d) => {
                let _ = reg.update_counter(key(k), actors[n][p].pid(), d);
            }
            Op::Join(g, p) => {
                let _ = reg.join(group(g), [actors[n][p].pid()]);
            }
            Op::Leave(g, p) => {
                let _ = reg.leave(group(g), [actors[n][p].pid()]);
            }
            Op::Kill(p) => {
                let pid = actors[n][p].pid();
                ms[n].node().exit(pid, ExitReason::Kill);
                ms[n].node().wait_exit(pid).await;
                // Wait for the registry's cleanup, so its change precedes the fences.
                while !reg.keys_of(pid).is_empty()
                    || (0..2).any(|g| reg.members(&group(g)).contains(&pid))
                {
                    tokio::task::yield_now().await;
                }
                actors[n][p] = spawn(ms[n].node()).await;
            }
        }
        if n == 1 {
            tokio::task::yield_now().await;
        }
    }
    // Two rounds of fences: after the first, each side has applied everything the other
    // sent before it; after the second, also what conflicts made either side withdraw.
    for round in 0..2 {
        let mut fences = Vec::new();
        for (n, m) in ms.iter().enumerate() {
            let f = spawn(m.node()).await;
            let g = m.global.clone();
            fences.push(tokio::spawn(async move {
                g.register_sync(Kind::Name, ("fence", round, n as i64), f.pid(), (), T)
                    .await
            }));
        }
        for f in fences {
            f.await.unwrap().unwrap();
        }
    }
    let (a, b) = (&ms[0].global, &ms[1].global);
    a.assert_consistent();
    b.assert_consistent();
    assert_eq!(a.list(), b.list());
    for g in 0..2 {
        let mut x: Vec<Pid> = a.members(&group(g));
        let mut y: Vec<Pid> = b.members(&group(g));
        x.sort();
        y.sort();
        assert_eq!(x, y, "group {g}");
    }
    for k in 0..KEYS {
        assert_eq!(a.where_(&key(k)), b.where_(&key(k)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn replicas_converge(script in proptest::collection::vec((0..2usize, op()), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run(script));
    }
}
