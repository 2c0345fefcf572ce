//! The storage trait the entity and replication layers program against.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use crate::{Accepted, EntityKey, JournalError, JournalStats, LogPosition, Receipt, Snapshot};

/// The future of a journal operation (boxed, so that `dyn JournalStore` works).
pub type JournalFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// A node's durable journal: per key, a promised epoch, the accepted receipts by sequence
/// number, and the latest snapshot (see the crate docs for the model).
///
/// **Durability.** A write (`promise`, `append`, `snapshot`) resolves `Ok` only once it is
/// durable: committed and synced to the device, so it survives a crash of the process or the
/// machine. A write that resolves with an error left nothing behind. A write whose future is
/// dropped before it resolves may or may not have become durable; read the key to find out.
///
/// **Order.** Writes are applied in the order they reach the store, which is the order in which
/// their futures are first polled (so a server that polls each request's future once, in
/// arrival order, keeps that order); a write issued after another one resolved sees its effect. Reads see every write that resolved before they began.
pub trait JournalStore: Send + Sync {
    /// Promises `epoch` for `key`: succeeds only if `epoch` is above every epoch the key has
    /// promised, and returns what the key has accepted. Refused with
    /// [`JournalError::Fenced`] (carrying the current promise) otherwise.
    fn promise<'a>(&'a self, key: &'a EntityKey, epoch: u64) -> JournalFuture<'a, Accepted>;

    /// Accepts `receipt` into its key's log: only if `receipt.epoch` is at least the key's
    /// promise ([`JournalError::Fenced`] otherwise) and `receipt.seq` is the key's next sequence
    /// number ([`JournalError::OutOfOrder`] otherwise). A refused receipt is not stored. An
    /// accepted epoch above the promise becomes the promise.
    fn append(&self, receipt: Receipt) -> JournalFuture<'_, ()>;

    /// Accepts `receipts` into `key`'s log on behalf of epoch `epoch`, after `prev`: the
    /// replicated form of [`append`](JournalStore::append), used by a replication layer whose
    /// activations recover other replicas' unacknowledged tails (Paxos phase 2).
    ///
    /// Refused (nothing written) with [`JournalError::Fenced`] if `epoch` is below the key's
    /// promise; with [`JournalError::Diverged`] if the log does not hold a receipt of epoch
    /// `prev.epoch` at `prev.seq` (a `prev` at or below the latest snapshot counts as held; `seq`
    /// 0 always is); with [`JournalError::Invalid`] if the receipts are not `key`'s, not
    /// consecutive from `prev.seq + 1`, or of an epoch above `epoch`. Otherwise, in one durable
    /// write: each receipt that the log already holds at its sequence number with the same
    /// epoch is kept as it is; at the first one whose stored epoch differs, the stored
    /// receipts from there on are removed (with their tenant index rows) and the rest are
    /// appended. `epoch` becomes the promise if it is above it. Resolves with the log's last
    /// position afterwards.
    ///
    /// A receipt's epoch is the epoch that accepted it: a replication layer re-proposing an
    /// older receipt under a new epoch sets the receipt's `epoch` to the new one.
    ///
    /// The default implementation refuses with [`JournalError::Storage`] (a store that does
    /// not implement it cannot be a replica).
    fn accept<'a>(
        &'a self,
        key: &'a EntityKey,
        epoch: u64,
        prev: LogPosition,
        receipts: Vec<Receipt>,
    ) -> JournalFuture<'a, LogPosition> {
        let _ = (key, epoch, prev, receipts);
        Box::pin(async {
            Err(JournalError::Storage(
                "this store does not implement accept".into(),
            ))
        })
    }

    /// Takes a new epoch for `receipt`'s key and appends the receipt with it, in one durable
    /// write: the first write of an activation that read the key's log (with
    /// [`head`](JournalStore::head)) without promising anything ("lazy epochs").
    ///
    /// Refused (nothing written) with [`JournalError::Diverged`] if the key's log no longer
    /// ends at `read` (another activation wrote since: this one is stale), and with
    /// [`JournalError::OutOfOrder`] if `receipt.seq` is not `read.seq + 1`. Otherwise the
    /// epoch is one above every epoch the key has promised or accepted; it becomes the key's
    /// promise (fencing every older activation), the receipt is stored with it, and it is
    /// the answer.
    ///
    /// The default implementation refuses with [`JournalError::Storage`] (then use
    /// [`promise`](JournalStore::promise) when the activation starts).
    fn claim(&self, receipt: Receipt, read: LogPosition) -> JournalFuture<'_, u64> {
        let _ = (receipt, read);
        Box::pin(async {
            Err(JournalError::Storage(
                "this store does not implement claim".into(),
            ))
        })
    }

    /// Records `snapshot` as the key's state up to `snapshot.seq`: its epoch must be at least
    /// the key's promise, and its sequence number between the latest snapshot's and the last
    /// accepted one. Then compacts the receipts it covers, per the store's
    /// [`Retention`](crate::Retention).
    fn snapshot<'a>(&'a self, key: &'a EntityKey, snapshot: Snapshot) -> JournalFuture<'a, ()>;

    /// What `key` has accepted (the latest snapshot and the receipts after it), without
    /// promising anything.
    fn last_state<'a>(&'a self, key: &'a EntityKey) -> JournalFuture<'a, Accepted>;

    /// Like [`last_state`](JournalStore::last_state), but with at most the last receipt in
    /// `entries`: what an activation needs, at a cost that does not grow with the log.
    fn head<'a>(&'a self, key: &'a EntityKey) -> JournalFuture<'a, Accepted> {
        Box::pin(async move {
            let mut acc = self.last_state(key).await?;
            let skip = acc.entries.len().saturating_sub(1);
            acc.entries.drain(..skip);
            Ok(acc)
        })
    }

    /// The stored receipts of `key` with a sequence number above `after`, in order, at most
    /// `limit` of them.
    fn entries_after<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> JournalFuture<'a, Vec<Receipt>>;

    /// The stored receipts of `tenant` whose time is in `time` (microseconds since the Unix
    /// epoch), ordered by time then id, at most `limit` of them.
    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> JournalFuture<'a, Vec<Receipt>>;

    /// Counters since the store was opened.
    fn stats(&self) -> JournalStats;
}
