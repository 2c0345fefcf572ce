//! Billing: every transition, the grace timeout, the backup rpc and its retries, bad input.

use super::super::testkit::*;
use super::*;
use std::sync::atomic::{AtomicBool, AtomicU32};
use State::*;

/// A backup that counts the payments it is asked for and answers only when `up`.
struct Backup {
    up: Arc<AtomicBool>,
    calls: Arc<AtomicU32>,
}

fn serve(m: &Member) -> Backup {
    let up = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU32::new(0));
    let (u, c) = (up.clone(), calls.clone());
    serve_backup(&m.dist, move |p: BackupPayment| {
        let (u, c) = (u.clone(), c.clone());
        async move {
            assert!(p.amount > 0 && p.id.contains('#'));
            c.fetch_add(1, Ordering::SeqCst);
            if !u.load(Ordering::SeqCst) {
                // Slower than the governor waits.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok(())
        }
    });
    Backup { up, calls }
}

fn cfg(gateway: &Arc<Switch>, backup: Option<&str>) -> super::super::GovernorsConfig {
    let mut cfg = config();
    cfg.billing.grace = Duration::from_millis(150);
    cfg.billing.backup_node = backup.map(str::to_string);
    cfg.billing.backup_timeout = Duration::from_millis(100);
    cfg.billing.backoff = (Duration::from_millis(20), Duration::from_millis(80));
    cfg.billing.gateway = gateway.clone();
    cfg
}

async fn call(m: &Member, key: &str, cmd: Cmd) -> Result<View, GovernorError> {
    m.govs.call::<Billing, _>(key, cmd, T).await
}

async fn state(m: &Member, key: &str) -> State {
    call(m, key, Cmd::Status).await.unwrap().state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_grace_suspends_and_payment_reinstates() {
    let gw = Arc::new(Switch(AtomicBool::new(true)));
    let (_dir, ms) = cluster(1, cfg(&gw, None)).await;
    let m = &ms[0];
    let mut events = m.collect("acme").await;
    let k = "acme/main";
    assert_eq!(
        call(m, k, Cmd::Invoice { amount: 50 })
            .await
            .unwrap()
            .data
            .due,
        50
    );
    assert_eq!(call(m, k, Cmd::Overdue).await.unwrap().state, PastDue);
    // Paid within the grace period: active again, the grace timeout cancelled.
    let v = call(m, k, Cmd::Pay { amount: 50 }).await.unwrap();
    assert_eq!((v.state, v.data.due, v.data.paid_total), (Active, 0, 50));
    // Not paid: the grace period runs out.
    call(m, k, Cmd::Invoice { amount: 30 }).await.unwrap();
    call(m, k, Cmd::Overdue).await.unwrap();
    let seen: Vec<_> = [
        events.next().await,
        events.next().await,
        events.next().await,
        events.next().await,
    ]
    .into_iter()
    .map(|e| e.to)
    .collect();
    assert_eq!(seen, ["PastDue", "Active", "PastDue", "Suspended"]);
    assert_eq!(state(m, k).await, Suspended);
    // A partial payment keeps it suspended; the rest reinstates it.
    assert_eq!(
        call(m, k, Cmd::Pay { amount: 10 }).await.unwrap().state,
        Suspended
    );
    assert_eq!(
        call(m, k, Cmd::Pay { amount: 20 }).await.unwrap().state,
        Active
    );
    assert_eq!(events.next().await.to, "Active");
    // invoice, overdue, pay, invoice, overdue, grace, pay, pay: 8 receipts.
    assert_eq!(receipts(m, "billing", k).await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_gateway_cannot_process_goes_to_the_backup_by_rpc() {
    let gw = Arc::new(Switch(AtomicBool::new(false)));
    let (_dir, ms) = {
        // The backup is the second node.
        let (dir, ms) = cluster(2, cfg(&gw, Some("g1@127.0.0.1"))).await;
        (dir, ms)
    };
    let backup = serve(&ms[1]);
    let k = "acme/main";
    call(&ms[0], k, Cmd::Invoice { amount: 40 }).await.unwrap();
    let v = call(&ms[0], k, Cmd::Pay { amount: 40 }).await.unwrap();
    assert_eq!((v.state, v.data.due), (Active, 0));
    assert_eq!(backup.calls.load(Ordering::SeqCst), 1);
    // The gateway back: no rpc.
    gw.0.store(true, Ordering::SeqCst);
    call(&ms[0], k, Cmd::Pay { amount: 1 }).await.unwrap();
    assert_eq!(backup.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_timeout_requires_sync_and_retries_with_backoff() {
    let gw = Arc::new(Switch(AtomicBool::new(false)));
    let (_dir, ms) = cluster(2, cfg(&gw, Some("g1@127.0.0.1"))).await;
    let backup = serve(&ms[1]);
    backup.up.store(false, Ordering::SeqCst);
    let m = &ms[0];
    let mut events = m.collect("acme").await;
    let k = "acme/main";
    call(m, k, Cmd::Invoice { amount: 70 }).await.unwrap();
    call(m, k, Cmd::Overdue).await.unwrap();
    let v = call(m, k, Cmd::Pay { amount: 70 }).await.unwrap();
    assert_eq!(v.state, BackupSyncRequired);
    assert_eq!(
        v.data.pending.as_ref().map(|p| (p.1, p.2)),
        Some((70, PastDue))
    );
    // Another payment meanwhile is refused with a typed error.
    let again = call(m, k, Cmd::Pay { amount: 5 }).await;
    assert!(
        matches!(again, Err(GovernorError::InvalidEvent { .. })),
        "{again:?}"
    );
    // Retries happen (with backoff) while the backup is silent...
    eventually(|| async { backup.calls.load(Ordering::SeqCst) >= 3 }).await;
    assert_eq!(state(m, k).await, BackupSyncRequired);
    // ...and the first that is answered completes the payment.
    backup.up.store(true, Ordering::SeqCst);
    assert_eq!(events.next().await.to, "PastDue");
    assert_eq!(events.next().await.to, "BackupSyncRequired");
    assert_eq!(events.next().await.to, "Active");
    let v = call(m, k, Cmd::Status).await.unwrap();
    assert_eq!((v.state, v.data.due, v.data.pending), (Active, 0, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_typed_error_with_no_receipt() {
    let gw = Arc::new(Switch(AtomicBool::new(true)));
    let (_dir, ms) = cluster(1, cfg(&gw, None)).await;
    let m = &ms[0];
    let k = "acme/main";
    call(m, k, Cmd::Invoice { amount: i64::MAX }).await.unwrap();
    let before = receipts(m, "billing", k).await;
    for (cmd, err) in [
        (Cmd::Pay { amount: -5 }, GovernorError::BadAmount(-5)),
        (Cmd::Pay { amount: 0 }, GovernorError::BadAmount(0)),
        (Cmd::Invoice { amount: -1 }, GovernorError::BadAmount(-1)),
        (Cmd::Invoice { amount: 1 }, GovernorError::Overflow(1)),
        (
            Cmd::Prepare {
                intent: "i".into(),
                amount: -2,
            },
            GovernorError::BadAmount(-2),
        ),
    ] {
        assert_eq!(call(m, k, cmd.clone()).await, Err(err), "{cmd:?}");
    }
    // Invalid in the state.
    let k2 = "acme/other";
    call(m, k2, Cmd::Status).await.unwrap();
    let base = receipts(m, "billing", k2).await;
    assert_eq!(
        call(m, k2, Cmd::Overdue).await,
        Err(GovernorError::invalid(&Active, &Cmd::Overdue))
    );
    call(m, k2, Cmd::Invoice { amount: 1 }).await.unwrap();
    call(m, k2, Cmd::Overdue).await.unwrap();
    let prep = Cmd::Prepare {
        intent: "i".into(),
        amount: 1,
    };
    assert_eq!(
        call(m, k2, prep.clone()).await,
        Err(GovernorError::invalid(&PastDue, &prep))
    );
    // No gateway and no backup: refused, nothing recorded.
    gw.0.store(false, Ordering::SeqCst);
    assert!(matches!(
        call(m, k2, Cmd::Pay { amount: 1 }).await,
        Err(GovernorError::Unavailable(_))
    ));
    assert_eq!(
        call(m, "nobody/main", Cmd::Status).await,
        Err(GovernorError::UnknownTenant("nobody".into()))
    );
    assert_eq!(receipts(m, "billing", k).await, before);
    assert_eq!(receipts(m, "billing", k2).await, base + 2);
    assert_eq!(state(m, k).await, Active, "still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_waiting_for_sync_survives_a_move_to_another_node() {
    let gw = Arc::new(Switch(AtomicBool::new(false)));
    let (_dir, ms) = cluster(2, cfg(&gw, Some("g1@127.0.0.1"))).await;
    let backup = serve(&ms[1]);
    backup.up.store(false, Ordering::SeqCst);
    let k = "acme/main";
    ms[0]
        .entities
        .migrate::<Billing>(k, ms[0].dist.name())
        .await
        .unwrap();
    call(&ms[0], k, Cmd::Invoice { amount: 9 }).await.unwrap();
    assert_eq!(
        call(&ms[0], k, Cmd::Pay { amount: 9 }).await.unwrap().state,
        BackupSyncRequired
    );
    ms[0]
        .entities
        .migrate::<Billing>(k, ms[1].dist.name())
        .await
        .unwrap();
    assert_eq!(
        state(&ms[0], k).await,
        BackupSyncRequired,
        "the pending payment is durable"
    );
    backup.up.store(true, Ordering::SeqCst);
    eventually(|| async { state(&ms[1], k).await == Active }).await;
    let v = call(&ms[0], k, Cmd::Status).await.unwrap();
    assert_eq!(
        (v.data.due, v.data.paid_total, v.data.pending),
        (0, 9, None)
    );
}
