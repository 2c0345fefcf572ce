//! What replication clients and replica servers say to each other, and the bounds on it.

use actor_core::ReplyTo;
use actor_dist::Message;
use actor_journal::{EntityKey, LogPosition, Receipt, Snapshot};
use serde::{Deserialize, Serialize};

/// Limits on what one message carries; a server clamps requests to them, and refuses
/// (as invalid, counted in `ReplicaStats::invalid`) a message that breaks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireBounds {
    /// Receipts in one accept (a catch-up or recovery batch is sent in chunks of this many).
    pub max_batch: usize,
    /// Receipts of the tail a promise answer carries.
    pub max_tail: usize,
    /// Receipts one read (`entries`, `by_tenant`) returns from one node.
    pub max_read: usize,
    /// Bytes of one encoded receipt.
    pub max_receipt_bytes: usize,
    /// Bytes of an entity kind plus key, and of a tenant name.
    pub max_key_bytes: usize,
}

impl Default for WireBounds {
    fn default() -> Self {
        WireBounds {
            max_batch: 256,
            max_tail: 128,
            max_read: 10_000,
            max_receipt_bytes: 1 << 20,
            max_key_bytes: 4096,
        }
    }
}

/// A replica's answer to a prepare: it promised the epoch, and this is what it has accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Promise {
    /// The position of its last receipt.
    pub last: LogPosition,
    /// Its latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Its last receipts (at most the bound), oldest first, ending at `last`.
    pub tail: Vec<Receipt>,
}

/// A replica's answer to a read of a key's head: what it has accepted, without promising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    /// The highest epoch it promised for the key.
    pub promised: u64,
    /// The position of its last receipt.
    pub last: LogPosition,
    /// Its latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Its last receipt (none for an empty log, or one its snapshot compacted).
    pub receipt: Option<Receipt>,
}

/// Why a replica did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    /// It has promised `promised`, above the request's epoch.
    Fenced { promised: u64 },
    /// Its log does not hold the position the receipts follow; its log ends at `last`.
    Diverged { last: LogPosition },
    /// The request broke a rule or a bound (a bug or a hostile peer).
    Invalid(String),
    /// Its journal failed (full disk, I/O error, closed).
    Failed(String),
}

/// The replica server's messages (on the system lane).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ReplicaMsg {
    /// Phase 1: promise `epoch` for `key` and answer with what is accepted.
    Prepare {
        key: EntityKey,
        epoch: u64,
        reply: ReplyTo<Result<Promise, Refusal>>,
    },
    /// Phase 2: accept `receipts` from `epoch` after `prev`; answers the log's last position.
    Accept {
        key: EntityKey,
        epoch: u64,
        prev: LogPosition,
        receipts: Vec<Receipt>,
        reply: ReplyTo<Result<LogPosition, Refusal>>,
    },
    /// The receipts of `key` after `after` (at most `limit`), and the log's last position.
    Entries {
        key: EntityKey,
        after: u64,
        limit: u32,
        reply: ReplyTo<Result<(LogPosition, Vec<Receipt>), Refusal>>,
    },
    /// `tenant`'s receipts with a time in `start..end`, at most `limit`.
    ByTenant {
        tenant: String,
        start: u64,
        end: u64,
        limit: u32,
        reply: ReplyTo<Result<Vec<Receipt>, Refusal>>,
    },
    /// What `key` has accepted (its last receipt), promising nothing: a lazy activation.
    Head {
        key: EntityKey,
        reply: ReplyTo<Result<Head, Refusal>>,
    },
}

impl Message for ReplicaMsg {
    const NAME: &'static str = "actor_entity.Replica";
}

impl WireBounds {
    /// Whether `key` is within the bounds.
    pub(crate) fn check_key(&self, key: &EntityKey) -> Result<(), Refusal> {
        if key.kind.len() + key.key.len() > self.max_key_bytes {
            return Err(Refusal::Invalid(format!(
                "key of {} bytes, above {}",
                key.kind.len() + key.key.len(),
                self.max_key_bytes
            )));
        }
        Ok(())
    }

    /// Whether an accept's receipts are within the bounds.
    pub(crate) fn check_receipts(&self, receipts: &[Receipt]) -> Result<(), Refusal> {
        if receipts.len() > self.max_batch {
            return Err(Refusal::Invalid(format!(
                "{} receipts in one accept, above {}",
                receipts.len(),
                self.max_batch
            )));
        }
        for r in receipts {
            let size = receipt_size(r);
            if size > self.max_receipt_bytes {
                return Err(Refusal::Invalid(format!(
                    "a receipt of {size} bytes, above {}",
                    self.max_receipt_bytes
                )));
            }
        }
        Ok(())
    }
}

/// The bytes a receipt takes (its variable-length fields; close to its encoded size).
pub(crate) fn receipt_size(r: &Receipt) -> usize {
    64 + r.tenant.len()
        + r.kind.len()
        + r.key.len()
        + r.from.len()
        + r.to.len()
        + r.event.len()
        + r.state.len()
        + r.metadata
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The decoder is total: arbitrary bytes decode or fail, never panic.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = postcard::from_bytes::<ReplicaMsg>(&bytes);
            let _ = postcard::from_bytes::<Result<Promise, Refusal>>(&bytes);
            let _ = postcard::from_bytes::<Result<LogPosition, Refusal>>(&bytes);
            let _ = postcard::from_bytes::<Result<(LogPosition, Vec<Receipt>), Refusal>>(&bytes);
            let _ = postcard::from_bytes::<Result<Head, Refusal>>(&bytes);
        }

        /// A huge length prefix does not make the decoder allocate it up front.
        #[test]
        fn a_huge_length_prefix_fails_cleanly(n in 1u64 << 40..u64::MAX / 2) {
            let mut bytes = vec![1u8]; // Accept
            let mut n = n;
            while n >= 0x80 { bytes.push((n as u8) | 0x80); n >>= 7; }
            bytes.push(n as u8);
            prop_assert!(postcard::from_bytes::<ReplicaMsg>(&bytes).is_err());
        }
    }

    #[test]
    fn bounds_refuse_oversized_batches_and_receipts() {
        let b = WireBounds {
            max_batch: 2,
            max_receipt_bytes: 100,
            max_key_bytes: 8,
            ..WireBounds::default()
        };
        assert!(b.check_key(&EntityKey::new("k", "1234567")).is_ok());
        assert!(b.check_key(&EntityKey::new("k", "12345678")).is_err());
        let r = Receipt {
            id: 1,
            time: 1,
            tenant: "t".into(),
            kind: "k".into(),
            key: b"1".to_vec(),
            epoch: 1,
            seq: 1,
            from: String::new(),
            to: String::new(),
            event: vec![],
            metadata: vec![],
            state: vec![0; 10],
        };
        assert!(b.check_receipts(&[r.clone(), r.clone()]).is_ok());
        assert!(b
            .check_receipts(&[r.clone(), r.clone(), r.clone()])
            .is_err());
        let big = Receipt {
            state: vec![0; 200],
            ..r
        };
        assert!(b.check_receipts(&[big]).is_err());
    }
}
