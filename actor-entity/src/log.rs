//! The seam between entities and their receipt log.
//!
//! # Epochs, taken lazily
//!
//! Every activation that writes holds an **epoch** for its key: higher than any epoch promised
//! before for that key, so that every older activation is fenced. The host starts an
//! activation with [`EntityLog::load`]: the key's last durable state (the last receipt, which
//! carries the entity's state after it, and the latest snapshot) and the position it read,
//! **without writing anything**: no fsync, no promise. The activation takes its epoch at its
//! **first write** ([`EntityLog::claim`]), in the same durable step as that first receipt;
//! the claim is refused (`Fenced`: the activation is stale and stops) if the key's log no
//! longer ends where the activation read it. Later transitions are [`EntityLog::append`]s of
//! receipts with that epoch and the next sequence number; a log that has promised a higher
//! epoch refuses them with [`LogError::Fenced`], and the activation stops without replying
//! success to anyone.
//!
//! So an activation that has only served reads **holds no epoch** ([`Recovered::epoch`] is 0)
//! and fenced nobody: two activations of one key (a partition, a race) may both serve reads
//! of the same durable state, and the first of them to write fences the other, whose own
//! first write is then refused. What a write needs is unchanged: exactly one epoch commits.
//! Before, every activation promised its epoch durably when it started (an fsync, and for a
//! replicated log a round trip to a majority) even if it never wrote. Akka Cluster Sharding
//! and Orleans take no epoch at all (an Akka entity's persistence id has one writer by
//! convention; Orleans' grain directory may admit duplicates that both write); here a write
//! of a stale activation is never acknowledged.
//!
//! [`EntityLog::activate`] still takes an epoch at once (the eager form, for tools and tests
//! that want to fence a key now); a log that does not implement `load`/`claim` gets the eager
//! behaviour through their default implementations.

use actor_journal::{EntityKey, JournalError, JournalStore, LogPosition, Receipt, Snapshot};
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future of a log operation (so `dyn EntityLog` works).
pub type LogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LogError>> + Send + 'a>>;

/// What an activation starts from: [`EntityLog::load`] or [`EntityLog::activate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The epoch this activation holds: its receipts carry it. 0: none yet (a lazy
    /// [`load`](EntityLog::load)); the first write takes one with [`EntityLog::claim`].
    pub epoch: u64,
    /// The last sequence number accepted for the key (0 for a new key): the next receipt
    /// takes `last_seq + 1`.
    pub last_seq: u64,
    /// The epoch of the receipt at `last_seq` (0 for a new key): with `last_seq`, the
    /// position the activation read, which its first write must still find.
    pub last_epoch: u64,
    /// The last accepted receipt (its `state` is the entity's state after it), if any.
    pub last: Option<Receipt>,
    /// The latest snapshot, if any (used when it is later than `last`).
    pub snapshot: Option<Snapshot>,
}

impl Recovered {
    /// The position of the key's log this activation read.
    pub fn position(&self) -> LogPosition {
        LogPosition {
            seq: self.last_seq,
            epoch: self.last_epoch,
        }
    }

    /// The entity's latest durable state (encoded): the later of the last receipt's state and
    /// the snapshot's; `None` for a key never written.
    pub fn state(&self) -> Option<&[u8]> {
        match (&self.last, &self.snapshot) {
            (Some(r), Some(s)) if s.seq > r.seq => Some(&s.state),
            (Some(r), _) => Some(&r.state),
            (None, Some(s)) => Some(&s.state),
            (None, None) => None,
        }
    }
}

/// Why a log operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// A newer activation holds the key: this one must stop (exit reason `fenced`).
    #[error("fenced: epoch {promised} was promised for this key")]
    Fenced {
        /// The epoch promised (at least).
        promised: u64,
    },
    /// Not enough replicas answered (down, partitioned, or too slow): nothing was
    /// acknowledged; the write may still be accepted by some replicas and is then recovered
    /// or superseded by the next activation.
    #[error("no quorum: {got} of {needed} replicas answered")]
    NoQuorum {
        /// Replicas needed (a majority).
        needed: usize,
        /// Replicas that accepted.
        got: usize,
    },
    /// The local journal failed (full disk, I/O error, refused sequence).
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

/// Journal errors compare by their text (an I/O error has no equality of its own).
impl PartialEq for LogError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (LogError::Fenced { promised: a }, LogError::Fenced { promised: b }) => a == b,
            (
                LogError::NoQuorum { needed, got },
                LogError::NoQuorum {
                    needed: n2,
                    got: g2,
                },
            ) => needed == n2 && got == g2,
            (LogError::Journal(a), LogError::Journal(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for LogError {}

/// A receipt log for entities. Implemented by [`LocalLog`] (one node) and
/// [`ReplicatedLog`](crate::replicated) (a majority of a key's replicas).
pub trait EntityLog: Send + Sync + 'static {
    /// Takes a new epoch for `key`, above every epoch promised for it before, and returns what
    /// the log has accepted for the key (the eager form: the host uses
    /// [`load`](EntityLog::load)).
    fn activate<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered>;

    /// What an activation of `key` starts from: the key's last durable state, including every
    /// acknowledged write, read without writing when the log can (then
    /// [`Recovered::epoch`] is 0, and the activation's first write is a
    /// [`claim`](EntityLog::claim)). The default takes an epoch at once
    /// ([`activate`](EntityLog::activate)).
    fn load<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        self.activate(key)
    }

    /// An activation's first write after a lazy [`load`](EntityLog::load) that read the
    /// log at `read`: takes an epoch above every one promised for the key and appends
    /// `receipt` (its `seq` `read.seq + 1`; its `epoch` is set here) with it; resolves with
    /// the epoch once the receipt is durable where this log promises. Refused with
    /// [`LogError::Fenced`] if the key's log no longer ends at `read` (a newer activation
    /// wrote: this one is stale); nothing of the receipt is then acknowledged.
    ///
    /// The default refuses (a log whose `load` takes the epoch eagerly never gets a claim).
    fn claim(&self, receipt: Receipt, read: LogPosition) -> LogFuture<'_, u64> {
        let _ = (receipt, read);
        Box::pin(async {
            Err(LogError::Journal(JournalError::Storage(
                "this log takes epochs eagerly: claim is not implemented".into(),
            )))
        })
    }

    /// Appends `receipt` (its `epoch` the activation's, its `seq` the next one). Resolves once
    /// the receipt is durable where this log promises (locally, or on a majority).
    fn append(&self, receipt: Receipt) -> LogFuture<'_, ()>;

    /// One entity's receipts after sequence number `after`, at most `limit`.
    fn entries<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>>;

    /// A tenant's receipts in a time range (microseconds since the Unix epoch), ordered by
    /// time then id, at most `limit`; a replicated log merges what its nodes hold and drops
    /// duplicates by receipt id.
    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>>;
}

/// The log of one node's journal (replication factor 1: a single-node deployment or a demo).
/// Fencing holds between activations on this node; across nodes use a replicated log.
#[derive(Clone)]
pub struct LocalLog {
    store: Arc<dyn JournalStore>,
}

impl LocalLog {
    /// A log over `store`.
    pub fn new(store: Arc<dyn JournalStore>) -> LocalLog {
        LocalLog { store }
    }
}

impl EntityLog for LocalLog {
    fn activate<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        Box::pin(async move {
            loop {
                let seen = self.store.last_state(key).await?;
                let epoch = seen.promised.max(seen.last_epoch) + 1;
                match self.store.promise(key, epoch).await {
                    Ok(acc) => {
                        return Ok(Recovered {
                            epoch,
                            last_seq: acc.last_seq,
                            last_epoch: acc.last_epoch,
                            last: acc.entries.last().cloned(),
                            snapshot: acc.snapshot,
                        })
                    }
                    // Another activation took a higher epoch in between: go above it.
                    Err(JournalError::Fenced { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        })
    }

    fn load<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered> {
        Box::pin(async move {
            let acc = self.store.head(key).await?;
            Ok(Recovered {
                epoch: 0,
                last_seq: acc.last_seq,
                last_epoch: acc.last_epoch,
                last: acc.entries.last().cloned(),
                snapshot: acc.snapshot,
            })
        })
    }

    fn claim(&self, receipt: Receipt, read: LogPosition) -> LogFuture<'_, u64> {
        Box::pin(async move {
            match self.store.claim(receipt, read).await {
                Ok(epoch) => Ok(epoch),
                // The log moved on since the activation read it: a newer one wrote.
                Err(JournalError::Diverged { last_epoch, .. }) => Err(LogError::Fenced {
                    promised: last_epoch,
                }),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn append(&self, receipt: Receipt) -> LogFuture<'_, ()> {
        Box::pin(async move {
            match self.store.append(receipt).await {
                Ok(()) => Ok(()),
                Err(JournalError::Fenced { promised, .. }) => Err(LogError::Fenced { promised }),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn entries<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        Box::pin(async move { Ok(self.store.entries_after(key, after, limit).await?) })
    }

    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> LogFuture<'a, Vec<Receipt>> {
        Box::pin(async move { Ok(self.store.by_tenant(tenant, time, limit).await?) })
    }
}
