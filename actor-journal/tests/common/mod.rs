//! Helpers shared by the integration tests.
#![allow(dead_code)]

use actor_journal::{receipt_id, EntityKey, JournalConfig, Receipt};

/// A fresh data directory (removed when the guard drops) and a config for it.
pub fn temp_config() -> (tempfile::TempDir, JournalConfig) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = JournalConfig::new(dir.path());
    (dir, config)
}

/// A receipt of `key` at (`epoch`, `seq`), for `tenant` at `time`, with a deterministic id and
/// payload so that a test can rebuild the exact receipt it expects to find.
pub fn receipt(key: &EntityKey, tenant: &str, epoch: u64, seq: u64, time: u64) -> Receipt {
    let key_hash = key.key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x1000_0000_01b3)
    });
    Receipt {
        id: receipt_id(key_hash, seq),
        time,
        tenant: tenant.to_owned(),
        kind: key.kind.clone(),
        key: key.key.clone(),
        epoch,
        seq,
        from: format!("s{}", seq.saturating_sub(1)),
        to: format!("s{seq}"),
        event: format!("event-{seq}").into_bytes(),
        metadata: vec![("epoch".into(), epoch.to_string())],
        state: vec![],
    }
}

/// A key of the test kind.
pub fn key(name: &str) -> EntityKey {
    EntityKey::new("account", name)
}
