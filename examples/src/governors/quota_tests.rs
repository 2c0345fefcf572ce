//! Quota: levels, window roll-over, counters across nodes, breach delivery, bad input.

use super::super::billing::{self, Billing};
use super::super::entitlement::{self, Entitlement};
use super::super::testkit::*;
use super::*;
use std::sync::Arc;
use State::*;

fn cfg(window: Duration) -> super::super::GovernorsConfig {
    let mut cfg = config();
    cfg.quota = Config {
        limit: 100,
        warn_percent: 80,
        window,
    };
    cfg
}

async fn usage(
    m: &Member,
    key: &str,
    window: Option<u64>,
    amount: i64,
) -> Result<View, GovernorError> {
    m.govs
        .call::<Quota, _>(key, Cmd::Usage { window, amount }, T)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_moves_within_warning_breached_and_a_breach_reaches_the_other_governors() {
    let (_dir, ms) = cluster(2, cfg(Duration::from_secs(3600))).await;
    let m = &ms[0];
    let mut events = m.collect("acme").await;
    // The tenant's entitlement (entitled) and billing account are active somewhere.
    for cmd in [entitlement::Cmd::Grant, entitlement::Cmd::Approve] {
        m.govs
            .call::<Entitlement, _>("acme/pro", cmd, T)
            .await
            .unwrap();
    }
    m.govs
        .call::<Billing, _>("acme/main", billing::Cmd::Status, T)
        .await
        .unwrap();
    let k = "acme/api";
    assert_eq!(usage(m, k, None, 50).await.unwrap().state, Within);
    assert_eq!(usage(m, k, Some(0), 30).await.unwrap().state, Warning);
    let v = usage(m, k, None, 20).await.unwrap();
    assert_eq!((v.state, v.data.used, v.data.breaches), (Breached, 100, 1));
    assert_eq!(usage(m, k, None, 1).await.unwrap().state, Breached);
    assert_eq!(receipts(m, "quota", k).await, 4);
    // Entitlement suspends by policy, billing charges the overage.
    assert_eq!(events.next_of("entitlement").await.to, "PendingReview");
    assert_eq!(events.next_of("entitlement").await.to, "Entitled");
    let ev = events.next_of("entitlement").await;
    assert_eq!(
        (ev.from.as_str(), ev.to.as_str()),
        ("Entitled", "Suspended")
    );
    eventually(|| async {
        let v = m
            .govs
            .call::<Billing, _>("acme/main", billing::Cmd::Status, T)
            .await
            .unwrap();
        v.data.overages == 1 && v.data.due == 100
    })
    .await;
    let e = m
        .govs
        .call::<Entitlement, _>("acme/pro", entitlement::Cmd::Status, T)
        .await
        .unwrap();
    assert!(e.data.reason.unwrap().contains("acme/api"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_roll_over_by_generic_timeout_and_closed_windows_are_refused() {
    let (_dir, ms) = cluster(1, cfg(Duration::from_millis(150))).await;
    let m = &ms[0];
    let k = "acme/api";
    let v = usage(m, k, None, 100).await.unwrap();
    assert_eq!(v.state, Breached);
    let w = v.data.window;
    eventually(|| async {
        let v = m.govs.call::<Quota, _>(k, Cmd::Status, T).await.unwrap();
        v.data.window > w && v.state == Within && v.data.used == 0
    })
    .await;
    let now = m
        .govs
        .call::<Quota, _>(k, Cmd::Status, T)
        .await
        .unwrap()
        .data
        .window;
    let closed = usage(m, k, Some(w), 1).await;
    assert!(
        matches!(closed, Err(GovernorError::WindowClosed { window, current }) if window == w && current >= now),
        "{closed:?}"
    );
    let ahead = usage(m, k, Some(now + 5), 1).await;
    assert!(
        matches!(ahead, Err(GovernorError::WindowNotOpen { .. })),
        "{ahead:?}"
    );
    // Empty windows are not numbered and write nothing: the usage, then one roll-over.
    // (Asserting that nothing happens takes waiting: three window lengths.)
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(receipts(m, "quota", k).await, 2);
    let v = m.govs.call::<Quota, _>(k, Cmd::Status, T).await.unwrap();
    assert_eq!(v.data.window, w + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_is_a_typed_error_with_no_receipt() {
    let (_dir, ms) = cluster(1, cfg(Duration::from_secs(3600))).await;
    let m = &ms[0];
    let k = "acme/api";
    usage(m, k, None, 10).await.unwrap();
    for (amount, err) in [
        (-1, GovernorError::BadAmount(-1)),
        (0, GovernorError::BadAmount(0)),
        (i64::MAX, GovernorError::Overflow(i64::MAX)),
    ] {
        assert_eq!(usage(m, k, None, amount).await, Err(err));
    }
    assert_eq!(
        usage(m, k, Some(1), 1).await,
        Err(GovernorError::WindowNotOpen {
            window: 1,
            current: 0
        })
    );
    assert_eq!(
        usage(m, "nobody/api", None, 1).await,
        Err(GovernorError::UnknownTenant("nobody".into()))
    );
    assert_eq!(receipts(m, "quota", k).await, 1);
    assert_eq!(
        usage(m, k, None, 1).await.unwrap().data.used,
        11,
        "still running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_counted_in_registry_counters_aggregated_per_tenant() {
    let (_dir, ms) = cluster(2, cfg(Duration::from_secs(3600))).await;
    // Two resources of one tenant, on two nodes.
    for (key, node) in [("acme/api", 0), ("acme/storage", 1)] {
        ms[0]
            .entities
            .migrate::<Quota>(key, ms[node].dist.name())
            .await
            .unwrap();
    }
    usage(&ms[0], "acme/api", None, 7).await.unwrap();
    usage(&ms[1], "acme/storage", None, 5).await.unwrap();
    usage(&ms[1], "globex/api", None, 3).await.unwrap();
    for m in &ms {
        eventually(|| async { m.govs.tenant_usage("acme") == 12 }).await;
        eventually(|| async { m.govs.tenant_usage("globex") == 3 }).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_usage_from_every_node_is_counted_once_each() {
    let (_dir, ms) = cluster(3, cfg(Duration::from_secs(3600))).await;
    let ms = Arc::new(ms);
    let mut tasks = Vec::new();
    for i in 0..3 {
        for _ in 0..10 {
            let ms = ms.clone();
            tasks.push(tokio::spawn(async move {
                usage(&ms[i], "acme/api", None, 1).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = ms[0]
        .govs
        .call::<Quota, _>("acme/api", Cmd::Status, T)
        .await
        .unwrap();
    assert_eq!(v.data.used, 30);
    assert_eq!(receipts(&ms[0], "quota", "acme/api").await, 30);
    assert_eq!(v.state, Within);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any usage reports: a refusal changes nothing; the level follows the usage.
        #[test]
        fn usage_levels_follow_the_count(reports in proptest::collection::vec((proptest::option::of(0u64..3), any::<i64>()), 0..40)) {
            let mut q = Quota::activate("acme/api", None);
            let mut s = State::Within;
            for (window, amount) in reports {
                let before = (s, q.data.clone());
                match q.step(s, &Cmd::Usage { window, amount }) {
                    Ok(next) => {
                        prop_assert!(amount > 0);
                        prop_assert_eq!(q.data.used, before.1.used + amount as u64);
                        prop_assert_eq!(next, q.level(q.data.used));
                        s = next;
                    }
                    Err(_) => prop_assert_eq!((s, q.data.clone()), before),
                }
            }
        }
    }
}
