//! The redb implementation of [`JournalStore`].

mod committer;
mod open;
mod tables;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use redb::{ReadTransaction, ReadableDatabase};
use tokio::sync::{mpsc, oneshot};

use self::committer::{Op, Reply, Shared};
use crate::{
    Accepted, EntityKey, JournalConfig, JournalError, JournalFuture, JournalStats, JournalStore,
    LogPosition, Receipt, Snapshot,
};

/// A node's journal in one redb file, with group commit.
///
/// Writes go through a bounded queue to one committer thread, which commits everything that
/// arrived while its previous commit ran as one write transaction with one sync, then resolves
/// those writes' futures. Reads run on tokio's blocking pool in their own read transactions.
/// Cloning the handle shares the store; the file is released when [`RedbJournal::close`]
/// resolves, or when the last handle is dropped.
///
/// Its futures must be polled inside a tokio runtime.
///
/// ```
/// use actor_journal::{EntityKey, JournalConfig, JournalError, JournalStore, RedbJournal, Receipt};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("journal-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// let journal = RedbJournal::open(JournalConfig::new(&dir))?;
/// let key = EntityKey::new("account", "acme-42");
///
/// // Activation: promise epoch 1; nothing has been accepted yet.
/// let accepted = journal.promise(&key, 1).await?;
/// assert_eq!(accepted.last_seq, 0);
///
/// // A transition: resolves once the receipt is durable.
/// let receipt = Receipt {
///     id: actor_journal::receipt_id(7, 1),
///     time: Receipt::now_micros(),
///     tenant: "acme".into(),
///     kind: key.kind.clone(),
///     key: key.key.clone(),
///     epoch: 1,
///     seq: 1,
///     from: "trial".into(),
///     to: "active".into(),
///     event: b"upgrade".to_vec(),
///     metadata: vec![],
///     state: vec![],
/// };
/// journal.append(receipt.clone()).await?;
///
/// // A newer activation fences the old one: its next write is refused and not stored.
/// journal.promise(&key, 2).await?;
/// let stale = Receipt { seq: 2, ..receipt };
/// assert!(matches!(journal.append(stale).await, Err(JournalError::Fenced { promised: 2 })));
/// assert_eq!(journal.last_state(&key).await?.last_seq, 1);
///
/// journal.close().await;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), JournalError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct RedbJournal {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` only while dropping.
    tx: Option<mpsc::Sender<Op>>,
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue stops the committer after its current batch; wait for it, so that
        // the file is released when the last handle is gone.
        self.tx = None;
        let handle = self
            .committer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl RedbJournal {
    /// Opens (or creates) the journal in `config.dir`. Blocks while the file is opened (and,
    /// with [`JournalConfig::verify_on_open`], verified).
    ///
    /// Refuses a file that is not a journal ([`JournalError::NotAJournal`]), is damaged
    /// ([`JournalError::Corrupt`]), has another format version, or is open elsewhere
    /// ([`JournalError::Locked`]); such a file is left as it was.
    pub fn open(config: JournalConfig) -> Result<Self, JournalError> {
        let syncs = Arc::new(AtomicU64::new(0));
        let db = open::open_database(&config, &syncs)?;
        let (tx, rx) = mpsc::channel(config.max_pending.max(1));
        let path = open::journal_path(&config);
        let shared = Arc::new(Shared::new(db, config, syncs));
        let committer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("actor-journal-commit".into())
                .spawn(move || committer::run(shared, rx))?
        };
        Ok(RedbJournal {
            inner: Arc::new(Inner {
                tx: Some(tx),
                shared,
                committer: Mutex::new(Some(committer)),
                path,
            }),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Finishes the writes already queued, then closes the store for every handle and releases
    /// the file: once this resolves, the file can be opened again.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.sender().send(Op::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    fn sender(&self) -> &mpsc::Sender<Op> {
        self.inner
            .tx
            .as_ref()
            .expect("the queue lives as long as a handle")
    }

    /// Queues a write (waiting while the queue is full) and waits until it is durable.
    async fn submit<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, JournalError> {
        let (tx, rx) = oneshot::channel();
        self.sender()
            .send(op(tx))
            .await
            .map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// Runs `f` in a read transaction on the calling task: for point reads only (a key's
    /// head is three B-tree lookups and at most one receipt, a few µs from the page cache).
    /// Handing such a read to the blocking pool costs more than the read (a thread wake-up,
    /// tens of µs on a VM) and sits on every entity activation. A cold page makes this one
    /// disk read on the worker. A database that is not open (faulted: reopening it runs
    /// recovery) is read on the blocking pool as any other read.
    fn read_now<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, JournalError> + Send + 'static,
    ) -> JournalFuture<'static, T> {
        if !self.inner.shared.is_open() {
            return self.read(f);
        }
        let r = self.inner.shared.with_db(|db| f(&db.begin_read()?));
        Box::pin(std::future::ready(r))
    }

    /// Runs `f` in a read transaction on the blocking pool (reads whose size depends on the
    /// data: ranges, queries).
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, JournalError> + Send + 'static,
    ) -> JournalFuture<'static, T> {
        let shared = self.inner.shared.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || shared.with_db(|db| f(&db.begin_read()?)))
                .await
                .map_err(|e| JournalError::Storage(format!("read task failed: {e}")))?
        })
    }
}

impl JournalStore for RedbJournal {
    fn promise<'a>(&'a self, key: &'a EntityKey, epoch: u64) -> JournalFuture<'a, Accepted> {
        let key = key.clone();
        Box::pin(self.submit(move |reply| Op::Promise { key, epoch, reply }))
    }

    fn append(&self, receipt: Receipt) -> JournalFuture<'_, ()> {
        Box::pin(self.submit(move |reply| Op::Append { receipt, reply }))
    }

    fn snapshot<'a>(&'a self, key: &'a EntityKey, snapshot: Snapshot) -> JournalFuture<'a, ()> {
        let key = key.clone();
        Box::pin(self.submit(move |reply| Op::Snapshot {
            key,
            snapshot,
            reply,
        }))
    }

    fn accept<'a>(
        &'a self,
        key: &'a EntityKey,
        epoch: u64,
        prev: LogPosition,
        receipts: Vec<Receipt>,
    ) -> JournalFuture<'a, LogPosition> {
        let key = key.clone();
        Box::pin(self.submit(move |reply| Op::Accept {
            key,
            epoch,
            prev,
            receipts,
            reply,
        }))
    }

    fn claim(&self, receipt: Receipt, read: LogPosition) -> JournalFuture<'_, u64> {
        Box::pin(self.submit(move |reply| Op::Claim {
            receipt,
            read,
            reply,
        }))
    }

    fn head<'a>(&'a self, key: &'a EntityKey) -> JournalFuture<'a, Accepted> {
        let key = key.clone();
        self.read_now(move |txn| tables::read_head(txn, &key))
    }

    fn last_state<'a>(&'a self, key: &'a EntityKey) -> JournalFuture<'a, Accepted> {
        let key = key.clone();
        self.read(move |txn| tables::read_accepted(txn, &key))
    }

    fn entries_after<'a>(
        &'a self,
        key: &'a EntityKey,
        after: u64,
        limit: usize,
    ) -> JournalFuture<'a, Vec<Receipt>> {
        let key = key.clone();
        self.read(move |txn| tables::read_entries_after(txn, &key, after, limit))
    }

    fn by_tenant<'a>(
        &'a self,
        tenant: &'a str,
        time: Range<u64>,
        limit: usize,
    ) -> JournalFuture<'a, Vec<Receipt>> {
        let tenant = tenant.to_owned();
        self.read(move |txn| tables::read_by_tenant(txn, &tenant, time, limit))
    }

    fn stats(&self) -> JournalStats {
        self.inner.shared.stats()
    }
}
