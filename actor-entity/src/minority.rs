//! Entities on the minority side of a partition.
//!
//! With [`EntityConfig::quorum`](crate::EntityConfig::quorum) set, a host reads its node's
//! quorum state (actor-cluster's membership). While the node is not quorate
//! ([`QuorumState::Minority`](actor_cluster::membership::QuorumState::Minority), or
//! `Deciding` while a partition settles):
//!
//! - **Reads are served.** An event that changes neither the state nor the durable data writes
//!   nothing and is answered as usual.
//! - **Writes are refused before the machine advances.** An event that would write a receipt
//!   is undone: the activation's machine is rebuilt from its last durable (state, data)
//!   ([`Entity::activate`](crate::Entity::activate)), its state stays the one before, the
//!   event's replies and actions are dropped, nothing is written, and the caller gets
//!   [`EntityError::NotQuorate`]. The activation keeps running (non-durable fields of the
//!   machine are reset to what `activate` builds, as after a reactivation). A cast that would
//!   write is dropped the same way (counted in [`EntityStats::refused`](
//!   crate::EntityStats::refused)); a cast has no one to tell.
//! - **No activation.** A key not active on this side is not activated here (its activation
//!   may live on the quorate side): [`EntityError::NotQuorate`].
//!
//! With [`MinorityWrites::Queue`], a call refused as not quorate is not answered with the
//! refusal: its caller's host queues it (bounded), waits for the quorum to return, and sends
//! it again, queued calls one at a time in the order they were queued. The caller gets the
//! answer, [`EntityError::QueueTimeout`] after `max_wait` or [`EntityError::QueueFull`] at
//! once; a refused write was undone, so sending it again applies it exactly once. Calls made
//! after the heal are not ordered behind the queued ones.
//!
//! Akka's sharding has no such mode (a downed side stops its shards); Orleans keeps
//! accepting writes on both sides. The safety of a single writer does not rest on this
//! check: the receipt log's epochs fence a stale activation whatever the quorum state says.

use crate::error::EntityError;
use crate::host::Entities;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What a write refused on the minority side becomes for its caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MinorityWrites {
    /// The caller gets [`EntityError::NotQuorate`] at once (default).
    #[default]
    Refuse,
    /// The caller's host queues the call and sends it again once its node is quorate.
    Queue {
        /// Calls queued on one host at most; more are refused with
        /// [`EntityError::QueueFull`].
        max: usize,
        /// How long a queued call waits for the quorum at most; then
        /// [`EntityError::QueueTimeout`] (it was not applied).
        max_wait: Duration,
    },
}

/// The calls of one host waiting for the quorum: a fair (first come, first served) turn and
/// their count.
#[derive(Default)]
pub(crate) struct WriteQueue {
    turn: tokio::sync::Mutex<()>,
    queued: AtomicUsize,
}

impl WriteQueue {
    /// Calls queued now.
    pub(crate) fn len(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// A place in the queue: counted until dropped.
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Entities {
    /// `Err(NotQuorate)` if a quorum source is configured and this node is not quorate.
    pub(crate) fn check_quorum(&self, kind: &str, key: &str) -> Result<(), EntityError> {
        match self.inner.cfg.quorum.as_ref().map(|q| q.check()) {
            Some(Err(error)) => Err(EntityError::NotQuorate {
                kind: kind.to_string(),
                key: key.to_string(),
                error,
            }),
            _ => Ok(()),
        }
    }

    /// Calls queued on this host for the quorum now.
    pub fn queued_writes(&self) -> usize {
        self.inner.queue.len()
    }

    /// The call `attempt` was refused as not quorate: queue it per the configuration, or
    /// return the refusal. `attempt` sends the call once more.
    pub(crate) async fn queue_or_refuse<R, F, Fut>(
        &self,
        refusal: EntityError,
        mut attempt: F,
    ) -> Result<R, EntityError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<R, EntityError>>,
    {
        let MinorityWrites::Queue { max, max_wait } = self.inner.cfg.minority_writes else {
            return Err(refusal);
        };
        let EntityError::NotQuorate { kind, key, .. } = &refusal else {
            return Err(refusal);
        };
        let (kind, key) = (kind.clone(), key.clone());
        let q = &self.inner.queue;
        if q.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(EntityError::QueueFull { kind, key, max });
        }
        let _place = Place(&q.queued);
        self.inner.live.stats.queued.fetch_add(1, Ordering::Relaxed);
        let start = tokio::time::Instant::now();
        let deadline = start + max_wait;
        let timed_out = || EntityError::QueueTimeout {
            kind: kind.clone(),
            key: key.clone(),
            waited: start.elapsed(),
        };
        let Ok(_turn) = tokio::time::timeout_at(deadline, q.turn.lock()).await else {
            return Err(timed_out());
        };
        let mut pause = Duration::from_millis(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            match &self.inner.cfg.quorum {
                Some(quorum) => {
                    if quorum.wait_quorate(left).await.is_err() {
                        return Err(timed_out());
                    }
                }
                // The refusal came from another node's host: poll it.
                None => {
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
            match attempt().await {
                // Quorate here but not (yet) where the activation runs, or lost again.
                Err(EntityError::NotQuorate { .. }) => {
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }
}
