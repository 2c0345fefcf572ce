//! Split-brain decisions with 5 and 3 nodes in one process, partitions made through proxies:
//! every node of a side reaches the same decision, the minority refuses writes within the
//! bound, the sides are never both quorate, and the minority writes again after the heal.
mod common;

use actor_cluster::membership::{
    DownAction, MemberEvent, NotQuorate, QuorumState, Strategy, TestLease, Verdict,
};
use common::{eventually, member_config, name, time_until, Cluster, TICK};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_majority_a_silent_cut_3_2_then_a_heal() {
    let c = Cluster::start(5, member_config).await;
    let sampler = c.sampler();
    c.cut(&[1, 2, 3], &[4, 5]);

    // The minority refuses writes within the bound (3 heartbeats of T/8), with slack for a
    // loaded machine; the majority keeps writing.
    for i in [4, 5] {
        let q = c.m(i).m.quorum();
        let took = time_until("minority refuses writes", || q.check().is_err()).await;
        assert!(took < TICK * 2, "n{i} refused writes only after {took:?}");
        assert!(matches!(
            q.check(),
            Err(NotQuorate {
                state: QuorumState::Deciding | QuorumState::Minority,
                ..
            })
        ));
    }
    c.wait_decided(&[1, 2, 3], Verdict::Keep).await;
    c.wait_decided(&[4, 5], Verdict::Down).await;
    for i in [1, 2, 3] {
        assert_eq!(c.m(i).m.check(), Ok(()));
    }
    for i in [4, 5] {
        assert_eq!(c.m(i).m.quorum().state(), QuorumState::Minority);
        // Both sides agree on the picture: two components.
        let p = c.m(i).m.status().picture;
        assert_eq!(
            p.components,
            vec![vec![name(1), name(2), name(3)], vec![name(4), name(5)]]
        );
    }

    // Never two sides at once while cut. (While a heal settles, nodes may briefly count
    // overlapping sides, each a majority: not two sides.)
    sampler.assert_never_two_sides();
    c.heal_all();
    for i in [4, 5] {
        let q = c.m(i).m.quorum();
        q.wait_quorate(common::T).await.unwrap();
    }
    c.wait_whole().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_cut_off_by_a_reset_is_the_minority() {
    let c = Cluster::start(3, member_config).await;
    let sampler = c.sampler();
    let mut events = c.m(3).m.subscribe();
    c.link(1, 3).reset();
    c.link(2, 3).reset();
    let q = c.m(3).m.quorum();
    let took = time_until("n3 refuses writes", || q.check().is_err()).await;
    assert!(took < TICK, "a reset is noticed at once: {took:?}");
    c.wait_decided(&[1, 2], Verdict::Keep).await;
    c.wait_decided(&[3], Verdict::Down).await;
    // n3 was told: the quorum state changed and the decision came.
    let mut saw = (false, false);
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        match ev {
            MemberEvent::Quorum(QuorumState::Minority) => saw.0 = true,
            MemberEvent::Decided(d) if d.verdict == Verdict::Down => saw.1 = true,
            _ => {}
        }
    }
    assert_eq!(saw, (true, true));
    sampler.assert_never_two_sides();
    c.heal_all();
    c.wait_whole().await;
}

/// One strategy, nodes 1..=3, side {1} against {2, 3}: which side keeps working.
async fn split_1_vs_2(strategy: impl Fn(usize) -> Strategy, keeps: &[usize], downs: &[usize]) {
    let c = Cluster::start(3, |i| member_config(i).strategy(strategy(i))).await;
    let sampler = c.sampler();
    c.cut(&[1], &[2, 3]);
    if !keeps.is_empty() {
        c.wait_decided(keeps, Verdict::Keep).await;
    }
    for side in [&[1][..], &[2, 3][..]] {
        if side == downs || (downs.len() == 3) {
            let s: Vec<usize> = side.to_vec();
            c.wait_decided(&s, Verdict::Down).await;
        }
    }
    for &i in keeps {
        let q = c.m(i).m.quorum();
        assert_eq!(q.wait_quorate(common::T).await, Ok(()), "n{i} keeps");
    }
    for &i in downs {
        assert!(c.m(i).m.check().is_err(), "n{i} is down");
    }
    sampler.assert_never_two_sides();
    c.heal_all();
    c.wait_whole().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_oldest_keeps_the_side_of_the_oldest() {
    // n1 is the oldest: alone, it keeps; {2, 3} is down.
    split_1_vs_2(
        |_| Strategy::KeepOldest {
            down_if_alone: false,
        },
        &[1],
        &[2, 3],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_master_and_static_quorum() {
    split_1_vs_2(|_| Strategy::Master(name(1)), &[1], &[2, 3]).await;
    split_1_vs_2(
        |_| Strategy::StaticQuorum {
            size: 2,
            role: None,
        },
        &[2, 3],
        &[1],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_majority_gives_the_lease_to_the_majority() {
    let lease = TestLease::new();
    let l = lease.clone();
    split_1_vs_2(
        move |_| Strategy::LeaseMajority {
            lease: Arc::new(l.clone()),
            minority_delay: Duration::from_millis(300),
        },
        &[2, 3],
        &[1],
    )
    .await;
    // Taken by the majority's side, and kept.
    assert_eq!(lease.current(), Some(name(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_all_downs_every_side() {
    split_1_vs_2(|_| Strategy::DownAll, &[], &[1, 2, 3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_down_action_stop_the_downed_node_leaves_and_is_removed() {
    let c = Cluster::start(3, |i| member_config(i).down_action(DownAction::Stop)).await;
    let mut events = c.m(3).m.subscribe();
    c.cut(&[3], &[1, 2]);
    c.wait_decided(&[1, 2], Verdict::Keep).await;
    loop {
        let ev = tokio::time::timeout(common::T, events.recv())
            .await
            .unwrap()
            .unwrap();
        if ev == MemberEvent::Downed {
            break;
        }
    }
    for i in [1, 2] {
        eventually("n3 removed", || c.m(i).m.status().up().len() == 2).await;
    }
    c.heal_all();
    // n3's distribution is shut: it never comes back as this incarnation.
    tokio::time::sleep(TICK).await;
    assert!(c.m(3).dist.nodes().is_empty());
    for i in [1, 2] {
        assert_eq!(c.m(i).m.check(), Ok(()));
        assert_eq!(c.m(i).m.status().up(), vec![name(1), name(2)]);
    }
}
