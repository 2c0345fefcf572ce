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

/// Longest a majority node may refuse writes in one spell while one node is cut off.
const LONGEST_REFUSAL: Duration = Duration::from_secs(3);

/// The majority's contract through a cut of one node: it is never declared minority, and it
/// never refuses writes for longer than [`LONGEST_REFUSAL`] at a time.
///
/// It may refuse for a moment: the quorum is conservative and counts only peers heard within
/// `degraded_after` heartbeats (one heartbeat, `TICK / 8`, by default), so that a minority
/// stops writing quickly. A scheduler stall longer than that on a loaded machine (2 cores at a
/// load of 15-20 in CI) makes a majority node miss two peers' heartbeats besides the cut
/// one's: it reads `Deciding` until it hears from them again. Zero refusals would need the
/// quorum to trust silent peers for longer, which would slow the minority's stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_majority_keeps_writing_through_a_cut_of_one_node() {
    use tokio::time::Instant;
    let c = Cluster::start(5, member_config).await;
    // For each majority node: its longest spell without quorum, and whether it was ever
    // declared minority, sampled every 5 ms through the cut.
    let qs: Vec<_> = (1..=4).map(|i| c.m(i).m.quorum()).collect();
    let (decided, mut until) = tokio::sync::watch::channel(false);
    let probe = tokio::spawn(async move {
        let mut since: Vec<Option<Instant>> = vec![None; qs.len()];
        let mut longest = vec![Duration::ZERO; qs.len()];
        let mut minority = vec![false; qs.len()];
        let end = Instant::now() + Duration::from_millis(1500);
        // At least 1.5 s, and until the majority has decided.
        while Instant::now() < end || !*until.borrow_and_update() {
            let now = Instant::now();
            for (k, q) in qs.iter().enumerate() {
                match q.state() {
                    QuorumState::Quorate => {
                        if let Some(t) = since[k].take() {
                            longest[k] = longest[k].max(now - t);
                        }
                    }
                    s => {
                        minority[k] |= s == QuorumState::Minority;
                        since[k].get_or_insert(now);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let now = Instant::now();
        for (k, t) in since.iter().enumerate() {
            if let Some(t) = t {
                longest[k] = longest[k].max(now - *t);
            }
        }
        (longest, minority)
    });
    c.cut(&[5], &[1, 2, 3, 4]);
    c.wait_decided(&[1, 2, 3, 4], Verdict::Keep).await;
    decided.send_replace(true);
    let (longest, minority) = probe.await.unwrap();
    for (k, (l, m)) in longest.iter().zip(&minority).enumerate() {
        assert!(!m, "n{} (majority) was declared minority", k + 1);
        assert!(
            *l <= LONGEST_REFUSAL,
            "n{} (majority) refused writes for {l:?} in one spell",
            k + 1
        );
    }
    // Writes go ahead on every majority node.
    for i in 1..=4 {
        assert_eq!(
            c.m(i).m.quorum().wait_quorate(LONGEST_REFUSAL).await,
            Ok(())
        );
    }
    c.heal_all();
    c.wait_whole().await;
}
