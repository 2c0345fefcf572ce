//! Operator downing (`Membership::down`) on 3 in-process nodes: the downed node is removed on
//! every node and stops (or stays read-only), and with the manual strategy a partitioned side
//! waits for the operator, then is quorate; the downed side learns it when the cut heals.
mod common;

use actor_cluster::membership::{
    DownAction, DownError, MemberEvent, QuorumState, Strategy, Verdict,
};
use common::{eventually, member_config, name, Cluster, T, TICK};
use std::time::Duration;
use tokio::sync::mpsc;

async fn wait_event(rx: &mut mpsc::Receiver<MemberEvent>, want: impl Fn(&MemberEvent) -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("event in time")
            .expect("events open");
        if want(&ev) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downed_node_is_removed_everywhere_and_stops() {
    let c = Cluster::start(3, |i| member_config(i).down_action(DownAction::Stop)).await;
    let mut ev3 = c.m(3).m.subscribe();
    let mut ev2 = c.m(2).m.subscribe();
    assert_eq!(
        c.m(1).m.down("nobody@127.0.0.1", T).await,
        Err(DownError::UnknownMember("nobody@127.0.0.1".into()))
    );
    let applied = c.m(1).m.down(&name(3), T).await.unwrap();
    // n3's own answer may be lost to its shutdown; it applied it all the same (the event).
    assert_eq!(applied[..2], [name(1), name(2)]);
    wait_event(&mut ev3, |e| *e == MemberEvent::Downed).await;
    wait_event(
        &mut ev2,
        |e| matches!(e, MemberEvent::Removed(m) if m.name == name(3)),
    )
    .await;
    eventually("n3's distribution is shut", || {
        c.m(3).dist.nodes().is_empty()
    })
    .await;
    assert_eq!(c.m(3).m.quorum().state(), QuorumState::Minority);
    for i in [1, 2] {
        let q = c.m(i).m.quorum();
        eventually("n1, n2 quorate without n3", || {
            q.check().is_ok() && c.m(i).m.status().up() == vec![name(1), name(2)]
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_downed_node_stays_up_and_is_never_counted_again() {
    let c = Cluster::start(3, member_config).await;
    let mut ev3 = c.m(3).m.subscribe();
    // Downing itself: the others are told first.
    let applied = c.m(3).m.down(&name(3), T).await.unwrap();
    assert_eq!(applied, vec![name(3), name(1), name(2)]);
    wait_event(&mut ev3, |e| *e == MemberEvent::Downed).await;
    assert_eq!(c.m(3).m.quorum().state(), QuorumState::Minority);
    // n1 and n2 dial n3 again (it is their seed); each time they refuse it: it stays out.
    for i in [1, 2] {
        let q = c.m(i).m.quorum();
        eventually("quorate without n3", || {
            q.check().is_ok() && c.m(i).m.status().up() == vec![name(1), name(2)]
        })
        .await;
    }
    // Still up (read-only) and never counted again, over several reconnect rounds.
    let until = tokio::time::Instant::now() + TICK * 2;
    while tokio::time::Instant::now() < until {
        for i in [1, 2] {
            let s = c.m(i).m.status();
            assert!(!s.up().contains(&name(3)), "n3 counted again: {s:?}");
        }
        assert_eq!(c.m(3).m.quorum().state(), QuorumState::Minority);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in [1, 2] {
        c.m(i).m.quorum().wait_quorate(T).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_manual_strategy_a_side_waits_for_the_operator() {
    let c = Cluster::start(3, |i| {
        member_config(i)
            .strategy(Strategy::Manual)
            .down_action(DownAction::Stop)
    })
    .await;
    let mut ev1 = c.m(1).m.subscribe();
    let mut ev3 = c.m(3).m.subscribe();
    c.cut(&[1, 2], &[3]);
    // Both sides see the partition and neither decides: read-only, nobody stopped.
    for i in [1, 2, 3] {
        eventually("two components", || {
            c.m(i).m.status().picture.components.len() == 2
        })
        .await;
    }
    let decided = tokio::time::timeout(TICK * 3, async {
        loop {
            match ev1.recv().await {
                Some(MemberEvent::Decided(d)) if d.verdict == Verdict::Down && !d.unstable => {
                    return d
                }
                Some(_) => {}
                None => std::future::pending().await,
            }
        }
    })
    .await;
    assert!(decided.is_err(), "no automatic decision: {decided:?}");
    for i in [1, 2, 3] {
        assert_ne!(c.m(i).m.quorum().state(), QuorumState::Quorate, "n{i}");
    }
    // The operator downs n3 from n1: n1 and n2 are whole and quorate.
    let applied = c.m(1).m.down(&name(3), T).await;
    assert_eq!(applied, Ok(vec![name(1), name(2)]));
    for i in [1, 2] {
        let q = c.m(i).m.quorum();
        q.wait_quorate(T).await.unwrap();
    }
    // n3 was cut off when it was downed; it learns it when the cut heals, and stops.
    c.heal_all();
    wait_event(&mut ev3, |e| *e == MemberEvent::Downed).await;
    assert_eq!(c.m(3).m.quorum().state(), QuorumState::Minority);
    eventually("n3's distribution is shut", || {
        c.m(3).dist.nodes().is_empty()
    })
    .await;
    for i in [1, 2] {
        c.m(i).m.quorum().wait_quorate(T).await.unwrap();
        assert_eq!(c.m(i).m.status().up(), vec![name(1), name(2)]);
    }
}
