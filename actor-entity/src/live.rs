//! The activations running on this node: what passivation looks at and what the exit hook
//! cleans up.

use actor_core::ExitHook;
use actor_core::{ExitReason, Pid};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The host's clock: milliseconds since the host started, from `tokio::time` (so paused time
/// works in tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock(pub(crate) tokio::time::Instant);

impl Clock {
    pub(crate) fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// One running activation.
pub(crate) struct LiveEntry {
    pub(crate) kind: &'static str,
    pub(crate) key: String,
    /// The last event's time ([`Clock`] milliseconds).
    pub(crate) activity: Arc<AtomicU64>,
    /// Whether the machine allows passivation now ([`Entity::may_passivate`](crate::Entity)).
    pub(crate) passivable: Arc<std::sync::atomic::AtomicBool>,
    /// Set once the activation is named cluster-wide: not passivated before (its naming may
    /// take longer than the idle time on a loaded machine).
    pub(crate) named: std::sync::atomic::AtomicBool,
    /// Asks the activation to stop after the messages already in its mailbox.
    pub(crate) stop: Box<dyn Fn(ExitReason) + Send + Sync>,
    /// Asks the activation whether it is idle, in order with its events (it stops if so).
    pub(crate) check: Box<dyn Fn() + Send + Sync>,
}

/// Counts of one node's entity host.
#[derive(Debug, Default)]
pub struct EntityStats {
    /// Activations started here.
    pub activations: AtomicU64,
    /// Activations that stopped with `shutdown`: passivated (idle, or [`Entities::passivate`](
    /// crate::Entities::passivate)) or handed over.
    pub passivations: AtomicU64,
    /// Activations here that a newer one fenced.
    pub fenced: AtomicU64,
    /// Activations that ended here (any reason).
    pub exits: AtomicU64,
    /// Activation requests for a key another activation already held.
    pub duplicates: AtomicU64,
    /// Writes of activations here refused (and undone) because this node was not quorate.
    pub refused: AtomicU64,
    /// Writes of callers here queued for the quorum ([`MinorityWrites::Queue`](
    /// crate::MinorityWrites::Queue)).
    pub queued: AtomicU64,
}

/// The live activations, by pid; the exit hook of each of them. Also the host's cache of
/// resolved activations, which the exit hook cleans.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) entries: Mutex<HashMap<Pid, LiveEntry>>,
    pub(crate) stats: EntityStats,
    pub(crate) refs: crate::cache::RefCache,
}

impl ExitHook for Live {
    fn exited(&self, pid: Pid, reason: &ExitReason) {
        if let Some(e) = self.entries.lock().remove(&pid) {
            self.refs.evict(e.kind, &e.key, Some(pid));
        }
        self.stats.exits.fetch_add(1, Ordering::Relaxed);
        if *reason == ExitReason::Shutdown {
            self.stats.passivations.fetch_add(1, Ordering::Relaxed);
        }
        if *reason == crate::journaler::fenced() {
            self.stats.fenced.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Live {
    /// Asks every activation that looks idle for at least `idle_ms` to check that it is, in
    /// order with its events, and stop if so; returns how many were asked.
    pub(crate) fn passivate_idle(&self, now_ms: u64, idle_ms: u64) -> usize {
        let entries = self.entries.lock();
        let mut n = 0;
        for e in entries.values() {
            if e.named.load(Ordering::Relaxed)
                && e.passivable.load(Ordering::Relaxed)
                && now_ms.saturating_sub(e.activity.load(Ordering::Relaxed)) >= idle_ms
            {
                (e.check)();
                n += 1;
            }
        }
        n
    }

    /// The pid of the live activation of `kind`/`key` here, if any.
    pub(crate) fn find(&self, kind: &str, key: &str) -> Option<Pid> {
        self.entries
            .lock()
            .iter()
            .find(|(_, e)| e.kind == kind && e.key == key)
            .map(|(p, _)| *p)
    }
}
