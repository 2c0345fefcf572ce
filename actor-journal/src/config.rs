//! Where a journal lives and how it batches.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Retention;

/// How a [`RedbJournal`](crate::RedbJournal) is opened.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// The data directory; the journal is the file `journal.redb` in it. Created if missing.
    pub dir: PathBuf,
    /// Writes waiting for the committer, at most. A writer beyond it waits (backpressure).
    pub max_pending: usize,
    /// Operations carried by one write transaction, at most.
    pub max_batch: usize,
    /// How long the committer keeps gathering writes for a commit after the queue runs dry:
    /// it commits once no write has arrived for this long (or after ten times it). A few tens
    /// of microseconds let the writers answered by the previous commit join the next one;
    /// zero commits whatever is queued at once.
    pub linger: Duration,
    /// The storage engine's page cache, in bytes.
    pub cache_bytes: usize,
    /// Verify every page's checksum when opening, so a damaged file is refused with
    /// [`JournalError::Corrupt`](crate::JournalError::Corrupt) instead of failing later. Costs
    /// a read of the whole file at open.
    pub verify_on_open: bool,
    /// What happens to receipts a snapshot covers.
    pub retention: Retention,
    /// Injected storage faults, for tests.
    pub faults: Option<FaultInjector>,
}

impl JournalConfig {
    /// A journal in `dir`, with the defaults.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            max_pending: 4096,
            max_batch: 1024,
            linger: Duration::from_micros(50),
            cache_bytes: 64 << 20,
            verify_on_open: true,
            retention: Retention::Compact,
            faults: None,
        }
    }

    /// A journal in a fresh directory under the system's temporary directory, for demos
    /// (the directory is not removed afterwards).
    pub fn temporary() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("actor-journal-{}-{nanos:x}", std::process::id()));
        JournalConfig::new(dir)
    }
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig::temporary()
    }
}

/// A switch that makes the journal file's writes, resizes and syncs fail, as a full or broken
/// disk does. Shared by clones; give one to [`JournalConfig::faults`].
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    state: Arc<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    failing: AtomicBool,
    kind: Mutex<Option<FaultKind>>,
    injected: AtomicU64,
}

/// Which error an injected fault raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `ENOSPC`: no space left on the device.
    NoSpace,
    /// `EIO`: an input/output error.
    Io,
}

impl FaultInjector {
    /// A switch that injects nothing yet.
    pub fn new() -> Self {
        FaultInjector::default()
    }

    /// From now on, every write, resize and sync of the file fails with `kind`.
    pub fn fail_writes(&self, kind: FaultKind) {
        *self.state.kind.lock().unwrap_or_else(|e| e.into_inner()) = Some(kind);
        self.state.failing.store(true, Ordering::SeqCst);
    }

    /// Stops injecting faults (the disk has space again).
    pub fn heal(&self) {
        self.state.failing.store(false, Ordering::SeqCst);
    }

    /// How many operations have failed by injection so far.
    pub fn injected(&self) -> u64 {
        self.state.injected.load(Ordering::SeqCst)
    }

    pub(crate) fn check(&self) -> io::Result<()> {
        if !self.state.failing.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.state.injected.fetch_add(1, Ordering::SeqCst);
        let kind = *self.state.kind.lock().unwrap_or_else(|e| e.into_inner());
        Err(match kind {
            Some(FaultKind::NoSpace) | None => io::Error::from_raw_os_error(28),
            Some(FaultKind::Io) => io::Error::from_raw_os_error(5),
        })
    }
}
