//! The values the journal stores: entity keys, receipts, snapshots, and what a key has accepted.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The key of one entity: its kind (the registered entity type) and its key within that kind.
///
/// Keys are compared and stored byte for byte; a key given as a string is stored as its UTF-8
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityKey {
    /// The entity kind, e.g. `"entitlement"`.
    pub kind: String,
    /// The key within the kind, e.g. a tenant or account id.
    pub key: Vec<u8>,
}

impl EntityKey {
    /// A key of `kind` from anything that converts into bytes (`&str`, `String`, `Vec<u8>`).
    pub fn new(kind: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        EntityKey {
            kind: kind.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.key) {
            Ok(s) => write!(f, "{}/{}", self.kind, s),
            Err(_) => write!(f, "{}/{:02x?}", self.kind, self.key),
        }
    }
}

/// A cluster-wide unique receipt id: the writing node's id in the high 64 bits and a counter
/// (unique on that node) in the low 64 bits.
pub fn receipt_id(node: u64, counter: u64) -> u128 {
    (u128::from(node) << 64) | u128::from(counter)
}

/// One accepted transition of one entity: the record the journal keeps.
///
/// `kind`, `key`, `epoch` and `seq` place the receipt in its entity's log; the rest is what
/// happened. The journal checks the placement (promise and sequence rules) and stores the rest
/// as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Unique id across the cluster (see [`receipt_id`]); the tie-breaker of tenant queries and
    /// the de-duplication key when queries from several nodes are merged.
    pub id: u128,
    /// When the transition happened, in microseconds since the Unix epoch (see
    /// [`Receipt::now_micros`]).
    pub time: u64,
    /// The tenant the entity belongs to: queries by tenant and time range use it.
    pub tenant: String,
    /// The entity kind.
    pub kind: String,
    /// The entity key within its kind.
    pub key: Vec<u8>,
    /// The epoch of the activation that wrote it.
    pub epoch: u64,
    /// Its position in the entity's log: 1 for the first receipt, then each next one.
    pub seq: u64,
    /// The state before the transition.
    pub from: String,
    /// The state after the transition.
    pub to: String,
    /// The event that caused it, encoded by the entity layer.
    pub event: Vec<u8>,
    /// Free-form annotations (caller, trace id, ...).
    pub metadata: Vec<(String, String)>,
    /// The entity's whole durable state after the transition, encoded by the entity layer
    /// (empty if the writer keeps state only in snapshots). A new activation starts from the
    /// later of this and the latest snapshot, so no event needs replaying.
    pub state: Vec<u8>,
}

impl Receipt {
    /// The entity this receipt belongs to.
    pub fn entity(&self) -> EntityKey {
        EntityKey {
            kind: self.kind.clone(),
            key: self.key.clone(),
        }
    }

    /// The current wall-clock time in microseconds since the Unix epoch.
    pub fn now_micros() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    }
}

/// An entity's state as of one sequence number, encoded by the entity layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The epoch of the activation that took it.
    pub epoch: u64,
    /// The last sequence number the state includes (0: the state before any receipt).
    pub seq: u64,
    /// The encoded state.
    pub state: Vec<u8>,
}

/// What one key has accepted: the answer to a promise, and the last state of a key.
///
/// The entity's current state is `snapshot` (or the initial state when there is none) with
/// `entries` applied in order; `entries` are exactly the receipts with a sequence number above
/// the snapshot's, up to `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accepted {
    /// The highest epoch promised for the key (0: none yet).
    pub promised: u64,
    /// The epoch of the last accepted receipt (0: none yet).
    pub last_epoch: u64,
    /// The sequence number of the last accepted receipt (0: none yet).
    pub last_seq: u64,
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The receipts after the snapshot, in sequence order.
    pub entries: Vec<Receipt>,
}

/// A place in a key's log: a sequence number and the epoch its receipt was accepted under
/// (`seq` 0 is the empty log, with epoch 0). Two replicas that hold a receipt at the same
/// position hold the same log up to it (see [`JournalStore::accept`](crate::JournalStore::accept)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LogPosition {
    /// The sequence number (0: before the first receipt).
    pub seq: u64,
    /// The epoch of the receipt there (0 at `seq` 0).
    pub epoch: u64,
}

/// What happens to receipts that a snapshot covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// A snapshot at `seq` deletes the key's receipts up to `seq` (and their tenant index
    /// rows): storage stays bounded, and queries see only receipts after the latest snapshot.
    #[default]
    Compact,
    /// Receipts are kept for queries; a snapshot only bounds replay.
    KeepAll,
}

/// Counters of a store since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalStats {
    /// Write transactions committed (each one durable: one commit, one group of operations).
    pub commits: u64,
    /// Operations (promises, appends, snapshots) carried by those commits, refused ones included.
    pub ops: u64,
    /// `fsync`/`fdatasync` calls made on the journal file.
    pub syncs: u64,
    /// The largest number of operations one commit carried.
    pub max_batch: u64,
    /// Commits that failed (every operation in them was refused with the error).
    pub failed_commits: u64,
}
