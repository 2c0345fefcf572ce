//! The committer: one thread that owns the write side of the database and turns whatever writes
//! arrived while the previous commit ran into one write transaction and one sync (group commit).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use super::open::open_database;
use super::tables::WriteTables;
use crate::{
    Accepted, EntityKey, JournalConfig, JournalError, JournalStats, LogPosition, Receipt,
    Retention, Snapshot,
};

/// Where an operation's result goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

/// A write sent to the committer.
pub(crate) enum Op {
    Promise {
        key: EntityKey,
        epoch: u64,
        reply: Reply<Accepted>,
    },
    Append {
        receipt: Receipt,
        reply: Reply<()>,
    },
    Snapshot {
        key: EntityKey,
        snapshot: Snapshot,
        reply: Reply<()>,
    },
    Accept {
        key: EntityKey,
        epoch: u64,
        prev: LogPosition,
        receipts: Vec<Receipt>,
        reply: Reply<LogPosition>,
    },
    /// An activation's first write, taking its epoch ([`crate::JournalStore::claim`]).
    Claim {
        receipt: Receipt,
        read: LogPosition,
        reply: Reply<u64>,
    },
    /// Finish what is queued, release the file, then answer.
    Close(oneshot::Sender<()>),
}

/// The database as the store sees it.
pub(crate) enum Slot {
    Open(Database),
    /// A fault left the open database unusable; the next write batch reopens the file.
    Faulted(JournalError),
    Closed,
}

/// What the committer shares with the handles: the database (readers take the read lock for the
/// length of a read transaction; the committer takes the write lock only to reopen or close) and
/// the counters.
pub(crate) struct Shared {
    slot: RwLock<Option<Slot>>,
    config: JournalConfig,
    commits: AtomicU64,
    ops: AtomicU64,
    max_batch: AtomicU64,
    failed_commits: AtomicU64,
    pub(crate) syncs: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn new(db: Database, config: JournalConfig, syncs: Arc<AtomicU64>) -> Self {
        Shared {
            slot: RwLock::new(Some(Slot::Open(db))),
            config,
            commits: AtomicU64::new(0),
            ops: AtomicU64::new(0),
            max_batch: AtomicU64::new(0),
            failed_commits: AtomicU64::new(0),
            syncs,
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Option<Slot>> {
        self.slot.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, Option<Slot>> {
        self.slot.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the database is open (not faulted, closed or never opened).
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.read().as_ref(), Some(Slot::Open(_)))
    }

    /// Runs `f` on the open database (reopening a faulted one first), or fails with why it is
    /// not open.
    pub(crate) fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        if matches!(self.read().as_ref(), Some(Slot::Faulted(_))) {
            self.reopen();
        }
        match self.read().as_ref() {
            Some(Slot::Open(db)) => f(db),
            Some(Slot::Faulted(err)) => Err(err.clone()),
            Some(Slot::Closed) | None => Err(JournalError::Closed),
        }
    }

    /// Marks the open database faulted (dropping it: it latches I/O errors), then opens the
    /// file again, which recovers its last durable commit.
    fn fault(&self, err: &JournalError) {
        {
            let mut slot = self.write();
            if matches!(slot.as_ref(), Some(Slot::Open(_))) {
                *slot = Some(Slot::Faulted(err.clone()));
            }
        }
        self.reopen();
    }

    /// Drops a faulted database and opens the file again; stays faulted if that fails.
    fn reopen(&self) {
        let mut slot = self.write();
        if !matches!(slot.as_ref(), Some(Slot::Faulted(_))) {
            return;
        }
        // The old database must be gone before the file is opened again (it holds the lock).
        *slot = None;
        *slot = Some(match open_database(&self.config, &self.syncs) {
            Ok(db) => Slot::Open(db),
            Err(err) => Slot::Faulted(err),
        });
    }

    pub(crate) fn stats(&self) -> JournalStats {
        JournalStats {
            commits: self.commits.load(Ordering::Relaxed),
            ops: self.ops.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            max_batch: self.max_batch.load(Ordering::Relaxed),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
        }
    }
}

/// An operation's result, held until its transaction is durable (or failed).
enum Done {
    Accepted(Reply<Accepted>, Result<Accepted, JournalError>),
    Unit(Reply<()>, Result<(), JournalError>),
    Position(Reply<LogPosition>, Result<LogPosition, JournalError>),
    Epoch(Reply<u64>, Result<u64, JournalError>),
}

impl Done {
    fn send(self) {
        // A caller that stopped waiting no longer needs the answer.
        match self {
            Done::Accepted(reply, result) => drop(reply.send(result)),
            Done::Unit(reply, result) => drop(reply.send(result)),
            Done::Position(reply, result) => drop(reply.send(result)),
            Done::Epoch(reply, result) => drop(reply.send(result)),
        }
    }

    fn fail(self, err: &JournalError) {
        match self {
            Done::Accepted(reply, _) => drop(reply.send(Err(err.clone()))),
            Done::Unit(reply, _) => drop(reply.send(Err(err.clone()))),
            Done::Position(reply, _) => drop(reply.send(Err(err.clone()))),
            Done::Epoch(reply, _) => drop(reply.send(Err(err.clone()))),
        }
    }
}

impl Op {
    /// Refuses a write the committer will not run (or answers a close).
    fn refuse(self, err: &JournalError) {
        match self {
            Op::Promise { reply, .. } => drop(reply.send(Err(err.clone()))),
            Op::Append { reply, .. } | Op::Snapshot { reply, .. } => {
                drop(reply.send(Err(err.clone())))
            }
            Op::Accept { reply, .. } => drop(reply.send(Err(err.clone()))),
            Op::Claim { reply, .. } => drop(reply.send(Err(err.clone()))),
            Op::Close(done) => drop(done.send(())),
        }
    }
}

/// The committer thread's loop: take one write (waiting), then everything else already queued
/// (up to `max_batch`), commit them together, answer them, repeat.
pub(crate) fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Op>) {
    let max_batch = shared.config.max_batch.max(1);
    let mut batch = VecDeque::with_capacity(max_batch);
    let mut closers = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        match first {
            Op::Close(done) => {
                closers.push(done);
                break;
            }
            op => batch.push_back(op),
        }
        gather(
            &mut rx,
            &mut batch,
            &mut closers,
            max_batch,
            shared.config.linger,
        );
        commit_batch(&shared, &mut batch);
        if !closers.is_empty() {
            break;
        }
    }
    rx.close();
    while let Ok(op) = rx.try_recv() {
        op.refuse(&JournalError::Closed);
    }
    *shared.write() = Some(Slot::Closed);
    for done in closers {
        let _ = done.send(());
    }
}

/// Adds to `batch` what is queued, then what keeps arriving with gaps shorter than `linger`
/// (writers answered by the previous commit are about to send their next write): up to
/// `max_batch`, for at most ten lingers, or until a close.
fn gather(
    rx: &mut mpsc::Receiver<Op>,
    batch: &mut VecDeque<Op>,
    closers: &mut Vec<oneshot::Sender<()>>,
    max_batch: usize,
    linger: Duration,
) {
    let start = Instant::now();
    let mut last = start;
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(Op::Close(done)) => {
                closers.push(done);
                return;
            }
            Ok(op) => {
                batch.push_back(op);
                last = Instant::now();
            }
            Err(_) => {
                let now = Instant::now();
                if now - last >= linger || now - start >= linger * 10 {
                    return;
                }
                std::thread::yield_now();
            }
        }
    }
}

/// Commits one batch and answers every operation in it.
fn commit_batch(shared: &Shared, batch: &mut VecDeque<Op>) {
    let n = batch.len() as u64;
    let mut done = Vec::with_capacity(batch.len());
    let retention = shared.config.retention;
    let result = shared.with_db(|db| apply(db, retention, batch, &mut done));
    shared.ops.fetch_add(n, Ordering::Relaxed);
    match result {
        Ok(()) => {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.max_batch.fetch_max(n, Ordering::Relaxed);
            done.into_iter().for_each(Done::send);
        }
        Err(err) => {
            shared.failed_commits.fetch_add(1, Ordering::Relaxed);
            if !matches!(err, JournalError::Closed) {
                shared.fault(&err);
            }
            done.into_iter().for_each(|d| d.fail(&err));
            batch.drain(..).for_each(|op| op.refuse(&err));
        }
    }
}

/// Applies the batch in one write transaction and commits it. On `Err`, nothing of the batch
/// is durable; operations already applied are in `done`, the rest still in `batch`.
fn apply(
    db: &Database,
    retention: Retention,
    batch: &mut VecDeque<Op>,
    done: &mut Vec<Done>,
) -> Result<(), JournalError> {
    let txn = db.begin_write()?;
    {
        let mut tables = WriteTables::open(&txn)?;
        while let Some(op) = batch.pop_front() {
            match op {
                Op::Promise { key, epoch, reply } => match tables.promise(&key, epoch) {
                    Ok(result) => done.push(Done::Accepted(reply, result)),
                    Err(fault) => {
                        done.push(Done::Accepted(reply, Err(fault.clone())));
                        return Err(fault);
                    }
                },
                Op::Append { receipt, reply } => match tables.append(&receipt) {
                    Ok(result) => done.push(Done::Unit(reply, result)),
                    Err(fault) => {
                        done.push(Done::Unit(reply, Err(fault.clone())));
                        return Err(fault);
                    }
                },
                Op::Snapshot {
                    key,
                    snapshot,
                    reply,
                } => match tables.snapshot(&key, &snapshot, retention) {
                    Ok(result) => done.push(Done::Unit(reply, result)),
                    Err(fault) => {
                        done.push(Done::Unit(reply, Err(fault.clone())));
                        return Err(fault);
                    }
                },
                Op::Accept {
                    key,
                    epoch,
                    prev,
                    receipts,
                    reply,
                } => match tables.accept(&key, epoch, prev, &receipts) {
                    Ok(result) => done.push(Done::Position(reply, result)),
                    Err(fault) => {
                        done.push(Done::Position(reply, Err(fault.clone())));
                        return Err(fault);
                    }
                },
                Op::Claim {
                    receipt,
                    read,
                    reply,
                } => match tables.claim(receipt, read) {
                    Ok(result) => done.push(Done::Epoch(reply, result)),
                    Err(fault) => {
                        done.push(Done::Epoch(reply, Err(fault.clone())));
                        return Err(fault);
                    }
                },
                Op::Close(closer) => drop(closer.send(())),
            }
        }
        tables.finish()?;
    }
    txn.commit()?;
    Ok(())
}
