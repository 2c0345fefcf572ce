//! Lazy epochs on the replicated log (three in-process nodes, a RedbJournal each): a load
//! writes nothing anywhere; the first write takes the epoch with phase 1 at a majority; a
//! stale activation's first write is refused and nothing of it is stored on any replica; a
//! load that finds the replicas disagreeing commits the adopted log before serving it.

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::{EntityLog, LogError};
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog};
use actor_journal::{
    receipt_id, EntityKey, JournalConfig, JournalStore, LogPosition, Receipt, RedbJournal,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

struct Member {
    store: Arc<RedbJournal>,
    log: ReplicatedLog,
    _dist: Dist,
    _dir: tempfile::TempDir,
}

fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("replicated-lazy").unwrap());
    cfg.tick_time = Duration::from_secs(2);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg.auto_connect = false;
    cfg
}

async fn cluster(prefix: &str) -> Vec<Member> {
    let mut dists = Vec::new();
    for i in 0..3 {
        let node = Node::new(format!("{prefix}{i}@127.0.0.1"));
        dists.push(Dist::start(&node, dist_config()).await.unwrap());
    }
    for i in 0..3 {
        for j in i + 1..3 {
            dists[i]
                .connect(dists[j].name(), dists[j].local_addr())
                .await
                .unwrap();
        }
    }
    let mut out = Vec::new();
    for dist in dists {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbJournal::open(JournalConfig::new(dir.path())).unwrap());
        let config = ReplicatedConfig {
            timeout: Duration::from_secs(5),
            ..ReplicatedConfig::default()
        };
        let log = ReplicatedLog::start(&dist, store.clone(), config)
            .await
            .unwrap();
        out.push(Member {
            store,
            log,
            _dist: dist,
            _dir: dir,
        });
    }
    out
}

fn receipt(k: &EntityKey, seq: u64, writer: u64) -> Receipt {
    Receipt {
        id: receipt_id(writer, seq),
        time: 1_000 + seq,
        tenant: "acme".into(),
        kind: k.kind.clone(),
        key: k.key.clone(),
        epoch: 0,
        seq,
        from: String::new(),
        to: String::new(),
        event: vec![],
        metadata: vec![],
        state: format!("state-{seq}-by-{writer}").into_bytes(),
    }
}

fn commits(c: &[Member]) -> u64 {
    c.iter().map(|m| m.store.stats().commits).sum()
}

/// What every replica holds for `k`: (seq, epoch, state), once all agree (the accept of the
/// slowest replica may still be on its way).
async fn agreed(c: &[Member], k: &EntityKey) -> Vec<(u64, u64, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = Vec::new();
        for m in c {
            let held: Vec<_> = m
                .store
                .entries_after(k, 0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.seq, r.epoch, String::from_utf8(r.state).unwrap()))
                .collect();
            all.push(held);
        }
        if all.windows(2).all(|w| w[0] == w[1]) {
            return all.swap_remove(0);
        }
        assert!(tokio::time::Instant::now() < deadline, "{all:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_writes_nothing_and_the_first_write_takes_the_epoch() {
    let c = cluster("lz").await;
    let k = EntityKey::new("account", "acme/l");
    let before = commits(&c);
    let read = c[0].log.load(&k).await.unwrap();
    assert_eq!((read.epoch, read.last_seq), (0, 0), "no epoch held");
    assert_eq!(commits(&c), before, "a load committed on some replica");
    let epoch = c[0]
        .log
        .claim(receipt(&k, 1, 1), read.position())
        .await
        .unwrap();
    assert!(epoch >= 1);
    // Later appends carry the claimed epoch.
    let mut next = receipt(&k, 2, 1);
    next.epoch = epoch;
    c[0].log.append(next).await.unwrap();
    let held = agreed(&c, &k).await;
    assert_eq!(
        held,
        vec![
            (1, epoch, "state-1-by-1".to_string()),
            (2, epoch, "state-2-by-1".to_string())
        ]
    );
    // A new activation elsewhere reads the acknowledged state and takes no epoch. (Commit
    // counts are not compared here: a replica that missed the prepare may still be catching
    // up, and its commit can land during the load.)
    let epochs_taken = c[2].log.stats().activations.load(Ordering::Relaxed);
    let again = c[2].log.load(&k).await.unwrap();
    assert_eq!(again.epoch, 0);
    assert_eq!(again.position(), LogPosition { seq: 2, epoch });
    assert_eq!(again.last.as_ref().unwrap().state, b"state-2-by-1".to_vec());
    assert_eq!(
        c[2].log.stats().activations.load(Ordering::Relaxed),
        epochs_taken,
        "a load took an epoch"
    );
    assert_eq!(c[2].log.stats().eager_loads.load(Ordering::Relaxed), 0);
    assert_eq!(c[2].log.stats().loads.load(Ordering::Relaxed), 1);
    // Its first write re-proposes the last receipt under the new epoch, then appends.
    let e2 = c[2]
        .log
        .claim(receipt(&k, 3, 3), again.position())
        .await
        .unwrap();
    assert!(e2 > epoch);
    let held = agreed(&c, &k).await;
    let epochs: Vec<u64> = held.iter().map(|h| h.1).collect();
    assert_eq!(epochs, vec![epoch, e2, e2]);
    // The first activation is fenced.
    let mut stale = receipt(&k, 3, 1);
    stale.epoch = epoch;
    assert!(matches!(
        c[0].log.append(stale).await,
        Err(LogError::Fenced { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_first_write_is_refused_and_stored_nowhere() {
    let c = cluster("ls").await;
    let k = EntityKey::new("account", "acme/s");
    // Two activations (on nodes 0 and 1) read the same empty log.
    let a = c[0].log.load(&k).await.unwrap();
    let b = c[1].log.load(&k).await.unwrap();
    assert_eq!(a.position(), b.position());
    // B writes first; A's first write finds the log moved on and is refused.
    let eb = c[1]
        .log
        .claim(receipt(&k, 1, 2), b.position())
        .await
        .unwrap();
    let r = c[0].log.claim(receipt(&k, 1, 1), a.position()).await;
    assert!(matches!(r, Err(LogError::Fenced { .. })), "{r:?}");
    assert_eq!(c[0].log.stats().stale_claims.load(Ordering::Relaxed), 1);
    let held = agreed(&c, &k).await;
    assert_eq!(held, vec![(1, eb, "state-1-by-2".to_string())]);
    for m in &c {
        let t = m.store.by_tenant("acme", 0..u64::MAX, 100).await.unwrap();
        assert!(
            t.iter().all(|r| r.state != b"state-1-by-1".to_vec()),
            "the stale receipt is stored on a replica"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_finds_replicas_disagreeing_commits_before_serving() {
    let c = cluster("ld").await;
    let k = EntityKey::new("account", "acme/d");
    let read = c[0].log.load(&k).await.unwrap();
    let e = c[0]
        .log
        .claim(receipt(&k, 1, 1), read.position())
        .await
        .unwrap();
    agreed(&c, &k).await;
    // An unacknowledged write: seq 2 of epoch `e`, accepted by node 0's replica only.
    let mut lone = receipt(&k, 2, 1);
    lone.epoch = e;
    c[0].store
        .accept(&k, e, LogPosition { seq: 1, epoch: e }, vec![lone])
        .await
        .unwrap();
    // Node 0 reaches only node 1: their heads disagree, so the load takes an epoch at once
    // and commits the log it adopts (with the lone write) before serving it.
    c[0]._dist.disconnect(c[2]._dist.name());
    let r = c[0].log.load(&k).await.unwrap();
    assert_eq!(c[0].log.stats().eager_loads.load(Ordering::Relaxed), 1);
    assert!(r.epoch > e, "an eager load holds an epoch");
    assert_eq!(r.last_seq, 2);
    assert_eq!(r.last.unwrap().state, b"state-2-by-1".to_vec());
    for m in &c[..2] {
        let held = m.store.last_state(&k).await.unwrap();
        assert_eq!(
            (held.last_seq, held.last_epoch),
            (2, r.epoch),
            "committed on a majority"
        );
    }
    // Its writes are plain appends under that epoch.
    let mut next = receipt(&k, 3, 1);
    next.epoch = r.epoch;
    c[0].log.append(next).await.unwrap();
}
