//! Conflict stamps are logical: a peer that sends registration stamps far in the past or the
//! future by its wall clock (here forged through the decodable sync message, as a peer with a
//! skewed clock would stamp them) does not win the conflicts, every replica decides alike,
//! and a far-future stamp does not run the other replicas' clocks up.
mod common;
use actor_core::ReplyTo;
use actor_registry::{Candidate, GlobalConfig, GlobalStats, Key, Kind, Value};
use common::cluster::{config, eventually, member_with, synced, Member, SCOPE, T};
use common::forged::{server_of, Forged, ForgedOp};
use common::spawn;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn wall_micros(skew: Duration, ahead: bool) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let t = if ahead { now + skew } else { now - skew };
    t.as_micros() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_a_skewed_clock_does_not_win_the_conflicts() {
    // Every replica records the stamps its resolver saw (and keeps the default decision).
    let seen: Arc<Mutex<Vec<(String, Candidate, Candidate)>>> = Arc::default();
    let mut ms: Vec<Member> = Vec::new();
    for name in ["a@127.0.0.1", "b@127.0.0.1", "c@127.0.0.1"] {
        let seen = seen.clone();
        let me = name.to_string();
        let g = GlobalConfig::new(SCOPE).resolver(move |_k, x, y| {
            seen.lock()
                .unwrap()
                .push((me.clone(), x.clone(), y.clone()));
            if (x.registered_at, x.pid) <= (y.registered_at, y.pid) {
                x.pid
            } else {
                y.pid
            }
        });
        ms.push(member_with(name, config(), g).await);
    }
    for i in 0..3 {
        for j in i + 1..3 {
            ms[i]
                .dist
                .connect(ms[j].name(), ms[j].dist.local_addr())
                .await
                .unwrap();
        }
    }
    for m in &ms {
        synced(m, 2).await;
    }
    let (a, b, c) = (&ms[0], &ms[1], &ms[2]);

    // A holds ten names, registered the ordinary way.
    let on_a = spawn(a.node()).await;
    for i in 0..10 {
        a.global
            .register(Kind::Name, ("k", i), on_a.pid(), ())
            .unwrap();
    }
    c.global.await_name(("k", 9), T).await.unwrap();

    // B's node claims the same names for its own process, stamped by a wall clock a year
    // behind (even keys) or a year ahead (odd keys), sent to A and C as B's server would.
    let on_b = spawn(b.node()).await;
    let b_server = server_of(&a.dist, b.name()).await;
    let year = Duration::from_secs(365 * 24 * 3600);
    let ops = || {
        (0..10)
            .map(|i| ForgedOp::Reg {
                kind: Kind::Name,
                key: Key::from(("k", i)),
                pid: on_b.pid(),
                value: Value::None,
                at: wall_micros(year, i % 2 == 1),
            })
            .collect::<Vec<_>>()
    };
    for target in [a, c] {
        let server = server_of(&b.dist, target.name()).await;
        let forged = b.dist.actor_ref::<Forged>(server).unwrap();
        let (ack, rx) = ReplyTo::pair();
        forged
            .tell(Forged::Ops {
                from: b_server,
                ops: ops(),
                ack: Some(ack),
            })
            .unwrap();
        // The replica answers whether every claimed name is held: it is not.
        assert!(matches!(
            tokio::time::timeout(T, rx).await,
            Ok(Ok(Ok(false)))
        ));
    }

    // Every conflict went to A's holder, on both replicas that met it, and every replica
    // still agrees on every name.
    let conflicts = seen.lock().unwrap().clone();
    assert_eq!(conflicts.len(), 20, "ten conflicts met on A and ten on C");
    for m in &ms {
        for i in 0..10 {
            assert_eq!(m.global.where_(&Key::from(("k", i))), Some(on_a.pid()));
        }
    }
    // The honest stamps are small logical ones, not wall time.
    for (_, x, y) in &conflicts {
        let honest = if x.pid == on_a.pid() { x } else { y };
        assert!(honest.registered_at < 1_000, "{honest:?}");
    }
    // The far-future stamps did not run A's or C's clock up: the next registration on A is
    // still stamped far below the forged ones.
    for m in [a, c] {
        assert!(GlobalStats::get(&m.global.stats().skewed) >= 5);
    }
    let later = spawn(a.node()).await;
    a.global
        .register(Kind::Name, "later", later.pid(), ())
        .unwrap();
    eventually(|| b.global.where_(&Key::from("later")) == Some(later.pid())).await;
    // A conflict on "later" shows its stamp: forge one from B with stamp 1 << 40.
    let server = server_of(&b.dist, a.name()).await;
    let forged = b.dist.actor_ref::<Forged>(server).unwrap();
    let (ack, rx) = ReplyTo::pair();
    forged
        .tell(Forged::Ops {
            from: b_server,
            ops: vec![ForgedOp::Reg {
                kind: Kind::Name,
                key: Key::from("later"),
                pid: on_b.pid(),
                value: Value::None,
                at: 1 << 40,
            }],
            ack: Some(ack),
        })
        .unwrap();
    assert!(matches!(
        tokio::time::timeout(T, rx).await,
        Ok(Ok(Ok(false)))
    ));
    assert_eq!(a.global.where_(&Key::from("later")), Some(later.pid()));
    let (_, x, y) = seen.lock().unwrap().last().cloned().unwrap();
    let honest = if x.pid == later.pid() { x } else { y };
    assert!(honest.registered_at < 1_000, "{honest:?}");
}
