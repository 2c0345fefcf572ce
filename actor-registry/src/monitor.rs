//! Monitors: of one key, of one process group, of a whole group scope. Each is a bounded
//! queue; a reader that falls behind misses events and is told how many.

use crate::key::{Key, Kind};
use actor_core::{ExitReason, Pid};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events queued per monitor; a monitor that falls further behind misses events, and
/// [`KeyMonitor::missed`] / [`GroupMonitor::missed`] count them.
pub const MONITOR_QUEUE: usize = 1024;

/// What happened to a monitored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// `pid` registered the key.
    Registered,
    /// `pid` unregistered the key (or, in the global scope, lost a name conflict).
    Unregistered,
    /// The entry vanished because `pid` exited (or its node went down: `noconnection`).
    Exited(ExitReason),
}

/// A notification from [`Registry::monitor`](crate::Registry::monitor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    /// Kind of the key.
    pub kind: Kind,
    /// The key.
    pub key: Key,
    /// The holder that registered or went away.
    pub pid: Pid,
    /// What happened.
    pub change: Change,
}

/// The receiving end of a key monitor. Dropping it removes the monitor (lazily).
#[derive(Debug)]
pub struct KeyMonitor {
    /// The holders of the key when the monitor was set, read atomically with setting it:
    /// every later change arrives as an event.
    pub holders: Vec<Pid>,
    pub(crate) rx: mpsc::Receiver<KeyEvent>,
    pub(crate) missed: Arc<AtomicU64>,
}

impl KeyMonitor {
    /// The next event; `None` once the registry is gone.
    pub async fn recv(&mut self) -> Option<KeyEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<KeyEvent> {
        self.rx.try_recv().ok()
    }

    /// Events dropped because this monitor's queue was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

/// Whether processes joined or left a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupChange {
    /// The processes joined (once each per listed occurrence).
    Joined,
    /// The processes left: by [`Registry::leave`](crate::Registry::leave), by exiting, or
    /// because their node went down.
    Left,
}

/// A notification from [`Registry::monitor_group`](crate::Registry::monitor_group) or
/// [`Registry::monitor_scope`](crate::Registry::monitor_scope) (OTP `pg`'s join/leave
/// messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEvent {
    /// The group.
    pub group: Key,
    /// The processes that joined or left.
    pub pids: Vec<Pid>,
    /// Which.
    pub change: GroupChange,
}

/// The receiving end of a group or scope monitor. Dropping it removes the monitor (lazily).
#[derive(Debug)]
pub struct GroupMonitor {
    /// The members of the monitored group (or of every group of the scope) when the monitor
    /// was set, read atomically with setting it.
    pub members: BTreeMap<Key, Vec<Pid>>,
    pub(crate) rx: mpsc::Receiver<GroupEvent>,
    pub(crate) missed: Arc<AtomicU64>,
}

impl GroupMonitor {
    /// The next event; `None` once the registry is gone.
    pub async fn recv(&mut self) -> Option<GroupEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<GroupEvent> {
        self.rx.try_recv().ok()
    }

    /// Events dropped because this monitor's queue was full.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

/// A monitor's sending side and its count of missed events.
pub(crate) struct Sink<T> {
    tx: mpsc::Sender<T>,
    missed: Arc<AtomicU64>,
}

impl<T> Sink<T> {
    /// A new sink and the receiver and counter for the user's side.
    pub(crate) fn new() -> (Sink<T>, mpsc::Receiver<T>, Arc<AtomicU64>) {
        let (tx, rx) = mpsc::channel(MONITOR_QUEUE);
        let missed = Arc::new(AtomicU64::new(0));
        (
            Sink {
                tx,
                missed: missed.clone(),
            },
            rx,
            missed,
        )
    }

    /// Queues `ev`; `false` once the receiver is gone (the sink should be dropped).
    pub(crate) fn offer(&self, ev: T) -> bool {
        match self.tx.try_send(ev) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
