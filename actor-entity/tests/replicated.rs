//! The replicated log across three in-process nodes (Dist on 127.0.0.1, a RedbJournal each):
//! activation and appends, fencing, a replica down, no quorum, recovery of a minority tail,
//! a partitioned stale activation, tenant queries merged.

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::{EntityLog, LogError};
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog};
use actor_journal::{
    receipt_id, EntityKey, JournalConfig, JournalStore, LogPosition, Receipt, RedbJournal,
};
use std::sync::Arc;
use std::time::Duration;

struct Member {
    dist: Dist,
    store: Arc<RedbJournal>,
    log: ReplicatedLog,
    _dir: tempfile::TempDir,
}

fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("replicated-test").unwrap());
    cfg.tick_time = Duration::from_secs(2);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg.auto_connect = false;
    cfg
}

async fn cluster(prefix: &str, n: usize, timeout: Duration) -> Vec<Member> {
    let mut dists = Vec::new();
    for i in 0..n {
        let node = Node::new(format!("{prefix}{i}@127.0.0.1"));
        dists.push(Dist::start(&node, dist_config()).await.unwrap());
    }
    for i in 0..n {
        for j in i + 1..n {
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
            replicas: n.min(3),
            timeout,
            ..ReplicatedConfig::default()
        };
        let log = ReplicatedLog::start(&dist, store.clone(), config)
            .await
            .unwrap();
        out.push(Member {
            dist,
            store,
            log,
            _dir: dir,
        });
    }
    out
}

fn key(name: &str) -> EntityKey {
    EntityKey::new("account", name)
}

fn receipt(k: &EntityKey, epoch: u64, seq: u64, writer: u64) -> Receipt {
    Receipt {
        id: receipt_id(writer, seq * 1000 + epoch),
        time: 1_000 + seq,
        tenant: "acme".into(),
        kind: k.kind.clone(),
        key: k.key.clone(),
        epoch,
        seq,
        from: format!("s{}", seq - 1),
        to: format!("s{seq}"),
        event: vec![seq as u8],
        metadata: vec![],
        state: format!("state-{seq}-by-{writer}").into_bytes(),
    }
}

/// Polls `cond` until it holds (or fails the test after 10 s).
async fn eventually(mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn held(m: &Member, k: &EntityKey) -> Vec<(u64, u64, u128)> {
    m.store
        .entries_after(k, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.epoch, r.id))
        .collect()
}

fn cut(a: &Member, b: &Member) {
    a.dist.disconnect(b.dist.name());
    b.dist.disconnect(a.dist.name());
}

async fn join(a: &Member, b: &Member) {
    a.dist
        .connect(b.dist.name(), b.dist.local_addr())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_and_appends_reach_every_replica_and_the_next_activation() {
    let ms = cluster("act", 3, Duration::from_secs(5)).await;
    let k = key("a");
    assert_eq!(ms[0].log.replicas_of(&k).len(), 3);
    let held0 = ms[0].log.activate(&k).await.unwrap();
    assert_eq!((held0.epoch, held0.last_seq), (1, 0));
    assert!(held0.state().is_none());
    for seq in 1..=5 {
        ms[0].log.append(receipt(&k, 1, seq, 0)).await.unwrap();
    }
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 5).await;
    }
    // Another node's activation takes a higher epoch and recovers the last state.
    let held1 = ms[1].log.activate(&k).await.unwrap();
    assert!(held1.epoch > 1);
    assert_eq!(held1.last_seq, 5);
    assert_eq!(held1.state(), Some(&b"state-5-by-0"[..]));
    assert_eq!(held1.last.as_ref().unwrap().epoch, held1.epoch);
    let entries = ms[2].log.entries(&k, 0, 100).await.unwrap();
    assert_eq!(entries.len(), 5);
    ms[1]
        .log
        .append(receipt(&k, held1.epoch, 6, 1))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_activation_fences_the_first() {
    let ms = cluster("fence", 3, Duration::from_secs(5)).await;
    let k = key("b");
    let first = ms[0].log.activate(&k).await.unwrap();
    ms[0]
        .log
        .append(receipt(&k, first.epoch, 1, 0))
        .await
        .unwrap();
    let second = ms[1].log.activate(&k).await.unwrap();
    assert!(second.epoch > first.epoch);
    assert_eq!(second.last_seq, 1);

    let stale = receipt(&k, first.epoch, 2, 0);
    match ms[0].log.append(stale.clone()).await {
        Err(LogError::Fenced { promised }) => assert!(promised >= second.epoch),
        other => panic!("stale append: {other:?}"),
    }
    // Refused without asking anyone from now on.
    let again = receipt(&k, first.epoch, 2, 0);
    assert!(matches!(
        ms[0].log.append(again).await,
        Err(LogError::Fenced { .. })
    ));
    ms[1]
        .log
        .append(receipt(&k, second.epoch, 2, 1))
        .await
        .unwrap();
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 2).await;
        let log = held(m, &k).await;
        assert!(log
            .iter()
            .all(|(seq, epoch, _)| *seq < 2 || *epoch == second.epoch));
        assert!(!log.iter().any(|(_, _, id)| *id == stale.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_down_two_of_three_still_commit() {
    let ms = cluster("down1", 3, Duration::from_secs(2)).await;
    let k = key("c");
    ms[2].dist.shutdown();
    let held0 = ms[0].log.activate(&k).await.unwrap();
    for seq in 1..=3 {
        ms[0]
            .log
            .append(receipt(&k, held0.epoch, seq, 0))
            .await
            .unwrap();
    }
    let held1 = ms[1].log.activate(&k).await.unwrap();
    assert_eq!(held1.last_seq, 3);
    assert!(held(&ms[2], &k).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_down_is_no_quorum_and_nothing_is_acknowledged() {
    let ms = cluster("down2", 3, Duration::from_millis(500)).await;
    let k = key("d");
    let held0 = ms[0].log.activate(&k).await.unwrap();
    ms[0]
        .log
        .append(receipt(&k, held0.epoch, 1, 0))
        .await
        .unwrap();
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 1).await;
    }
    ms[1].dist.shutdown();
    ms[2].dist.shutdown();
    match ms[0].log.append(receipt(&k, held0.epoch, 2, 0)).await {
        Err(LogError::NoQuorum { needed: 2, got }) => assert!(got <= 1),
        other => panic!("append without a majority: {other:?}"),
    }
    assert!(matches!(
        ms[0].log.activate(&k).await,
        Err(LogError::NoQuorum { needed: 2, .. })
    ));
    // Seq 2 is on no majority: the two others never saw it. (Seq 1 was acknowledged by a
    // majority, so at least one of them has it; the third copy may still have been in
    // flight when its node stopped.)
    let (h1, h2) = (held(&ms[1], &k).await.len(), held(&ms[2], &k).await.len());
    assert!(h1 <= 1 && h2 <= 1 && h1 + h2 >= 1, "{h1} {h2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_re_proposes_a_minority_accepted_tail() {
    let ms = cluster("recov", 3, Duration::from_secs(2)).await;
    let k = key("e");
    let held0 = ms[0].log.activate(&k).await.unwrap();
    for seq in 1..=2 {
        ms[0]
            .log
            .append(receipt(&k, held0.epoch, seq, 0))
            .await
            .unwrap();
    }
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 2).await;
    }
    // Seq 3 reached node 0 only, and its writer died before the acknowledgement.
    let orphan = receipt(&k, held0.epoch, 3, 0);
    let at2 = LogPosition {
        seq: 2,
        epoch: held0.epoch,
    };
    ms[0]
        .store
        .accept(&k, held0.epoch, at2, vec![orphan.clone()])
        .await
        .unwrap();
    // With node 2 down, any majority includes node 0: the new epoch adopts seq 3.
    ms[2].dist.shutdown();
    let held1 = ms[1].log.activate(&k).await.unwrap();
    assert_eq!(held1.last_seq, 3);
    let last = held1.last.clone().unwrap();
    assert_eq!((last.id, last.epoch), (orphan.id, held1.epoch));
    // Re-proposed: on a majority now, under the new epoch.
    for m in &ms[..2] {
        let log = held(m, &k).await;
        assert_eq!(log.last(), Some(&(3, held1.epoch, orphan.id)));
    }
    ms[1]
        .log
        .append(receipt(&k, held1.epoch, 4, 1))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_activation_commits_nothing_and_its_receipt_is_replaced() {
    let ms = cluster("part", 3, Duration::from_millis(800)).await;
    let k = key("f");
    let old = ms[0].log.activate(&k).await.unwrap();
    ms[0]
        .log
        .append(receipt(&k, old.epoch, 1, 0))
        .await
        .unwrap();
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 1).await;
    }
    // Node 0 is cut off; the majority side activates the key again.
    cut(&ms[0], &ms[1]);
    cut(&ms[0], &ms[2]);
    let stale = receipt(&k, old.epoch, 2, 0);
    assert!(matches!(
        ms[0].log.append(stale.clone()).await,
        Err(LogError::NoQuorum { .. })
    ));
    let new = ms[1].log.activate(&k).await.unwrap();
    assert!(new.epoch > old.epoch);
    assert_eq!(new.last_seq, 1);
    ms[1]
        .log
        .append(receipt(&k, new.epoch, 2, 1))
        .await
        .unwrap();
    // Heal: the old activation is fenced, and node 0's stale receipt is replaced by the
    // majority's on the next append.
    join(&ms[0], &ms[1]).await;
    join(&ms[0], &ms[2]).await;
    assert!(matches!(
        ms[0].log.append(receipt(&k, old.epoch, 2, 0)).await,
        Err(LogError::Fenced { .. }) | Err(LogError::NoQuorum { .. })
    ));
    ms[1]
        .log
        .append(receipt(&k, new.epoch, 3, 1))
        .await
        .unwrap();
    for m in &ms {
        eventually(async || held(m, &k).await.len() == 3).await;
        let log = held(m, &k).await;
        assert!(!log.iter().any(|(_, _, id)| *id == stale.id), "{log:?}");
        assert!(log.iter().all(|(seq, e, _)| *seq == 1 || *e == new.epoch));
    }
    let all = ms[2].log.by_tenant("acme", 0..u64::MAX, 100).await.unwrap();
    assert!(!all.iter().any(|r| r.id == stale.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_tenant_merges_every_node_once_in_time_order() {
    let ms = cluster("tenant", 3, Duration::from_secs(5)).await;
    let mut ids = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        let k = key(&format!("t{i}"));
        let h = m.log.activate(&k).await.unwrap();
        for seq in 1..=3 {
            let r = receipt(&k, h.epoch, seq, i as u64);
            ids.push((r.time, r.id));
            m.log.append(r).await.unwrap();
        }
    }
    ids.sort();
    let all = ms[1].log.by_tenant("acme", 0..u64::MAX, 100).await.unwrap();
    let got: Vec<_> = all.iter().map(|r| (r.time, r.id)).collect();
    assert_eq!(got, ids);
    let limited = ms[2].log.by_tenant("acme", 0..u64::MAX, 4).await.unwrap();
    assert_eq!(limited.len(), 4);
    assert!(ms[0]
        .log
        .by_tenant("acme", 1_002..1_003, 100)
        .await
        .unwrap()
        .iter()
        .all(|r| r.time == 1_002));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_replica_log_works_alone() {
    let ms = cluster("single", 1, Duration::from_secs(2)).await;
    let k = key("g");
    let h = ms[0].log.activate(&k).await.unwrap();
    ms[0].log.append(receipt(&k, h.epoch, 1, 0)).await.unwrap();
    let h2 = ms[0].log.activate(&k).await.unwrap();
    assert_eq!((h2.epoch, h2.last_seq), (h.epoch + 1, 1));
    assert!(matches!(
        ms[0].log.append(receipt(&k, h.epoch, 2, 0)).await,
        Err(LogError::Fenced { .. })
    ));
}
