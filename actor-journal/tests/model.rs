//! Property test: the store follows a simple in-memory model of the promise, append and snapshot
//! rules through any sequence of operations, including reopening.

mod common;

use std::collections::{BTreeMap, HashMap};

use actor_journal::{
    Accepted, EntityKey, JournalError, JournalStore, RedbJournal, Retention, Snapshot,
};
use common::{key, receipt, temp_config};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Promise { key: usize, epoch: u64 },
    Append { key: usize, epoch: u64, seq: u64 },
    Snapshot { key: usize, epoch: u64, seq: u64 },
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..3usize, 0..6u64).prop_map(|(key, epoch)| Step::Promise { key, epoch }),
        6 => (0..3usize, 0..6u64, 0..8u64)
            .prop_map(|(key, epoch, seq)| Step::Append { key, epoch, seq }),
        2 => (0..3usize, 0..6u64, 0..8u64)
            .prop_map(|(key, epoch, seq)| Step::Snapshot { key, epoch, seq }),
        1 => Just(Step::Reopen),
    ]
}

/// The model of one key: the rules written as plainly as possible.
#[derive(Debug, Default, Clone)]
struct ModelKey {
    promised: u64,
    last_epoch: u64,
    last_seq: u64,
    snapshot: Option<Snapshot>,
    entries: BTreeMap<u64, u64>, // seq -> epoch
}

impl ModelKey {
    fn snapshot_seq(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.seq)
    }

    fn promise(&mut self, epoch: u64) -> Result<(), JournalError> {
        if epoch <= self.promised {
            return Err(JournalError::Fenced {
                promised: self.promised,
            });
        }
        self.promised = epoch;
        Ok(())
    }

    fn append(&mut self, epoch: u64, seq: u64) -> Result<(), JournalError> {
        if epoch < self.promised {
            return Err(JournalError::Fenced {
                promised: self.promised,
            });
        }
        if seq != self.last_seq + 1 {
            return Err(JournalError::OutOfOrder {
                expected: self.last_seq + 1,
            });
        }
        self.promised = epoch;
        self.last_epoch = epoch;
        self.last_seq = seq;
        self.entries.insert(seq, epoch);
        Ok(())
    }

    fn snapshot(&mut self, snapshot: Snapshot) -> Result<(), JournalError> {
        if snapshot.epoch < self.promised {
            return Err(JournalError::Fenced {
                promised: self.promised,
            });
        }
        if snapshot.seq < self.snapshot_seq() || snapshot.seq > self.last_seq {
            return Err(JournalError::SnapshotOutOfRange {
                seq: snapshot.seq,
                first: self.snapshot_seq(),
                last: self.last_seq,
            });
        }
        self.entries.retain(|seq, _| *seq > snapshot.seq);
        self.promised = self.promised.max(snapshot.epoch);
        self.snapshot = Some(snapshot);
        Ok(())
    }

    fn accepted(&self, k: &EntityKey) -> Accepted {
        Accepted {
            promised: self.promised,
            last_epoch: self.last_epoch,
            last_seq: self.last_seq,
            snapshot: self.snapshot.clone(),
            entries: self
                .entries
                .iter()
                .map(|(seq, epoch)| receipt(k, "t", *epoch, *seq, *seq))
                .collect(),
        }
    }
}

/// Two errors agree when they are the same refusal with the same fields.
fn same(got: &Result<(), JournalError>, want: &Result<(), JournalError>) -> bool {
    match (got, want) {
        (Ok(()), Ok(())) => true,
        (Err(a), Err(b)) => format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

async fn check(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let (_dir, mut config) = temp_config();
    config.retention = Retention::Compact;
    config.verify_on_open = false; // Reopened often; the open path is tested elsewhere.
    let mut journal = RedbJournal::open(config.clone()).unwrap();
    let keys: Vec<EntityKey> = (0..3).map(|n| key(&format!("k{n}"))).collect();
    let mut model: HashMap<usize, ModelKey> = HashMap::new();
    for step in steps {
        match step {
            Step::Promise { key, epoch } => {
                let m = model.entry(key).or_default();
                let want = m.promise(epoch);
                let got = journal.promise(&keys[key], epoch).await;
                match (&got, &want) {
                    (Ok(accepted), Ok(())) => {
                        prop_assert_eq!(accepted, &m.accepted(&keys[key]))
                    }
                    _ => prop_assert!(
                        same(&got.as_ref().map(|_| ()).map_err(Clone::clone), &want),
                        "promise {} on {}: got {:?}, model {:?}",
                        epoch,
                        key,
                        got,
                        want
                    ),
                }
            }
            Step::Append { key, epoch, seq } => {
                let want = model.entry(key).or_default().append(epoch, seq);
                let got = journal
                    .append(receipt(&keys[key], "t", epoch, seq, seq))
                    .await;
                prop_assert!(
                    same(&got, &want),
                    "append {epoch}/{seq}: {got:?} vs {want:?}"
                );
            }
            Step::Snapshot { key, epoch, seq } => {
                let snapshot = Snapshot {
                    epoch,
                    seq,
                    state: vec![seq as u8],
                };
                let want = model.entry(key).or_default().snapshot(snapshot.clone());
                let got = journal.snapshot(&keys[key], snapshot).await;
                prop_assert!(
                    same(&got, &want),
                    "snapshot {epoch}/{seq}: {got:?} vs {want:?}"
                );
            }
            Step::Reopen => {
                journal.close().await;
                journal = RedbJournal::open(config.clone()).unwrap();
            }
        }
    }
    for (n, k) in keys.iter().enumerate() {
        let want = model.get(&n).cloned().unwrap_or_default().accepted(k);
        prop_assert_eq!(journal.last_state(k).await.unwrap(), want);
    }
    let in_model: usize = model.values().map(|m| m.entries.len()).sum();
    prop_assert_eq!(
        journal
            .by_tenant("t", 0..u64::MAX, usize::MAX)
            .await
            .unwrap()
            .len(),
        in_model
    );
    journal.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_store_follows_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check(steps))?;
    }
}
