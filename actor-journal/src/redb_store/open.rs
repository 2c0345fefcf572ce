//! Creating and opening the journal file: the format marker, and the storage backend that counts
//! syncs and injects faults.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::backends::FileBackend;
use redb::{BackendError, Database, ReadableDatabase, StorageBackend, TableError};

use super::tables::{self, FORMAT, META, VERSION};
use crate::error::open_error;
use crate::{FaultInjector, JournalConfig, JournalError};

/// The journal's file name inside the data directory.
pub(crate) const FILE_NAME: &str = "journal.redb";
/// A new journal is built under this name, then renamed: the real name never holds a file
/// without the format marker.
const NEW_FILE_NAME: &str = "journal.redb.new";

/// The file backend under the database: counts syncs and fails on injected faults.
#[derive(Debug)]
struct Backend {
    file: FileBackend,
    faults: Option<FaultInjector>,
    syncs: Arc<AtomicU64>,
}

impl Backend {
    fn check(&self) -> io::Result<()> {
        match &self.faults {
            Some(faults) => faults.check(),
            None => Ok(()),
        }
    }
}

impl StorageBackend for Backend {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.file.read(offset, out)
    }

    /// Grows the file with written zeros rather than a hole: a commit then writes into blocks
    /// the file system has already allocated, and its sync has no allocation to journal
    /// (on ext4 that halves the sync's cost). A full disk shows here, as `ENOSPC`.
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        let old = self.file.len()?;
        self.file.set_len(len)?;
        if len > old {
            let zeros = vec![0u8; 1 << 20];
            let mut at = old;
            while at < len {
                let n = (len - at).min(zeros.len() as u64) as usize;
                self.file.write(at, &zeros[..n])?;
                at += n as u64;
            }
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.check()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}

/// The journal file's path for `config`.
pub(crate) fn journal_path(config: &JournalConfig) -> PathBuf {
    config.dir.join(FILE_NAME)
}

/// Opens `file` as a redb database, turning a panic of the engine on a damaged file into
/// [`JournalError::Corrupt`].
fn open_file(
    config: &JournalConfig,
    path: &Path,
    file: File,
    syncs: &Arc<AtomicU64>,
) -> Result<Database, JournalError> {
    let backend = Backend {
        file: FileBackend::new(file).map_err(|e| open_error(path, e))?,
        faults: config.faults.clone(),
        syncs: syncs.clone(),
    };
    let mut builder = Database::builder();
    builder
        .set_cache_size(config.cache_bytes)
        .set_check_integrity_on_open(config.verify_on_open);
    match catch_unwind(AssertUnwindSafe(|| builder.create_with_backend(backend))) {
        Ok(result) => result.map_err(|e| open_error(path, e)),
        Err(_) => Err(JournalError::Corrupt(format!(
            "{}: the storage engine failed reading the file",
            path.display()
        ))),
    }
}

/// Opens the journal of `config`, creating it (with its format marker) if there is no file.
/// Refuses a file that is not a journal, is damaged, or has another format version.
pub(crate) fn open_database(
    config: &JournalConfig,
    syncs: &Arc<AtomicU64>,
) -> Result<Database, JournalError> {
    fs::create_dir_all(&config.dir)?;
    let path = journal_path(config);
    if !path.exists() {
        create(config, &path, syncs)?;
    }
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    if file.metadata()?.len() == 0 {
        return Err(JournalError::NotAJournal {
            path,
            reason: "an empty file".into(),
        });
    }
    let db = open_file(config, &path, file, syncs)?;
    check_marker(&db, &path)?;
    Ok(db)
}

/// Builds a new journal under a temporary name, makes it durable, then renames it into place.
fn create(config: &JournalConfig, path: &Path, syncs: &Arc<AtomicU64>) -> Result<(), JournalError> {
    let new = config.dir.join(NEW_FILE_NAME);
    match fs::remove_file(&new) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&new)?;
    let db = open_file(config, &new, file, syncs)?;
    let txn = db.begin_write()?;
    tables::initialise(&txn)?;
    txn.commit()?;
    drop(db);
    fs::rename(&new, path)?;
    File::open(&config.dir)?.sync_all()?;
    Ok(())
}

/// Refuses a database without this crate's format marker, or with another version.
fn check_marker(db: &Database, path: &Path) -> Result<(), JournalError> {
    let foreign = |reason: &str| JournalError::NotAJournal {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let txn = db.begin_read()?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(TableError::TableDoesNotExist(_)) => {
            return Err(foreign(
                "a redb database without the journal format marker (another program's file)",
            ))
        }
        Err(TableError::TableTypeMismatch { .. }) => {
            return Err(foreign("a redb database with a different marker table"))
        }
        Err(e) => return Err(e.into()),
    };
    match meta.get("format")? {
        Some(format) if format.value() == FORMAT => {}
        _ => return Err(foreign("the format marker names another format")),
    }
    let version = match meta.get("version")? {
        Some(v) => <[u8; 8]>::try_from(v.value())
            .map(u64::from_le_bytes)
            .map_err(|_| foreign("the format version is not readable"))?,
        None => return Err(foreign("the format marker has no version")),
    };
    if version != VERSION {
        return Err(JournalError::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: VERSION,
        });
    }
    Ok(())
}
