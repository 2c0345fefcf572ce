//! Queries by tenant and time range, and by entity.

mod common;

use actor_journal::{JournalStore, RedbJournal};
use common::{key, receipt, temp_config};

#[tokio::test]
async fn receipts_are_found_by_tenant_and_half_open_time_range_in_time_order() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    // Three entities of two tenants, interleaved in time.
    let (a, b, c) = (key("a"), key("b"), key("c"));
    for k in [&a, &b, &c] {
        journal.promise(k, 1).await.unwrap();
    }
    let mut expected_acme = Vec::new();
    for seq in 1..=10u64 {
        let ra = receipt(&a, "acme", 1, seq, 1_000 + seq * 10);
        let rb = receipt(&b, "globex", 1, seq, 1_000 + seq * 10 + 1);
        let rc = receipt(&c, "acme", 1, seq, 1_000 + seq * 10 + 5);
        expected_acme.push(ra.clone());
        expected_acme.push(rc.clone());
        for r in [ra, rb, rc] {
            journal.append(r).await.unwrap();
        }
    }

    let all = journal.by_tenant("acme", 0..u64::MAX, 1000).await.unwrap();
    assert_eq!(all, expected_acme);
    assert!(all
        .windows(2)
        .all(|w| (w[0].time, w[0].id) < (w[1].time, w[1].id)));

    // [1030, 1060): times 1030, 1035, 1040, 1045, 1050, 1055.
    let window = journal.by_tenant("acme", 1_030..1_060, 1000).await.unwrap();
    let times: Vec<u64> = window.iter().map(|r| r.time).collect();
    assert_eq!(times, [1030, 1035, 1040, 1045, 1050, 1055]);
    assert!(window.iter().all(|r| r.tenant == "acme"));

    // Limits, empty ranges, unknown tenants, and a tenant that is a prefix of another.
    assert_eq!(
        journal
            .by_tenant("acme", 0..u64::MAX, 3)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(journal
        .by_tenant("acme", 2_000..3_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(journal
        .by_tenant("acme", 50..50, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(journal
        .by_tenant("acm", 0..u64::MAX, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        journal
            .by_tenant("globex", 0..u64::MAX, 100)
            .await
            .unwrap()
            .len(),
        10
    );

    // By entity: one key's log in sequence order, nothing of the others.
    let of_c = journal.entries_after(&c, 0, 100).await.unwrap();
    assert_eq!(of_c.len(), 10);
    assert!(of_c
        .iter()
        .enumerate()
        .all(|(i, r)| r.seq == i as u64 + 1 && r.key == c.key));
}

#[tokio::test]
async fn keys_that_share_a_prefix_do_not_mix() {
    let (_dir, config) = temp_config();
    let journal = RedbJournal::open(config).unwrap();
    let (short, long) = (key("ab"), key("abc"));
    for k in [&short, &long] {
        journal.promise(k, 1).await.unwrap();
        journal.append(receipt(k, "t", 1, 1, 1)).await.unwrap();
    }
    assert_eq!(journal.entries_after(&short, 0, 10).await.unwrap().len(), 1);
    assert_eq!(journal.last_state(&long).await.unwrap().entries.len(), 1);
}
