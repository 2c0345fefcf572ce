//! Lazy epochs on the replicated log: an activation reads a majority's heads without writing
//! ([`ReplicatedLog::load_key`]), and takes its epoch at its first write
//! ([`ReplicatedLog::claim_receipt`]: phase 1 at a majority, then the accept).
//!
//! # Why the read sees every acknowledged write
//!
//! An acknowledged receipt was accepted by a majority of the key's replicas; any majority
//! that answers the read includes one of them, and a replica's last position (epoch, then
//! sequence number) only grows. The read takes the latest position among the majority's
//! answers. When every answer of the majority is at the same position, the receipt there
//! was accepted under its epoch by a majority: it is committed, and no later epoch can undo
//! it, so the activation may serve it without writing. When they differ, the latest may be a
//! write that was never acknowledged (its writer died or is cut off) and that a later epoch
//! could overwrite: serving it and then losing it would let a reader see a state appear and
//! vanish. Then the read takes an epoch at once (the eager [`ReplicatedLog::activate_key`],
//! which commits the adopted log), as every activation did before.
//!
//! # The first write
//!
//! The claim is phase 1 under a new epoch (prepare at the replica set, retried higher when a
//! replica promised more), then one accept of the adopted tail (re-tagged with the epoch, as
//! every recovery does) followed by the new receipt. Phase 1 and the accept are never one
//! message: a promise must come from a majority before any accept of the epoch, or a later
//! recovery could prefer an unacknowledged higher-epoch value over an acknowledged one.
//!
//! The majority of promises must be at or before the position the activation read. A
//! promise after it means another activation wrote since the read (or a write the read did
//! not see was in flight): the activation is stale and is refused (`Fenced`); nothing is
//! accepted. Promises at or before it form, with the read's committed position, Raft's
//! election rule: the adopted log (the read one) is at least as up to date as every log of a
//! majority, so it holds every committed receipt, and re-proposing it under the new epoch is
//! safe; a replica holding an unacknowledged later receipt of a lower epoch is truncated by
//! the accept (or caught up). The promise of a refused claim stays: it fences older epochs,
//! which may stop the activation that wrote meanwhile at its next write (it then reactivates
//! from the log; nothing acknowledged is lost).

use super::client::{majority, Answer};
use super::protocol::{Head, Promise, ReplicaMsg};
use super::{bounded_insert, ReplicatedLog};
use crate::log::{LogError, Recovered};
use actor_journal::{EntityKey, JournalError, LogPosition, Receipt};
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::atomic::Ordering;
use tokio::time::Instant;

/// `a` is after `b` in the order of logs: higher last epoch, then longer.
fn after(a: LogPosition, b: LogPosition) -> bool {
    (a.epoch, a.seq) > (b.epoch, b.seq)
}

impl ReplicatedLog {
    fn hint(&self, key: &EntityKey, epoch: u64) {
        bounded_insert(
            &mut self.inner.hints.lock(),
            self.inner.config.max_tracked_keys,
            key,
            epoch,
        );
    }

    /// The lazy read of an activation (see the module docs).
    pub(super) async fn load_key(&self, key: &EntityKey) -> Result<Recovered, LogError> {
        let replicas = self.replica_set(key)?;
        let need = majority(replicas.len());
        let deadline = Instant::now() + self.inner.config.timeout;
        let mut round: FuturesUnordered<_> = replicas
            .iter()
            .map(|node| {
                let key = key.clone();
                async move {
                    self.ask(node, deadline, |reply| ReplicaMsg::Head { key, reply })
                        .await
                }
            })
            .collect();
        let mut heads: Vec<Head> = Vec::new();
        let mut failed = 0usize;
        while let Some(answer) = round.next().await {
            match answer {
                Answer::Ok(h) => heads.push(h),
                _ => failed += 1,
            }
            if heads.len() >= need || failed > replicas.len() - need {
                break;
            }
        }
        if heads.len() < need {
            return Err(self.no_quorum(need, heads.len()));
        }
        let promised = heads.iter().map(|h| h.promised).max().unwrap_or(0);
        if promised > 0 {
            self.hint(key, promised);
        }
        let first = heads[0].last;
        if heads.iter().any(|h| h.last != first) {
            // The latest may be unacknowledged: commit it (or what wins) before serving it.
            self.inner.stats.eager_loads.fetch_add(1, Ordering::Relaxed);
            return self.activate_key(key).await;
        }
        self.inner.stats.loads.fetch_add(1, Ordering::Relaxed);
        let receipt = heads.iter().find_map(|h| h.receipt.clone());
        let snapshot = heads
            .into_iter()
            .filter_map(|h| h.snapshot)
            .max_by_key(|s| s.seq);
        Ok(Recovered {
            epoch: 0,
            last_seq: first.seq,
            last_epoch: first.epoch,
            last: receipt,
            snapshot,
        })
    }

    /// The first write of a lazy activation that read the log at `read` (see the module
    /// docs): resolves with the epoch it took.
    pub(super) async fn claim_receipt(
        &self,
        mut receipt: Receipt,
        read: LogPosition,
    ) -> Result<u64, LogError> {
        let key = receipt.entity();
        if Some(receipt.seq) != read.seq.checked_add(1) {
            return Err(LogError::Journal(JournalError::OutOfOrder {
                expected: read.seq.saturating_add(1),
            }));
        }
        let replicas = self.replica_set(&key)?;
        let need = majority(replicas.len());
        let _permit = self
            .inner
            .appends
            .acquire()
            .await
            .map_err(|_| self.no_quorum(1, 0))?;
        let deadline = Instant::now() + self.inner.config.timeout;
        let mut epoch = self.inner.hints.lock().get(&key).copied().unwrap_or(0) + 1;
        let mut attempt = 0u32;
        let promises = loop {
            let mut round: FuturesUnordered<_> = replicas
                .iter()
                .map(|node| {
                    let key = key.clone();
                    async move {
                        self.ask(node, deadline, |reply| ReplicaMsg::Prepare {
                            key,
                            epoch,
                            reply,
                        })
                        .await
                    }
                })
                .collect();
            let mut ok: Vec<Promise> = Vec::new();
            let (mut newer, mut higher, mut refused) = (0usize, 0u64, 0usize);
            while let Some(answer) = round.next().await {
                match answer {
                    Answer::Ok(p) if after(p.last, read) => newer += 1,
                    Answer::Ok(p) => ok.push(p),
                    Answer::Fenced(p) => {
                        higher = higher.max(p);
                        refused += 1;
                    }
                    Answer::Diverged(_) | Answer::Failed => refused += 1,
                }
                if ok.len() >= need || newer + refused > replicas.len() - need {
                    break;
                }
            }
            if ok.len() >= need {
                break ok;
            }
            if newer > 0 {
                // The log moved on since the read: this activation is stale.
                self.hint(&key, epoch);
                self.inner
                    .stats
                    .stale_claims
                    .fetch_add(1, Ordering::Relaxed);
                self.inner.stats.fenced.fetch_add(1, Ordering::Relaxed);
                return Err(LogError::Fenced { promised: epoch });
            }
            if higher == 0 || Instant::now() >= deadline {
                return Err(self.no_quorum(need, ok.len()));
            }
            self.inner
                .stats
                .prepare_retries
                .fetch_add(1, Ordering::Relaxed);
            epoch = epoch.max(higher) + 1;
            attempt += 1;
            let pause = self.backoff(attempt);
            if Instant::now() + pause >= deadline {
                return Err(self.no_quorum(need, ok.len()));
            }
            tokio::time::sleep(pause).await;
        };
        self.hint(&key, epoch);
        // Phase 2 gets a timeout of its own, as an eager activation's append did.
        let deadline = Instant::now() + self.inner.config.timeout;
        let adopted = self
            .adopt(&key, &replicas, epoch, &promises, deadline)
            .await?;
        if adopted.plan.last != read {
            // Defensive: the read position was committed, so a majority at or before it
            // holds it; anything else means this activation cannot continue from its read.
            self.inner
                .stats
                .stale_claims
                .fetch_add(1, Ordering::Relaxed);
            self.inner.stats.fenced.fetch_add(1, Ordering::Relaxed);
            return Err(LogError::Fenced { promised: epoch });
        }
        // Nothing to re-propose (an empty log, or one that ends in a snapshot): the receipt
        // follows the read position itself.
        let prev = if adopted.tail.is_empty() {
            read
        } else {
            adopted.prev
        };
        let mut batch = adopted.tail;
        receipt.epoch = epoch;
        batch.push(receipt);
        self.replicate(&key, &replicas, epoch, prev, batch, deadline)
            .await?;
        self.inner.stats.activations.fetch_add(1, Ordering::Relaxed);
        self.inner.stats.appends.fetch_add(1, Ordering::Relaxed);
        Ok(epoch)
    }
}
