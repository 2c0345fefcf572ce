//! The membership view: formation (ages, versions, roles, events), health from missed
//! heartbeats, graceful leave seen as `shutdown`, and reports that lie or are malformed.
mod common;

use actor_cluster::membership::{
    Health, MemberEvent, MemberStatus, Membership, MembershipConfig, MembershipStats, QuorumState,
    Verdict,
};
use actor_core::Node;
use actor_dist::{Dist, DownReason, NodeEvent};
use common::{dist_config, eventually, member_config, name, Cluster, T};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn next_matching(
    rx: &mut tokio::sync::mpsc::Receiver<MemberEvent>,
    mut f: impl FnMut(&MemberEvent) -> bool,
) -> MemberEvent {
    loop {
        let ev = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
        if f(&ev) {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_join_with_age_version_and_roles_and_min_members_holds_the_quorum() {
    let start = |i: usize| async move {
        let mut dc = dist_config();
        dc.app_version = format!("v{i}");
        let dist = Dist::start(&Node::new(name(i)), dc).await.unwrap();
        let cfg = MembershipConfig {
            min_members: 2,
            ..member_config(i).roles([format!("r{i}")])
        };
        let m = Membership::start(&dist, cfg);
        (dist, m)
    };
    let (d1, m1) = start(1).await;
    let mut ev = m1.subscribe();
    // Alone, below min_members: not quorate.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(m1.quorum().state(), QuorumState::Deciding);
    let (d2, m2) = start(2).await;
    d2.connect(d1.name(), d1.local_addr()).await.unwrap();
    next_matching(
        &mut ev,
        |e| matches!(e, MemberEvent::Joining(i) if i.name == name(2)),
    )
    .await;
    next_matching(
        &mut ev,
        |e| matches!(e, MemberEvent::Up(i) if i.name == name(2)),
    )
    .await;
    m1.quorum().wait_quorate(T).await.unwrap();
    m2.quorum().wait_quorate(T).await.unwrap();
    let s = m2.status();
    let view: Vec<(String, u64, String, Vec<String>, MemberStatus)> = s
        .members
        .iter()
        .map(|m| {
            (
                m.info.name.clone(),
                m.info.started,
                m.info.app_version.clone(),
                m.info.roles.clone(),
                m.status,
            )
        })
        .collect();
    assert_eq!(
        view,
        vec![
            (name(1), 1, "v1".into(), vec!["r1".into()], MemberStatus::Up),
            (name(2), 2, "v2".into(), vec!["r2".into()], MemberStatus::Up),
        ]
    );
    assert_eq!(s.oldest().unwrap().name, name(1));
    assert!(s.members.iter().all(|m| m.health == Health::Healthy));
    // Both decide on the whole, stable picture.
    for m in [&m1, &m2] {
        eventually("decided", || {
            m.status()
                .decision
                .is_some_and(|d| d.verdict == Verdict::Keep && d.side.len() == 2)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_degrades_on_missed_heartbeats_and_recovers() {
    // A long net tick, so the connection outlives the silence; fast heartbeats.
    let c = Cluster::start_with(
        3,
        |i| member_config(i).heartbeat(Duration::from_millis(40)),
        |_| {
            let mut d = dist_config();
            d.tick_time = Duration::from_secs(5);
            d
        },
    )
    .await;
    let mut ev = c.m(1).m.subscribe();
    c.link(1, 2).cut();
    let is = |h: Health| {
        move |e: &MemberEvent| {
            *e == MemberEvent::Health {
                node: name(2),
                health: h,
            }
        }
    };
    next_matching(&mut ev, is(Health::Degraded)).await;
    next_matching(&mut ev, is(Health::Unhealthy)).await;
    let s = c.m(1).m.status();
    let n2 = s.members.iter().find(|m| m.info.name == name(2)).unwrap();
    assert_eq!(n2.health, Health::Unhealthy);
    assert!(
        n2.connected,
        "the connection is still up: only heartbeats were missed"
    );
    c.link(1, 2).heal();
    next_matching(&mut ev, is(Health::Healthy)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_is_seen_as_a_shutdown() {
    let c = Cluster::start(3, member_config).await;
    let mut ev1 = c.m(1).m.subscribe();
    let mut node_ev = c.m(1).dist.subscribe();
    let hook_ran = Arc::new(AtomicBool::new(false));
    let (h, m1) = (hook_ran.clone(), c.m(1).m.clone());
    c.m(3).m.on_leave(move || {
        // The hook runs before the leave is announced.
        assert!(m1.status().up().contains(&name(3)));
        h.store(true, Ordering::SeqCst);
        Box::pin(async {})
    });
    let confirmed = c.m(3).m.leave(T).await;
    assert!(hook_ran.load(Ordering::SeqCst));
    assert_eq!(confirmed, vec![name(1), name(2)]);
    next_matching(
        &mut ev1,
        |e| matches!(e, MemberEvent::Left(i) if i.name == name(3)),
    )
    .await;
    let down = next_matching(&mut ev1, |e| matches!(e, MemberEvent::Down { .. })).await;
    assert_eq!(
        down,
        MemberEvent::Down {
            node: name(3),
            reason: DownReason::Shutdown
        }
    );
    loop {
        let e = tokio::time::timeout(T, node_ev.recv())
            .await
            .unwrap()
            .unwrap();
        if let NodeEvent::Down { node, reason } = e {
            assert_eq!((node, reason), (name(3), DownReason::Shutdown));
            break;
        }
    }
    for i in [1, 2] {
        let m = &c.m(i).m;
        eventually("n3 gone", || m.status().up() == vec![name(1), name(2)]).await;
        assert_eq!(m.check(), Ok(()), "two of two members");
    }
    assert!(c.m(3).dist.nodes().is_empty());
    assert_eq!(c.m(3).m.quorum().state(), QuorumState::Minority);
}

/// A peer's report that names another sender is refused and counted; the node stays quorate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_report_is_refused_and_counted() {
    let c = Cluster::start(3, member_config).await;
    let mut forged = c.m(3).m.report();
    forged.from.name = name(1);
    forged.seq = u64::MAX;
    c.m(3)
        .dist
        .register_rpc("actor_cluster.membership.pull", move |_: ()| {
            let f = forged.clone();
            async move { Some(f) }
        });
    let stats = |i: usize| MembershipStats::get(&c.m(i).m.stats().reports_refused);
    let q1 = c.m(1).m.quorum();
    eventually("refused", || stats(1) > 0).await;
    for _ in 0..50 {
        assert_eq!(q1.check(), Ok(()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A peer that claims it reaches nobody cuts only itself off: the others never decide they
/// are down (a younger node may be read-only for a moment while the picture settles), keep
/// a quorate side without the liar, and the liar ends alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_report_cuts_only_its_sender_off() {
    let c = Cluster::start(3, member_config).await;
    let mut lie = c.m(1).m.report();
    lie.from = c.m(1).m.status().me;
    for l in &mut lie.members {
        l.health = Health::Unhealthy;
    }
    let seq = Arc::new(std::sync::atomic::AtomicU64::new(1 << 40));
    // n1, the oldest, lies: it says it reaches neither n2 nor n3.
    c.m(1)
        .dist
        .register_rpc("actor_cluster.membership.pull", move |_: ()| {
            let mut l = lie.clone();
            l.seq = seq.fetch_add(1, Ordering::Relaxed);
            async move { Some(l) }
        });
    let qs = [c.m(2).m.quorum(), c.m(3).m.quorum()];
    let probe = tokio::spawn(async move {
        for _ in 0..200 {
            for q in &qs {
                assert_ne!(q.state(), QuorumState::Minority, "a liar downed a node");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    c.wait_decided(&[2, 3], Verdict::Keep).await;
    probe.await.unwrap();
    for i in [2, 3] {
        let d = c.m(i).m.status().decision.unwrap();
        assert_eq!(d.side, vec![name(2), name(3)]);
        // The liar was dropped (disconnected), by both.
        assert!(MembershipStats::get(&c.m(i).m.stats().fenced) >= 1);
    }
    for i in [2, 3] {
        let q = c.m(i).m.quorum();
        assert_eq!(q.wait_quorate(T).await, Ok(()));
    }
    eventually("the liar alone", || c.m(1).dist.nodes().is_empty()).await;
    eventually("the liar not quorate", || c.m(1).m.check().is_err()).await;
}
