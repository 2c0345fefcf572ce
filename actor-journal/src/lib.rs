//! A node's durable **receipt journal**: the storage under fenced entities.
//!
//! Every state change of an entity is a [`Receipt`]. This crate stores receipts per entity key
//! on one node, durably, and enforces the per-key rules that make a stale activation unable to
//! write. Replication across nodes (majorities of replicas) and the entities themselves are
//! built on top of it; this crate is the part that runs on each replica.
//!
//! # The model (Paxos, per key)
//!
//! For each [`EntityKey`] the store keeps:
//!
//! - the **promised epoch**: [`JournalStore::promise`]`(key, e)` succeeds only if `e` is above
//!   every epoch promised before, and returns what the key has [`Accepted`] (the last epoch and
//!   sequence number, the latest snapshot and the receipts after it) so that a new activation can
//!   rebuild the state (Paxos phase 1);
//! - the **accepted receipts by sequence number**: [`JournalStore::append`] accepts a receipt
//!   only if its epoch is at least the promise ([`JournalError::Fenced`] otherwise) and its
//!   sequence number is the next one ([`JournalError::OutOfOrder`] otherwise) (phase 2). A
//!   refused receipt is not stored anywhere, so no receipt of a fenced epoch exists afterwards;
//! - **replacing a divergent tail**: [`JournalStore::accept`] is the replicated form of append
//!   (Paxos phase 2 with recovery): it accepts receipts from epoch `e` (at least the promise)
//!   after a given [`LogPosition`], and replaces the key's receipts from the first one whose
//!   epoch differs (a lower epoch's, never acknowledged) by the new ones, in one transaction;
//! - the **latest snapshot**: [`JournalStore::snapshot`] records the state up to a sequence
//!   number, which bounds replay; with [`Retention::Compact`] the receipts it covers are deleted.
//!
//! A secondary index `(tenant, time, id)` answers [`JournalStore::by_tenant`] (time ranges in
//! microseconds since the Unix epoch); [`JournalStore::entries_after`] reads one entity's log.
//!
//! # What is durable when a future resolves
//!
//! A write (promise, append, snapshot) resolves `Ok` only after the write transaction that
//! carries it is committed and synced to the device: it survives a crash of the process or the
//! machine, and every later read sees it. Writes arriving together, from any number of tasks
//! and keys, share one transaction and one sync (**group commit**): while one commit runs, the
//! next writes queue (up to [`JournalConfig::max_pending`]; beyond that writers wait), and the
//! next commit takes all of them, plus those that keep arriving for a few tens of microseconds
//! ([`JournalConfig::linger`]: the writers the previous commit answered join this one).
//! [`JournalStats`] counts commits and syncs.
//!
//! A write that resolves with an error left nothing visible: a refusal wrote nothing, and a
//! fault (full disk, I/O error) aborts the whole transaction, so every write in it fails with
//! that error. A write whose future was dropped before it resolved may or may not be durable.
//!
//! # Faults
//!
//! - At open, a file that is not a journal (random bytes, or another program's redb database,
//!   found by the format marker every journal is created with) is refused with
//!   [`JournalError::NotAJournal`], a damaged one with [`JournalError::Corrupt`] (every page's
//!   checksum is verified, see [`JournalConfig::verify_on_open`]), a newer format with
//!   [`JournalError::UnsupportedVersion`]. The file is never modified or truncated.
//! - A full disk refuses writes with [`JournalError::Full`]; after space is freed the next write
//!   reopens the file (recovering its last durable commit) and succeeds.
//! - After a crash (even `kill -9` mid-commit), opening recovers the last durable commit: every
//!   acknowledged write is there.
//!
//! # The engine
//!
//! [`RedbJournal`] keeps the journal in one [redb](https://docs.rs/redb) file: pure Rust,
//! copy-on-write B-trees with checksums, one sync per commit. Receipts go to one log in
//! acceptance order (so a group commit's appends share the log's last pages whatever their keys),
//! each with the position of its key's previous receipt; a key's receipts are read by walking
//! that chain back from its last one, so reading a key's tail costs one lookup per receipt
//! returned (snapshots keep tails short). [`JournalStore`] is the trait the layers above use, so
//! another engine can replace it.
#![warn(missing_docs)]

mod config;
mod error;
mod redb_store;
mod store;
mod types;

pub use config::{FaultInjector, FaultKind, JournalConfig};
pub use error::JournalError;
pub use redb_store::RedbJournal;
pub use store::{JournalFuture, JournalStore};
pub use types::{
    receipt_id, Accepted, EntityKey, JournalStats, LogPosition, Receipt, Retention, Snapshot,
};
