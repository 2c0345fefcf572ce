//! The seam between entities and their receipt log.
//!
//! An activation first takes an **epoch** for its key ([`EntityLog::activate`]): higher than
//! any epoch promised before for that key, so that every older activation is fenced; with it
//! comes what the log has accepted (the last receipt, which carries the entity's state after
//! it, and the latest snapshot). Then every transition is an [`EntityLog::append`] of a
//! receipt with that epoch and the next sequence number; a log that has promised a higher
//! epoch refuses it with [`LogError::Fenced`], and the activation stops without replying
//! success to anyone.

use actor_journal::{EntityKey, JournalError, JournalStore, Receipt, Snapshot};
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future of a log operation (so `dyn EntityLog` works).
pub type LogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LogError>> + Send + 'a>>;

/// What an activation holds after [`EntityLog::activate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The epoch this activation holds: its receipts carry it.
    pub epoch: u64,
    /// The last sequence number accepted for the key (0 for a new key): the next receipt
    /// takes `last_seq + 1`.
    pub last_seq: u64,
    /// The last accepted receipt (its `state` is the entity's state after it), if any.
    pub last: Option<Receipt>,
    /// The latest snapshot, if any (used when it is later than `last`).
    pub snapshot: Option<Snapshot>,
}

impl Recovered {
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
    /// the log has accepted for the key.
    fn activate<'a>(&'a self, key: &'a EntityKey) -> LogFuture<'a, Recovered>;

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
