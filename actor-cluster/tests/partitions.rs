//! Overlapping partitions and flapping links, 5 nodes in one process: a one-way cut leaves a
//! partial mesh that ends as clean, fully connected components, decided alike everywhere;
//! a flapping link never gives two quorate sides; both heal.
mod common;

use actor_cluster::membership::{MemberEvent, QuorumState, Verdict};
use common::{eventually, member_config, name, Cluster, TICK};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_cut_ends_as_clean_components_then_heals() {
    let c = Cluster::start(5, member_config).await;
    let sampler = c.sampler();
    let mut fenced = c.m(2).m.subscribe();
    // n1 -> n4 silently dropped; n4 -> n1 still flows. n4 hears nothing from n1 and closes
    // the connection; n1 cannot dial n4 again. Everyone else reaches both.
    c.link(1, 4).cut_one_way(true);

    // n4 is the younger end of the broken link: every node drops it.
    c.wait_decided(&[1, 2, 3, 5], Verdict::Keep).await;
    for i in [1, 2, 3, 5] {
        let d = c.m(i).m.status().decision.unwrap();
        assert_eq!(d.side, vec![name(1), name(2), name(3), name(5)]);
        let q = c.m(i).m.quorum();
        assert_eq!(q.wait_quorate(common::T).await, Ok(()));
    }
    c.wait_decided(&[4], Verdict::Down).await;
    assert_eq!(c.m(4).m.quorum().state(), QuorumState::Minority);
    // Clean components: nobody stays connected to n4.
    for i in [1, 2, 3, 5] {
        let m = c.m(i);
        eventually("n4 disconnected", || !m.dist.nodes().contains(&name(4))).await;
    }
    eventually("n4 alone", || c.m(4).dist.nodes().is_empty()).await;
    loop {
        let ev = tokio::time::timeout(common::T, fenced.recv())
            .await
            .unwrap()
            .unwrap();
        if ev == MemberEvent::Fenced(name(4)) {
            break;
        }
    }

    // Heal: after its fence, n4 reconnects and the cluster is whole again.
    sampler.assert_never_two_sides();
    c.heal_all();
    c.wait_whole().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_link_never_gives_two_quorate_sides() {
    let c = Cluster::start(5, member_config).await;
    let sampler = c.sampler();
    // The link n1-n4 goes down (reset) and up every TICK/3 for a while.
    let link = c.link(1, 4).clone();
    for k in 0..12u32 {
        if k.is_multiple_of(2) {
            link.reset();
        } else {
            link.heal();
        }
        tokio::time::sleep(TICK / 3).await;
    }
    // A silent flap too: held for half a tick, then flowing.
    for k in 0..8u32 {
        if k.is_multiple_of(2) {
            link.cut();
        } else {
            link.heal();
        }
        tokio::time::sleep(TICK / 2).await;
    }
    link.heal();
    c.wait_whole().await;
    for i in 1..=5 {
        assert_eq!(c.m(i).m.check(), Ok(()));
    }
    sampler.assert_never_two_sides();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_majority_keeps_writing_through_a_cut_of_one_node() {
    let c = Cluster::start(5, member_config).await;
    // Count how long any majority node was not quorate during the cut of n5.
    let qs: Vec<_> = (1..=4).map(|i| c.m(i).m.quorum()).collect();
    let probe = tokio::spawn(async move {
        let mut refused = 0u32;
        for _ in 0..300 {
            refused += qs.iter().filter(|q| q.check().is_err()).count() as u32;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        refused
    });
    c.cut(&[5], &[1, 2, 3, 4]);
    c.wait_decided(&[1, 2, 3, 4], Verdict::Keep).await;
    let refused = probe.await.unwrap();
    // A majority node stops counting n5 on its own first; it is never refused for that.
    assert_eq!(refused, 0, "majority nodes refused writes during the cut");
    c.heal_all();
    c.wait_whole().await;
}
