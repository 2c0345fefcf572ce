//! Malformed sync messages from a peer: undecodable ones are refused by the distribution
//! layer, well-formed but invalid ones are counted and skipped by the registry; neither
//! corrupts an entry or stops replication.
mod common;
use actor_core::{ExitReason, Pid};
use actor_dist::Message;
use actor_registry::{GlobalStats, Key, Kind, Value};
use common::cluster::{cluster, eventually, T};
use common::forged::{server_of, Forged, ForgedOp};
use common::spawn;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// Garbage under the registry's wire name.
#[derive(Serialize, Deserialize)]
struct Garbage(Vec<u8>);
impl Message for Garbage {
    const NAME: &'static str = "actor_registry.Sync";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sync_is_counted_and_corrupts_nothing() {
    let ms = cluster(3).await;
    let (a, b) = (&ms[0], &ms[1]);
    let on_a = spawn(a.node()).await;
    let on_b = spawn(b.node()).await;
    let on_c = spawn(ms[2].node()).await;
    a.global.register(Kind::Name, "a", on_a.pid(), 1).unwrap();
    b.global.register(Kind::Name, "b", on_b.pid(), 2).unwrap();
    ms[2]
        .global
        .register(Kind::Name, "c", on_c.pid(), 3)
        .unwrap();
    for k in ["a", "b", "c"] {
        a.global.await_name(k, T).await.unwrap();
    }
    let before = a.global.list();
    let a_server = server_of(&b.dist, a.name()).await;
    let b_server = server_of(&a.dist, b.name()).await;
    let bad_frames = a.dist.stats().bad_frames.load(Ordering::Relaxed)
        + a.dist.stats().undelivered.load(Ordering::Relaxed);

    // 1. Bytes that are not a sync message at all.
    let garbage = b.dist.actor_ref::<Garbage>(a_server).unwrap();
    garbage.tell(Garbage(vec![0xff; 40])).unwrap();
    garbage.tell(Garbage(vec![])).unwrap();

    // 2. Well-formed, but lying: changes about processes of another node, a counter that
    //    is not an integer, a state for another scope, an unregistration of C's name.
    let forged = b.dist.actor_ref::<Forged>(a_server).unwrap();
    let reg = |kind, key: &str, pid, value| ForgedOp::Reg {
        kind,
        key: Key::from(key),
        pid,
        value,
        at: 0,
    };
    forged
        .tell(Forged::Ops {
            from: b_server,
            ops: vec![
                reg(Kind::Name, "stolen", on_c.pid(), Value::None),
                ForgedOp::Unreg {
                    kind: Kind::Name,
                    key: Key::from("c"),
                    pid: on_c.pid(),
                },
                ForgedOp::Exit {
                    pid: on_a.pid(),
                    reason: ExitReason::Killed,
                },
                reg(Kind::Counter, "n", on_b.pid(), Value::from("x")),
                ForgedOp::Set {
                    kind: Kind::AggregatedCounter,
                    key: Key::from("n"),
                    pid: on_b.pid(),
                    value: Value::Int(1),
                },
            ],
            ack: None,
        })
        .unwrap();
    forged
        .tell(Forged::Ack {
            from: b_server,
            scope: "another".into(),
            state: vec![],
            more: false,
        })
        .unwrap();
    // A state "from another incarnation of A itself": would wipe A's own entries.
    let impostor = Pid {
        creation: a_server.creation.wrapping_add(1),
        ..a_server
    };
    forged
        .tell(Forged::Ack {
            from: impostor,
            scope: "test".into(),
            state: vec![],
            more: false,
        })
        .unwrap();
    // 3. A message claiming to be from a server that is not B's peer server: stale, skipped.
    forged
        .tell(Forged::Ops {
            from: on_b.pid(),
            ops: vec![reg(Kind::Name, "ghost", on_b.pid(), Value::None)],
            ack: None,
        })
        .unwrap();
    // A genuine change after all of it still arrives, in order.
    let later = spawn(b.node()).await;
    b.global
        .register(Kind::Name, "later", later.pid(), ())
        .unwrap();
    a.global.await_name("later", T).await.unwrap();

    let stats = a.global.stats();
    assert_eq!(
        GlobalStats::get(&stats.malformed),
        7,
        "five lying changes, a wrong scope, an impostor"
    );
    assert_eq!(GlobalStats::get(&stats.stale), 1);
    let refused = a.dist.stats().bad_frames.load(Ordering::Relaxed)
        + a.dist.stats().undelivered.load(Ordering::Relaxed);
    assert!(
        refused >= bad_frames + 2,
        "undecodable payloads were refused"
    );
    let mut after = a.global.list();
    after.retain(|e| e.key != Key::from("later"));
    assert_eq!(after, before);
    assert!(a.node().is_alive(on_a.pid()));
    // Every replica still agrees.
    for m in &ms {
        eventually(|| m.global.list().len() == 4).await;
    }
}
