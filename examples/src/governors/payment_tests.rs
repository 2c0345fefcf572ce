//! The subscription payment: all or nothing, also when the node hosting the governors dies
//! between the steps.

use super::super::testkit::*;
use super::*;

const ENT: &str = "acme/pro";
const BILL: &str = "acme/main";

async fn entitle(m: &Member) {
    for cmd in [entitlement::Cmd::Grant, entitlement::Cmd::Approve] {
        m.govs.call::<Entitlement, _>(ENT, cmd, T).await.unwrap();
    }
}

/// (paid periods on entitlement, (paid total, period) on billing, anything still prepared).
async fn applied(m: &Member) -> (u64, (u64, u64), bool) {
    let e = m
        .govs
        .call::<Entitlement, _>(ENT, entitlement::Cmd::Status, T)
        .await
        .unwrap();
    let b = m
        .govs
        .call::<Billing, _>(BILL, billing::Cmd::Status, T)
        .await
        .unwrap();
    let prepared = e.data.intents.prepared.is_some() || b.data.intents.prepared.is_some();
    (
        e.data.paid_periods,
        (b.data.paid_total, b.data.period),
        prepared,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_applies_on_both_or_is_refused_on_both() {
    let (_dir, ms) = cluster(1, config()).await;
    let m = &ms[0];
    // Not entitled yet: refused, applied nowhere, the intent aborted.
    let p = m.govs.payment("acme", "sub-1");
    let refused = p.run(ENT, BILL, 30).await;
    assert!(
        matches!(refused, Err(GovernorError::InvalidEvent { .. })),
        "{refused:?}"
    );
    assert_eq!(applied(m).await, (0, (0, 0), false));
    assert_eq!(
        p.finish().await.unwrap(),
        Outcome::Aborted(refused.unwrap_err().to_string())
    );
    entitle(m).await;
    let p = m.govs.payment("acme", "sub-2");
    assert_eq!(p.run(ENT, BILL, 30).await, Ok(Outcome::Committed));
    assert_eq!(applied(m).await, (1, (30, 1), false));
    // Idempotent: finishing or recovering again changes nothing.
    assert_eq!(p.finish().await, Ok(Outcome::Committed));
    assert!(m.govs.recover_payments("acme", 0).await.unwrap().is_empty());
    assert_eq!(applied(m).await, (1, (30, 1), false));
    // Billing past due: refused on both.
    m.govs
        .call::<Billing, _>(BILL, billing::Cmd::Invoice { amount: 5 }, T)
        .await
        .unwrap();
    m.govs
        .call::<Billing, _>(BILL, billing::Cmd::Overdue, T)
        .await
        .unwrap();
    assert!(m
        .govs
        .payment("acme", "sub-3")
        .run(ENT, BILL, 30)
        .await
        .is_err());
    assert_eq!(applied(m).await, (1, (30, 1), false));
    // Bad input to the intent.
    let p = m.govs.payment("acme", "sub-4");
    m.govs
        .call::<PaymentIntent, _>(&p.key, Cmd::Status, T)
        .await
        .unwrap();
    let base = receipts(m, "payment_intent", &p.key).await;
    assert_eq!(
        p.begin(ENT, BILL, -1).await,
        Err(GovernorError::BadAmount(-1))
    );
    assert_eq!(
        p.begin("globex/pro", BILL, 1).await,
        Err(GovernorError::BadKey("globex/pro".into()))
    );
    assert_eq!(receipts(m, "payment_intent", &p.key).await, base);
}

/// Three nodes; the governors and the intent live on the third, which dies between the
/// steps; recovery from a survivor finishes the intent.
async fn crash_between_steps(decided: bool) -> (u64, (u64, u64), bool) {
    let (_dir, ms) = cluster(3, config()).await;
    entitle(&ms[0]).await;
    let p = ms[0].govs.payment("acme", "sub-1");
    p.begin(ENT, BILL, 25).await.unwrap();
    let doomed = ms[2].dist.name().to_string();
    let e = &ms[0].entities;
    e.migrate::<Entitlement>(ENT, &doomed).await.unwrap();
    e.migrate::<Billing>(BILL, &doomed).await.unwrap();
    e.migrate::<PaymentIntent>(&p.key, &doomed).await.unwrap();
    if decided {
        // Both prepared and the decision written; entitlement committed, billing not yet.
        p.prepare().await.unwrap();
        let cmd = entitlement::Cmd::Commit {
            intent: p.key.clone(),
        };
        ms[0]
            .govs
            .call::<Entitlement, _>(ENT, cmd, T)
            .await
            .unwrap();
    } else {
        // Entitlement prepared, billing not yet, nothing decided.
        let cmd = entitlement::Cmd::Prepare {
            intent: p.key.clone(),
        };
        ms[0]
            .govs
            .call::<Entitlement, _>(ENT, cmd, T)
            .await
            .unwrap();
    }
    ms[2].dist.shutdown();
    eventually(|| async { ms[0].entities.whereis("entitlement", ENT).is_none() }).await;
    let done = ms[1].govs.recover_payments("acme", 0).await.unwrap();
    let expect = match decided {
        true => Outcome::Committed,
        false => Outcome::Aborted("recovered before the decision".into()),
    };
    assert_eq!(
        done.into_iter().collect::<Vec<_>>(),
        [(p.key.clone(), expect)]
    );
    // Recovery again: nothing left to do, nothing applied twice.
    assert!(ms[0]
        .govs
        .recover_payments("acme", 0)
        .await
        .unwrap()
        .is_empty());
    if !decided {
        // The coordinator, had it survived, can no longer prepare it.
        let cmd = billing::Cmd::Prepare {
            intent: p.key.clone(),
            amount: 25,
        };
        let late = ms[0].govs.call::<Billing, _>(BILL, cmd, T).await;
        assert_eq!(late, Err(GovernorError::IntentAborted(p.key.clone())));
        assert_eq!(
            p.prepare().await,
            Err(GovernorError::IntentAborted(p.key.clone()))
        );
    }
    applied(&ms[1]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_decision_is_rolled_back_on_both() {
    assert_eq!(crash_between_steps(false).await, (0, (0, 0), false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_decision_is_completed_on_both() {
    assert_eq!(crash_between_steps(true).await, (1, (25, 1), false));
}
