//! A file that is not a journal, or is damaged, is refused at open and never truncated.

mod common;

use std::fs;

use actor_journal::{JournalError, JournalStore, RedbJournal};
use common::{key, receipt, temp_config};

const FILE: &str = "journal.redb";

/// Deterministic pseudo-random bytes.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn random_bytes_are_not_a_journal_and_stay_as_they_were() {
    let (dir, config) = temp_config();
    let path = dir.path().join(FILE);
    let bytes = noise(256 * 1024, 42);
    fs::write(&path, &bytes).unwrap();
    match RedbJournal::open(config) {
        Err(JournalError::NotAJournal { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("magic"), "{reason}");
        }
        other => panic!("random bytes opened: {:?}", other.err()),
    }
    assert_eq!(fs::read(&path).unwrap(), bytes, "the file was modified");
}

#[test]
fn an_empty_file_is_not_a_journal() {
    let (dir, config) = temp_config();
    fs::write(dir.path().join(FILE), b"").unwrap();
    assert!(matches!(
        RedbJournal::open(config),
        Err(JournalError::NotAJournal { .. })
    ));
    assert_eq!(fs::metadata(dir.path().join(FILE)).unwrap().len(), 0);
}

#[test]
fn another_programs_redb_database_is_refused_and_keeps_its_data() {
    let (dir, config) = temp_config();
    let path = dir.path().join(FILE);
    let users: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("users");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(users).unwrap().insert("alice", 7).unwrap();
        txn.commit().unwrap();
    }
    let len = fs::metadata(&path).unwrap().len();
    match RedbJournal::open(config) {
        Err(JournalError::NotAJournal { reason, .. }) => {
            assert!(reason.contains("marker"), "{reason}")
        }
        other => panic!("foreign database opened: {:?}", other.err()),
    }
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        len,
        "the file was resized"
    );
    let db = redb::Database::open(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let table = txn.open_table(users).unwrap();
    assert_eq!(
        redb::ReadableTable::get(&table, "alice")
            .unwrap()
            .unwrap()
            .value(),
        7
    );
}

#[test]
fn a_journal_of_another_format_version_is_refused() {
    let (dir, config) = temp_config();
    RedbJournal::open(config.clone()).unwrap();
    {
        let db = redb::Database::open(dir.path().join(FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&str, &[u8]> =
            redb::TableDefinition::new("actor_journal_meta");
        txn.open_table(meta)
            .unwrap()
            .insert("version", 99u64.to_le_bytes().as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(
        RedbJournal::open(config),
        Err(JournalError::UnsupportedVersion {
            found: 99,
            supported: 2,
            ..
        })
    ));
}

#[tokio::test]
async fn a_damaged_journal_is_refused_with_corrupt_and_not_truncated() {
    let (dir, config) = temp_config();
    let path = dir.path().join(FILE);
    {
        let journal = RedbJournal::open(config.clone()).unwrap();
        let k = key("damaged");
        journal.promise(&k, 1).await.unwrap();
        for seq in 1..=300 {
            journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
        }
        journal.close().await;
    }
    // Overwrite every data page past the header with noise (the header stays valid, so the file
    // is still recognised as redb): every page's checksum now fails.
    let mut bytes = fs::read(&path).unwrap();
    let len = bytes.len();
    let header = 4096;
    bytes[header..].copy_from_slice(&noise(len - header, 7));
    fs::write(&path, &bytes).unwrap();

    let result = RedbJournal::open(config);
    eprintln!("damaged journal refused: {:?}", result.as_ref().err());
    assert!(
        matches!(result, Err(JournalError::Corrupt(_))),
        "damaged journal: {:?}",
        result.err()
    );
    assert_eq!(fs::metadata(&path).unwrap().len() as usize, len, "resized");
}

#[tokio::test]
async fn one_damaged_page_in_the_middle_is_refused_with_corrupt() {
    let (dir, config) = temp_config();
    let path = dir.path().join(FILE);
    {
        let journal = RedbJournal::open(config.clone()).unwrap();
        for n in 0..40 {
            let k = key(&format!("k{n}"));
            journal.promise(&k, 1).await.unwrap();
            for seq in 1..=20 {
                journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
            }
        }
        journal.close().await;
    }
    let mut bytes = fs::read(&path).unwrap();
    let len = bytes.len();
    // Damage every page of the file's second quarter, one at a time, until the open refuses:
    // some pages are free space (no checksum covers them), but live ones must be noticed.
    let mut refused = None;
    for page in (len / 4 / 4096)..(len / 2 / 4096) {
        let original = bytes[page * 4096..(page + 1) * 4096].to_vec();
        bytes[page * 4096..(page + 1) * 4096].copy_from_slice(&noise(4096, page as u64 + 1));
        fs::write(&path, &bytes).unwrap();
        match RedbJournal::open(config.clone()) {
            Ok(journal) => {
                journal.close().await;
                bytes = fs::read(&path).unwrap();
                bytes[page * 4096..(page + 1) * 4096].copy_from_slice(&original);
                fs::write(&path, &bytes).unwrap();
            }
            Err(err) => {
                refused = Some(err);
                break;
            }
        }
    }
    eprintln!("one damaged page: {refused:?}");
    assert!(
        matches!(refused, Some(JournalError::Corrupt(_))),
        "{refused:?}"
    );
    assert_eq!(fs::metadata(&path).unwrap().len() as usize, len, "resized");
}
