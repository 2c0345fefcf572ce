//! A rough W9 check (run with `--release -- --ignored --nocapture`); the benchmark proper
//! lives in the benches crate.
mod common;
use actor_core::Node;
use actor_registry::{Key, Kind, Registry};
use common::spawn;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn w9_smoke() {
    let node = Node::new("w9@test");
    let reg = Registry::new(&node);
    let n = 100_000;
    let mut actors = Vec::with_capacity(n);
    for _ in 0..n {
        actors.push(spawn(&node).await);
    }
    let keys: Vec<Key> = (0..n as i64).map(|i| Key::from(("worker", i))).collect();
    let t = Instant::now();
    for (k, a) in keys.iter().zip(&actors) {
        reg.register(Kind::Name, k.clone(), a.pid(), ()).unwrap();
    }
    let reg_s = n as f64 / t.elapsed().as_secs_f64();
    let lookups = 1_000_000usize;
    let t = Instant::now();
    let tasks: Vec<_> = (0..2)
        .map(|w| {
            let reg = reg.clone();
            let keys = keys.clone();
            tokio::spawn(async move {
                let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ w;
                let mut found = 0;
                for _ in 0..lookups / 2 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    found += reg
                        .where_(&keys[(x % keys.len() as u64) as usize])
                        .is_some() as usize;
                }
                found
            })
        })
        .collect();
    let mut found = 0;
    for t in tasks {
        found += t.await.unwrap();
    }
    let where_s = lookups as f64 / t.elapsed().as_secs_f64();
    assert_eq!(found, lookups);
    let t = Instant::now();
    for (k, a) in keys.iter().zip(&actors) {
        reg.unregister(Kind::Name, k.clone(), a.pid()).unwrap();
    }
    let unreg_s = n as f64 / t.elapsed().as_secs_f64();
    println!("register {reg_s:.0}/s  where {where_s:.0}/s  unregister {unreg_s:.0}/s");
}
