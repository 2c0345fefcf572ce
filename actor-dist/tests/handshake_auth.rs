//! Authentication and connection set-up: wrong cookies are refused on both sides with an
//! `AuthFailed` event (never a node-down); simultaneous connects leave exactly one connection; a restarted node's old pids are
//! `noproc`.
mod common;
use actor_core::{CallError, ExitReason, Node, NodeConfig};
use actor_dist::{Cookie, Dist, DistConfig, DownReason, NodeEvent};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_is_refused_on_both_sides_and_nothing_crashes() {
    let a = start("a@127.0.0.1").await;
    let b = start_with(
        "b@127.0.0.1",
        DistConfig::new(Cookie::new("other").unwrap()),
    )
    .await;
    let mut a_events = a.subscribe();
    let mut b_events = b.subscribe();
    assert_eq!(
        a.connect(b.name(), b.local_addr()).await,
        Err(DownReason::AuthFailed)
    );
    // A failed authentication is its own event on both sides, never a node-down.
    let ea = wait_event(&mut a_events, |e| !matches!(e, NodeEvent::Up(_))).await;
    assert!(
        matches!(&ea, NodeEvent::AuthFailed { claimed_name, addr, .. }
            if claimed_name == "b@127.0.0.1" && *addr == b.local_addr()),
        "{ea:?}"
    );
    let eb = wait_event(&mut b_events, |e| !matches!(e, NodeEvent::Up(_))).await;
    assert!(
        matches!(&eb, NodeEvent::AuthFailed { claimed_name, .. } if claimed_name == "a@127.0.0.1"),
        "{eb:?}"
    );
    assert!(a.nodes().is_empty() && b.nodes().is_empty());
    assert!(
        a.stats()
            .auth_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert!(
        b.stats()
            .auth_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // Both nodes keep working.
    let c = start("c@127.0.0.1").await;
    connect(&a, &c).await;
    assert_eq!(a.nodes(), vec!["c@127.0.0.1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_connects_leave_exactly_one_connection() {
    for _ in 0..10 {
        let a = start("a@127.0.0.1").await;
        let b = start("b@127.0.0.1").await;
        let (ra, rb) = tokio::join!(
            a.connect(b.name(), b.local_addr()),
            b.connect(a.name(), a.local_addr())
        );
        assert!(ra.is_ok(), "{ra:?}");
        assert!(rb.is_ok(), "{rb:?}");
        assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
        assert_eq!(b.nodes(), vec!["a@127.0.0.1".to_string()]);
        // The surviving connection carries traffic both ways.
        let on_b = b.node().spawn(Probe::new()).await.unwrap();
        let on_a = a.node().spawn(Probe::new()).await.unwrap();
        assert_eq!(
            a.actor_ref::<Cmd>(on_b.pid())
                .unwrap()
                .call(|r| Cmd::Echo(1, r), T)
                .await,
            Ok(2)
        );
        assert_eq!(
            b.actor_ref::<Cmd>(on_a.pid())
                .unwrap()
                .call(|r| Cmd::Echo(2, r), T)
                .await,
            Ok(3)
        );
        a.shutdown();
        b.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_treats_old_pids_as_noproc() {
    let a = start("a@127.0.0.1").await;
    let b1 = {
        let node = Node::with_config(NodeConfig {
            name: "b@127.0.0.1".into(),
            creation: Some(1),
        });
        let d = Dist::start(&node, DistConfig::new(cookie())).await.unwrap();
        d.register::<Cmd>();
        d
    };
    let mut events = a.subscribe();
    connect(&a, &b1).await;
    let old = b1.node().spawn(Probe::new()).await.unwrap();
    let old_pid = old.pid();
    b1.shutdown();
    b1.node().shutdown();
    wait_event(&mut events, |e| matches!(e, NodeEvent::Down { .. })).await;
    // b comes back with a new creation; the same id on it is a different incarnation.
    let node = Node::with_config(NodeConfig {
        name: "b@127.0.0.1".into(),
        creation: Some(2),
    });
    let b2 = Dist::start(&node, DistConfig::new(cookie())).await.unwrap();
    b2.register::<Cmd>();
    let fresh = b2.node().spawn(Probe::new()).await.unwrap();
    assert_eq!(fresh.pid().id, old_pid.id);
    a.connect(b2.name(), b2.local_addr()).await.unwrap();
    let stale = a.actor_ref::<Cmd>(old_pid).unwrap();
    assert_eq!(
        stale.call(|r| Cmd::Echo(1, r), T).await,
        Err(CallError::Exit(ExitReason::NoProc))
    );
    assert_eq!(
        a.actor_ref::<Cmd>(fresh.pid())
            .unwrap()
            .call(|r| Cmd::Echo(1, r), T)
            .await,
        Ok(2)
    );
}
