//! Activations of one kind on one node read the log concurrently: the
//! kind's supervisor only starts the machine (it starts children one at a time), so a
//! failover that reactivates many keys at once does not wait for each key's log round trips
//! in turn (W18).

mod common;

use actor_entity::log::{EntityLog, LocalLog, LogFuture, Recovered};
use actor_entity::EntityConfig;
use actor_journal::{EntityKey, JournalConfig, LogPosition, Receipt, RedbJournal};
use common::{balance, Account};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// A local log whose `load` returns only once `n` activations are inside it at once.
struct Gathering {
    inner: LocalLog,
    all_in: Barrier,
}

impl EntityLog for Gathering {
    fn activate<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        self.inner.activate(key)
    }

    fn load<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        Box::pin(async move {
            self.all_in.wait().await;
            self.inner.load(key).await
        })
    }

    fn claim(&self, receipt: Receipt, read: LogPosition) -> LogFuture<'_, u64> {
        self.inner.claim(receipt, read)
    }

    fn append(&self, receipt: Receipt) -> LogFuture<'_, ()> {
        self.inner.append(receipt)
    }

    fn entries<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        self.inner.entries(key, after, limit)
    }

    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        self.inner.by_tenant(tenant, time, limit)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activations_of_one_kind_read_the_log_concurrently() {
    const N: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let store = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
    let log = Arc::new(Gathering {
        inner: LocalLog::new(Arc::new(store)),
        all_in: Barrier::new(N),
    });
    let m = common::member("conc@127.0.0.1", log, EntityConfig::default()).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..N {
        let e = m.entities.clone();
        calls.spawn(async move {
            e.call::<Account>(
                &format!("k{i}"),
                common::Req::Balance,
                Duration::from_secs(5),
            )
            .await
        });
    }
    // Serialised activations would wait at the barrier for ever (until the calls time out).
    let all = tokio::time::timeout(Duration::from_secs(10), async {
        let mut ok = 0;
        while let Some(r) = calls.join_next().await {
            assert!(r.unwrap().is_ok());
            ok += 1;
        }
        ok
    })
    .await
    .expect("the activations waited for each other");
    assert_eq!(all, N);
    assert_eq!(m.entities.live(), N);
    assert_eq!(balance(&m, "k0").await, 0);
}
