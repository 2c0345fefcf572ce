//! W17 through the entity layer: 64 entities each make `journal_calls` (2,000)
//! state-changing calls in sequence, all 64 at once, each call answered only once its
//! receipt is durable; receipts per second and the call's latency (the ack) p50/p99 in ms.
//!
//! - `*-local`: one node, its entities on a [`LocalLog`] over one redb journal (group commit:
//!   concurrent transitions share an fsync).
//! - `*-replicated`: three OS processes on the replicated log (`failover.rs`'s cluster), the
//!   entities on A (prefer-local placement), each receipt acknowledged once a majority of
//!   A, B and C holds it durably: A and one other node.
//!
//! Every receipt here is a transition of a running machine (a call by key, the statem
//! persist hook, the reply after the receipt), not a direct append to the log as the former
//! log-level `w17` examples made: what an application sees. Peers:
//! `actor-entity-*` run the bench's [`Switch`](crate::kinds::Switch), `entitlement-*` the
//! entitlement governor (suspend and reinstate in turn, after grant and approve).

use crate::entities::register_kinds;
use crate::failover::{self, Place};
use crate::kinds::BenchKind;
use crate::{Counts, Latencies, Metrics};
use actor_core::Node;
use actor_dist::Dist;
use actor_entity::log::LocalLog;
use actor_entity::{Entities, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entities writing at once.
const WRITERS: u64 = 64;
const T: Duration = Duration::from_secs(30);

/// Where W17 runs.
#[derive(Clone, Copy)]
pub enum Mode {
    /// One node, its own journal.
    Local,
    /// Three nodes, majority of three.
    Replicated,
}

/// Runs `calls` transitions on each of 64 keys `prefix-N`; the latencies and the wall time.
async fn run<K: BenchKind>(
    e: &Entities,
    prefix: &'static str,
    calls: u64,
) -> (Latencies, Duration) {
    let start = Instant::now();
    let e = e.clone();
    let parts = failover::each(WRITERS, WRITERS, move |w| {
        let e = e.clone();
        async move {
            let key = K::key(prefix, w);
            let mut lat = Latencies::default();
            for s in 1..=calls {
                let sent = Instant::now();
                let r = e.call::<K::E>(&key, K::step(s), T).await;
                lat.record_since(sent);
                match r {
                    Ok(r) if K::is_after(&r, s) => {}
                    Ok(_) => panic!("W17 {key} step {s}: not the expected state"),
                    Err(err) => panic!("W17 {key} step {s}: {err}"),
                }
            }
            lat
        }
    })
    .await;
    let wall = start.elapsed();
    let mut all = Latencies::default();
    for p in parts {
        all.add(&p);
    }
    (all, wall)
}

/// W17 for kind `K`: `receipts` (per s), `ack_p50`, `ack_p99` (ms).
pub async fn w17_entity_receipts<K: BenchKind>(c: Counts, mode: Mode) -> Metrics {
    let calls = c.journal_calls;
    let warmup = (calls / 20).max(4);
    let measured = |e: Entities| async move {
        run::<K>(&e, "warm", warmup).await;
        let (lat, wall) = run::<K>(&e, "key", calls).await;
        vec![
            ("receipts", (WRITERS * calls) as f64 / wall.as_secs_f64()),
            ("ack_p50", lat.p(50.0) / 1e6),
            ("ack_p99", lat.p(99.0) / 1e6),
        ]
    };
    match mode {
        Mode::Replicated => {
            let cluster = failover::cluster(Place::Local).await;
            let metrics = measured(cluster.host.entities.clone()).await;
            drop(cluster);
            metrics
        }
        Mode::Local => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let journal =
                RedbJournal::open(JournalConfig::new(dir.path())).expect("open the journal");
            let dist = Dist::start(
                &Node::new("w17@127.0.0.1"),
                crate::dist_peer::config(crate::dist_peer::default_tick()),
            )
            .await
            .expect("listen on 127.0.0.1");
            let global = GlobalRegistry::start(&dist, GlobalConfig::new("bench-w17"))
                .await
                .expect("start the registry scope");
            let cfg = EntityConfig {
                passivate_after: None,
                rebalance: None,
                ..EntityConfig::default()
            };
            let log = Arc::new(LocalLog::new(Arc::new(journal)));
            let entities = Entities::start(&dist, &global, log, cfg).await;
            let _govs = register_kinds(&entities, &global).await;
            measured(entities).await
        }
    }
}
