//! The journal's typed errors, and how storage-engine errors map onto them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an operation on the journal failed.
///
/// The first group are **refusals**: the store is healthy and the operation broke a rule, so
/// nothing of it was written. The second group are **faults** of the store or its file: an
/// operation that fails with one of them was not made durable, and nothing of it is visible.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The key has promised an epoch that this operation's epoch does not pass: a promise must
    /// be above it, an append or snapshot at least equal to it. The activation holding the stale
    /// epoch must stop.
    #[error("fenced: the key has promised epoch {promised}")]
    Fenced {
        /// The key's promised epoch.
        promised: u64,
    },
    /// An append's sequence number is not the key's next one.
    #[error("out of order: the next sequence number is {expected}")]
    OutOfOrder {
        /// The sequence number the key accepts next.
        expected: u64,
    },
    /// [`JournalStore::accept`](crate::JournalStore::accept): the key's log does not hold the
    /// receipt the accepted ones follow (it is shorter, or holds another epoch's receipt
    /// there). Nothing was written; the sender backs up and sends from an earlier position.
    /// Also [`JournalStore::claim`](crate::JournalStore::claim)'s refusal: the log no longer
    /// ends where the activation read it (the activation is stale).
    #[error("diverged: the log ends at seq {last_seq} (epoch {last_epoch})")]
    Diverged {
        /// The key's last sequence number.
        last_seq: u64,
        /// The epoch of the receipt at `last_seq`.
        last_epoch: u64,
    },
    /// [`JournalStore::accept`](crate::JournalStore::accept) was given receipts that do not
    /// fit: of another key, not consecutive after the position, or of an epoch above the one
    /// accepting them. Nothing was written.
    #[error("invalid receipts: {0}")]
    Invalid(String),
    /// A snapshot's sequence number is behind the key's latest snapshot or ahead of its last
    /// accepted receipt.
    #[error("snapshot at seq {seq} outside {first}..={last}")]
    SnapshotOutOfRange {
        /// The snapshot's sequence number.
        seq: u64,
        /// The lowest acceptable: the latest snapshot's sequence number (0 without one).
        first: u64,
        /// The highest acceptable: the last accepted sequence number.
        last: u64,
    },
    /// The device holding the journal is full (or over quota): nothing of the operation was
    /// written. Writes succeed again once space is freed.
    #[error("journal full: no space left on the device")]
    Full,
    /// An I/O error on the journal file: nothing of the operation was written.
    #[error("journal i/o error: {0}")]
    Io(Arc<io::Error>),
    /// The file at the journal's path is not a journal: not a redb file at all, or a redb
    /// database of another program (no journal format marker). It was left untouched.
    #[error("{path}: not an actor-journal file ({reason}); refusing to open it")]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The file is a journal of a format version this build does not read.
    #[error("{path}: journal format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The version this build reads and writes.
        supported: u64,
    },
    /// The journal file is damaged (a checksum or structure check failed).
    #[error("journal corrupt: {0}")]
    Corrupt(String),
    /// Another store (in this process or another) has the journal file open.
    #[error("{path}: the journal is already open")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The store was closed.
    #[error("the journal is closed")]
    Closed,
    /// Any other error of the storage engine.
    #[error("journal storage error: {0}")]
    Storage(String),
}

impl JournalError {
    /// Whether this is a refusal by the journal's rules (the store itself is healthy).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            JournalError::Fenced { .. }
                | JournalError::OutOfOrder { .. }
                | JournalError::SnapshotOutOfRange { .. }
                | JournalError::Diverged { .. }
                | JournalError::Invalid(_)
        )
    }
}

/// `ENOSPC` and `EDQUOT` on Linux.
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

impl From<io::Error> for JournalError {
    fn from(err: io::Error) -> Self {
        let full = matches!(
            err.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) || matches!(err.raw_os_error(), Some(ENOSPC | EDQUOT));
        if full {
            JournalError::Full
        } else {
            JournalError::Io(Arc::new(err))
        }
    }
}

impl From<redb::StorageError> for JournalError {
    fn from(err: redb::StorageError) -> Self {
        redb::Error::from(err).into()
    }
}

impl From<redb::TransactionError> for JournalError {
    fn from(err: redb::TransactionError) -> Self {
        redb::Error::from(err).into()
    }
}

impl From<redb::TableError> for JournalError {
    fn from(err: redb::TableError) -> Self {
        redb::Error::from(err).into()
    }
}

impl From<redb::CommitError> for JournalError {
    fn from(err: redb::CommitError) -> Self {
        redb::Error::from(err).into()
    }
}

impl From<redb::Error> for JournalError {
    fn from(err: redb::Error) -> Self {
        match err {
            redb::Error::Io(io) => io.into(),
            redb::Error::Corrupted(detail) => JournalError::Corrupt(detail),
            other => JournalError::Storage(other.to_string()),
        }
    }
}

/// Maps an error of opening the file at `path`.
pub(crate) fn open_error(path: &Path, err: redb::DatabaseError) -> JournalError {
    match err {
        redb::DatabaseError::DatabaseAlreadyOpen => JournalError::Locked {
            path: path.to_owned(),
        },
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == io::ErrorKind::InvalidData =>
        {
            JournalError::NotAJournal {
                path: path.to_owned(),
                reason: io.to_string(),
            }
        }
        redb::DatabaseError::UpgradeRequired(v) => JournalError::NotAJournal {
            path: path.to_owned(),
            reason: format!("a redb file of format {v}, older than this journal's"),
        },
        other => match JournalError::from(redb::Error::from(other)) {
            JournalError::Corrupt(detail) => {
                JournalError::Corrupt(format!("{}: {detail}", path.display()))
            }
            mapped => mapped,
        },
    }
}

pub(crate) fn encode_error(err: postcard::Error) -> JournalError {
    JournalError::Storage(format!("encoding a record: {err}"))
}

pub(crate) fn decode_error(err: postcard::Error) -> JournalError {
    JournalError::Corrupt(format!("a record does not decode: {err}"))
}
