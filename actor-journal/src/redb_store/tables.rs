//! The redb tables, the per-key rules applied inside a write transaction, and the reads.

use std::ops::Range;

use redb::{ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{decode_error, encode_error};
use crate::{Accepted, EntityKey, JournalError, LogPosition, Receipt, Retention, Snapshot};

/// The format marker: `format` → [`FORMAT`], `version` → [`VERSION`] (little-endian u64).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("actor_journal_meta");
/// Per key: its [`KeyMeta`].
const KEYS: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("actor_journal_keys");
/// The log: every accepted receipt at its position (in acceptance order), with the position of
/// the previous receipt of the same key. Appends of one group commit share the log's last pages,
/// whatever keys they belong to; a key's receipts are found by following its chain back from its
/// last position.
const LOG: TableDefinition<u64, (u64, &[u8])> = TableDefinition::new("actor_journal_log");
/// Per key: its latest snapshot (postcard).
const SNAPSHOTS: TableDefinition<(&str, &[u8]), &[u8]> =
    TableDefinition::new("actor_journal_snapshots");
/// The secondary index (tenant, time, id) → log position of the receipt.
const TENANTS: TableDefinition<(&str, u64, u128), u64> =
    TableDefinition::new("actor_journal_by_tenant");
/// The next log position, in [`META`].
const NEXT_POS: &str = "next_pos";

pub(crate) const FORMAT: &[u8] = b"actor-journal";
/// 2: receipts carry the entity state after them.
pub(crate) const VERSION: u64 = 2;

type KeysTable<'t> = Table<'t, (&'static str, &'static [u8]), &'static [u8]>;
type LogTable<'t> = Table<'t, u64, (u64, &'static [u8])>;
type TenantsTable<'t> = Table<'t, (&'static str, u64, u128), u64>;

/// What the store knows about one key besides its entries and snapshot.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct KeyMeta {
    promised: u64,
    last_epoch: u64,
    last_seq: u64,
    /// The log position of the receipt at `last_seq`.
    last_pos: u64,
    snapshot_seq: u64,
    /// Receipts up to this sequence number were deleted by compaction.
    compacted_to: u64,
}

/// Writes the format marker and creates every table (in a new file's first transaction).
pub(crate) fn initialise(txn: &WriteTransaction) -> Result<(), JournalError> {
    {
        let mut meta = txn.open_table(META)?;
        meta.insert("format", FORMAT)?;
        meta.insert("version", VERSION.to_le_bytes().as_slice())?;
    }
    WriteTables::open(txn)?;
    Ok(())
}

fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, JournalError> {
    postcard::from_bytes(bytes).map_err(decode_error)
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, JournalError> {
    postcard::to_allocvec(value).map_err(encode_error)
}

fn meta_of(
    keys: &impl ReadableTable<(&'static str, &'static [u8]), &'static [u8]>,
    key: &EntityKey,
) -> Result<KeyMeta, JournalError> {
    match keys.get((key.kind.as_str(), key.key.as_slice()))? {
        Some(bytes) => decode(bytes.value()),
        None => Ok(KeyMeta::default()),
    }
}

fn snapshot_of(
    snapshots: &impl ReadableTable<(&'static str, &'static [u8]), &'static [u8]>,
    key: &EntityKey,
) -> Result<Option<Snapshot>, JournalError> {
    match snapshots.get((key.kind.as_str(), key.key.as_slice()))? {
        Some(bytes) => decode(bytes.value()).map(Some),
        None => Ok(None),
    }
}

/// The receipts of the key of `meta` with a sequence number in `after + 1 ..= last_seq` (those
/// still stored), newest first, each with its log position: a walk back along the key's chain.
fn chain_of(
    log: &impl ReadableTable<u64, (u64, &'static [u8])>,
    key: &EntityKey,
    meta: &KeyMeta,
    after: u64,
) -> Result<Vec<(u64, Receipt)>, JournalError> {
    let lowest = after.max(meta.compacted_to);
    let mut out = Vec::with_capacity(meta.last_seq.saturating_sub(lowest) as usize);
    let mut pos = meta.last_pos;
    for seq in (lowest + 1..=meta.last_seq).rev() {
        let Some(row) = log.get(pos)? else {
            return Err(JournalError::Corrupt(format!(
                "{key}: receipt {seq} missing from the log"
            )));
        };
        let (prev, bytes) = row.value();
        let receipt: Receipt = decode(bytes)?;
        if receipt.seq != seq || receipt.key != key.key || receipt.kind != key.kind {
            return Err(JournalError::Corrupt(format!(
                "{key}: the log at {pos} holds another receipt than {seq}"
            )));
        }
        out.push((pos, receipt));
        pos = prev;
    }
    Ok(out)
}

/// The receipts after `after`, oldest first, at most `limit`.
fn entries_of(
    log: &impl ReadableTable<u64, (u64, &'static [u8])>,
    key: &EntityKey,
    meta: &KeyMeta,
    after: u64,
    limit: usize,
) -> Result<Vec<Receipt>, JournalError> {
    let chain = chain_of(log, key, meta, after)?;
    Ok(chain
        .into_iter()
        .rev()
        .take(limit)
        .map(|(_, r)| r)
        .collect())
}

fn accepted_of(
    meta: KeyMeta,
    snapshots: &impl ReadableTable<(&'static str, &'static [u8]), &'static [u8]>,
    log: &impl ReadableTable<u64, (u64, &'static [u8])>,
    key: &EntityKey,
) -> Result<Accepted, JournalError> {
    let snapshot = snapshot_of(snapshots, key)?;
    let after = snapshot.as_ref().map_or(0, |s| s.seq);
    Ok(Accepted {
        promised: meta.promised,
        last_epoch: meta.last_epoch,
        last_seq: meta.last_seq,
        snapshot,
        entries: entries_of(log, key, &meta, after, usize::MAX)?,
    })
}

/// The tables of one write transaction (one group commit).
pub(crate) struct WriteTables<'t> {
    meta: Table<'t, &'static str, &'static [u8]>,
    keys: KeysTable<'t>,
    log: LogTable<'t>,
    snapshots: KeysTable<'t>,
    tenants: TenantsTable<'t>,
    next_pos: u64,
}

/// An operation's outcome inside a transaction: the outer error is a fault that dooms the whole
/// transaction, the inner one a refusal of this operation alone (which wrote nothing).
pub(crate) type Applied<T> = Result<Result<T, JournalError>, JournalError>;

impl<'t> WriteTables<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self, JournalError> {
        let meta = txn.open_table(META)?;
        let next_pos = match meta.get(NEXT_POS)? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.value())
                .map(u64::from_le_bytes)
                .map_err(|_| JournalError::Corrupt("the next log position is unreadable".into()))?,
            None => 1,
        };
        Ok(WriteTables {
            meta,
            keys: txn.open_table(KEYS)?,
            log: txn.open_table(LOG)?,
            snapshots: txn.open_table(SNAPSHOTS)?,
            tenants: txn.open_table(TENANTS)?,
            next_pos,
        })
    }

    /// Records the next log position (once per transaction, before the commit).
    pub(crate) fn finish(mut self) -> Result<(), JournalError> {
        self.meta
            .insert(NEXT_POS, self.next_pos.to_le_bytes().as_slice())?;
        Ok(())
    }

    fn put_meta(&mut self, key: &EntityKey, meta: &KeyMeta) -> Result<(), JournalError> {
        let bytes = encode(meta)?;
        self.keys
            .insert((key.kind.as_str(), key.key.as_slice()), bytes.as_slice())?;
        Ok(())
    }

    pub(crate) fn promise(&mut self, key: &EntityKey, epoch: u64) -> Applied<Accepted> {
        let mut meta = meta_of(&self.keys, key)?;
        if epoch <= meta.promised {
            return Ok(Err(JournalError::Fenced {
                promised: meta.promised,
            }));
        }
        meta.promised = epoch;
        self.put_meta(key, &meta)?;
        accepted_of(meta, &self.snapshots, &self.log, key).map(Ok)
    }

    pub(crate) fn append(&mut self, receipt: &Receipt) -> Applied<()> {
        let key = receipt.entity();
        let mut meta = meta_of(&self.keys, &key)?;
        if receipt.epoch < meta.promised {
            return Ok(Err(JournalError::Fenced {
                promised: meta.promised,
            }));
        }
        if Some(receipt.seq) != meta.last_seq.checked_add(1) {
            return Ok(Err(JournalError::OutOfOrder {
                expected: meta.last_seq.saturating_add(1),
            }));
        }
        self.push(&mut meta, receipt)?;
        meta.promised = receipt.epoch;
        self.put_meta(&key, &meta)?;
        Ok(Ok(()))
    }

    /// [`JournalStore::claim`](crate::JournalStore::claim) inside the transaction.
    pub(crate) fn claim(&mut self, mut receipt: Receipt, read: LogPosition) -> Applied<u64> {
        let key = receipt.entity();
        let mut meta = meta_of(&self.keys, &key)?;
        if (meta.last_seq, meta.last_epoch) != (read.seq, read.epoch) {
            return Ok(Err(JournalError::Diverged {
                last_seq: meta.last_seq,
                last_epoch: meta.last_epoch,
            }));
        }
        if Some(receipt.seq) != meta.last_seq.checked_add(1) {
            return Ok(Err(JournalError::OutOfOrder {
                expected: meta.last_seq.saturating_add(1),
            }));
        }
        let epoch = meta.promised.max(meta.last_epoch).saturating_add(1);
        receipt.epoch = epoch;
        self.push(&mut meta, &receipt)?;
        meta.promised = epoch;
        self.put_meta(&key, &meta)?;
        Ok(Ok(epoch))
    }

    /// Writes `receipt` after the key's last one (the caller checked the rules).
    fn push(&mut self, meta: &mut KeyMeta, receipt: &Receipt) -> Result<(), JournalError> {
        let bytes = encode(receipt)?;
        let pos = self.next_pos;
        self.log.insert(pos, (meta.last_pos, bytes.as_slice()))?;
        self.tenants
            .insert((receipt.tenant.as_str(), receipt.time, receipt.id), pos)?;
        self.next_pos += 1;
        meta.last_epoch = receipt.epoch;
        meta.last_seq = receipt.seq;
        meta.last_pos = pos;
        Ok(())
    }

    /// [`JournalStore::accept`](crate::JournalStore::accept) inside the transaction.
    pub(crate) fn accept(
        &mut self,
        key: &EntityKey,
        epoch: u64,
        prev: LogPosition,
        receipts: &[Receipt],
    ) -> Applied<LogPosition> {
        let mut meta = meta_of(&self.keys, key)?;
        if epoch < meta.promised {
            return Ok(Err(JournalError::Fenced {
                promised: meta.promised,
            }));
        }
        for (i, r) in receipts.iter().enumerate() {
            let reason = if r.kind != key.kind || r.key != key.key {
                "a receipt of another key"
            } else if Some(r.seq) != prev.seq.checked_add(1 + i as u64) {
                "not consecutive after the position"
            } else if r.epoch > epoch || r.epoch == 0 {
                "a receipt epoch above the accepting epoch (or zero)"
            } else {
                continue;
            };
            return Ok(Err(JournalError::Invalid(format!("{key}: {reason}"))));
        }
        let diverged = |meta: &KeyMeta| {
            Ok(Err(JournalError::Diverged {
                last_seq: meta.last_seq,
                last_epoch: meta.last_epoch,
            }))
        };
        if prev.seq > meta.last_seq {
            return diverged(&meta);
        }
        // The stored receipts from `prev` on (newest first): read only when the position is
        // not the log's end (catch-up and recovery; a plain append needs no read).
        let after = prev.seq.saturating_sub(1).max(meta.compacted_to);
        let chain = if prev.seq < meta.last_seq {
            chain_of(&self.log, key, &meta, after)?
        } else {
            Vec::new()
        };
        let last_seq = meta.last_seq;
        let at = |seq: u64| -> Option<&(u64, Receipt)> {
            if seq > after && seq <= last_seq {
                chain.get((last_seq - seq) as usize)
            } else {
                None
            }
        };
        if prev.seq > meta.snapshot_seq {
            let held = if prev.seq == meta.last_seq {
                Some(meta.last_epoch)
            } else {
                at(prev.seq).map(|(_, r)| r.epoch)
            };
            if held != Some(prev.epoch) {
                return diverged(&meta);
            }
        }
        let mut replaced = false;
        for r in receipts {
            if r.seq <= meta.snapshot_seq {
                continue; // covered by the snapshot: a committed prefix
            }
            if !replaced && r.seq <= last_seq {
                let Some((_, held)) = at(r.seq) else {
                    return Err(JournalError::Corrupt(format!(
                        "{key}: receipt {} missing from the log",
                        r.seq
                    )));
                };
                if held.epoch == r.epoch {
                    continue; // the same receipt (one epoch proposes one receipt per seq)
                }
                // A lower epoch's receipt, never acknowledged: replace it and what follows.
                for seq in r.seq..=last_seq {
                    if let Some((pos, old)) = at(seq) {
                        self.log.remove(*pos)?;
                        self.tenants
                            .remove((old.tenant.as_str(), old.time, old.id))?;
                    }
                }
                match at(r.seq - 1) {
                    Some((pos, held)) => {
                        meta.last_pos = *pos;
                        meta.last_epoch = held.epoch;
                    }
                    None => {
                        // At the snapshot: the chain ends there.
                        meta.last_pos = 0;
                        meta.last_epoch = prev.epoch;
                    }
                }
                meta.last_seq = r.seq - 1;
                replaced = true;
            }
            self.push(&mut meta, r)?;
        }
        meta.promised = meta.promised.max(epoch);
        self.put_meta(key, &meta)?;
        Ok(Ok(LogPosition {
            seq: meta.last_seq,
            epoch: meta.last_epoch,
        }))
    }

    pub(crate) fn snapshot(
        &mut self,
        key: &EntityKey,
        snapshot: &Snapshot,
        retention: Retention,
    ) -> Applied<()> {
        let mut meta = meta_of(&self.keys, key)?;
        if snapshot.epoch < meta.promised {
            return Ok(Err(JournalError::Fenced {
                promised: meta.promised,
            }));
        }
        if snapshot.seq < meta.snapshot_seq || snapshot.seq > meta.last_seq {
            return Ok(Err(JournalError::SnapshotOutOfRange {
                seq: snapshot.seq,
                first: meta.snapshot_seq,
                last: meta.last_seq,
            }));
        }
        let bytes = encode(snapshot)?;
        self.snapshots
            .insert((key.kind.as_str(), key.key.as_slice()), bytes.as_slice())?;
        if retention == Retention::Compact && snapshot.seq > meta.compacted_to {
            self.compact(key, &meta, snapshot.seq)?;
            meta.compacted_to = snapshot.seq;
        }
        meta.promised = meta.promised.max(snapshot.epoch);
        meta.snapshot_seq = snapshot.seq;
        self.put_meta(key, &meta)?;
        Ok(Ok(()))
    }

    /// Deletes the key's stored receipts up to `to` and their tenant index rows.
    fn compact(&mut self, key: &EntityKey, meta: &KeyMeta, to: u64) -> Result<(), JournalError> {
        for (pos, receipt) in chain_of(&self.log, key, meta, 0)? {
            if receipt.seq <= to {
                self.log.remove(pos)?;
                self.tenants
                    .remove((receipt.tenant.as_str(), receipt.time, receipt.id))?;
            }
        }
        Ok(())
    }
}

/// What `key` has accepted, in a read transaction.
pub(crate) fn read_accepted(
    txn: &ReadTransaction,
    key: &EntityKey,
) -> Result<Accepted, JournalError> {
    let meta = meta_of(&txn.open_table(KEYS)?, key)?;
    accepted_of(
        meta,
        &txn.open_table(SNAPSHOTS)?,
        &txn.open_table(LOG)?,
        key,
    )
}

/// What `key` has accepted, with at most its last receipt, in a read transaction.
pub(crate) fn read_head(txn: &ReadTransaction, key: &EntityKey) -> Result<Accepted, JournalError> {
    let meta = meta_of(&txn.open_table(KEYS)?, key)?;
    let snapshot = snapshot_of(&txn.open_table(SNAPSHOTS)?, key)?;
    let after = snapshot
        .as_ref()
        .map_or(0, |s| s.seq)
        .max(meta.last_seq.saturating_sub(1));
    Ok(Accepted {
        promised: meta.promised,
        last_epoch: meta.last_epoch,
        last_seq: meta.last_seq,
        entries: entries_of(&txn.open_table(LOG)?, key, &meta, after, 1)?,
        snapshot,
    })
}

/// The receipts of `key` after `after`, in a read transaction.
pub(crate) fn read_entries_after(
    txn: &ReadTransaction,
    key: &EntityKey,
    after: u64,
    limit: usize,
) -> Result<Vec<Receipt>, JournalError> {
    let meta = meta_of(&txn.open_table(KEYS)?, key)?;
    entries_of(&txn.open_table(LOG)?, key, &meta, after, limit)
}

/// The receipts of `tenant` in the time range, in a read transaction.
pub(crate) fn read_by_tenant(
    txn: &ReadTransaction,
    tenant: &str,
    time: Range<u64>,
    limit: usize,
) -> Result<Vec<Receipt>, JournalError> {
    let mut out = Vec::new();
    if time.start >= time.end || limit == 0 {
        return Ok(out);
    }
    let index = txn.open_table(TENANTS)?;
    let log = txn.open_table(LOG)?;
    for item in index.range((tenant, time.start, 0u128)..(tenant, time.end, 0u128))? {
        let (_, pos) = item?;
        let pos = pos.value();
        let Some(row) = log.get(pos)? else {
            return Err(JournalError::Corrupt(format!(
                "the tenant index names a missing receipt (log position {pos})"
            )));
        };
        out.push(decode(row.value().1)?);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
