//! One connection to a peer node: its outbound buffer, its phase, and the links and monitors
//! that cross it (so that they fire with `noconnection` when it goes down).
//!
//! Invariants:
//! - one `Conn` per peer at a time in the node's map; frames queued while it is connecting are
//!   sent once it is up, in order;
//! - the outbound buffer holds at most `limit` bytes of data frames; control frames (signals,
//!   replies, ticks) are never refused, so signals cannot be lost to backpressure;
//! - every link or monitor that crosses the connection is in `Tracking` until it is removed
//!   or fired; `take` empties it exactly once, at nodedown.

use crate::events::{DownReason, NodeInfo};
use actor_core::{MonitorRef, NodeId, Pid, Signal, WireContext};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::AbortHandle;

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Up(NodeInfo),
    Down(DownReason),
}

#[derive(Default)]
struct Outbound {
    buf: Vec<u8>,
    closed: bool,
    /// Closing after what is queued (an orderly node stop): no new frames; the writer ends
    /// once the buffer is written, and the peer reads everything before the end of stream.
    draining: bool,
}

/// Links and monitors crossing this connection.
#[derive(Default)]
pub(crate) struct Tracking {
    /// (local pid, remote pid)
    pub(crate) links: HashSet<(Pid, Pid)>,
    /// Monitors held by local watchers on remote targets: ref -> (watcher, target).
    pub(crate) monitors_out: HashMap<MonitorRef, (Pid, Pid)>,
    /// Monitors held by remote watchers on local targets: ref -> (target, watcher).
    pub(crate) monitors_in: HashMap<MonitorRef, (Pid, Pid)>,
}

impl Tracking {
    /// Records a signal leaving for `to` (remote) from this node.
    pub(crate) fn outgoing(&mut self, to: Pid, signal: &Signal) {
        match *signal {
            Signal::Link { from } => {
                self.links.insert((from, to));
            }
            Signal::Unlink { from } => {
                self.links.remove(&(from, to));
            }
            Signal::Exit {
                from, link: true, ..
            } => {
                self.links.remove(&(from, to));
            }
            Signal::Monitor { from, mref } => {
                self.monitors_out.insert(mref, (from, to));
            }
            Signal::Demonitor { mref, .. } => {
                self.monitors_out.remove(&mref);
            }
            Signal::Down { mref, .. } => {
                self.monitors_in.remove(&mref);
            }
            Signal::Exit { .. } => {}
        }
    }

    /// Records a signal arriving for local `to` from the peer.
    pub(crate) fn incoming(&mut self, to: Pid, signal: &Signal) {
        match *signal {
            Signal::Link { from } => {
                self.links.insert((to, from));
            }
            Signal::Unlink { from } => {
                self.links.remove(&(to, from));
            }
            Signal::Exit {
                from, link: true, ..
            } => {
                self.links.remove(&(to, from));
            }
            Signal::Monitor { from, mref } => {
                self.monitors_in.insert(mref, (to, from));
            }
            Signal::Demonitor { mref, .. } => {
                self.monitors_in.remove(&mref);
            }
            Signal::Down { mref, .. } => {
                self.monitors_out.remove(&mref);
            }
            Signal::Exit { .. } => {}
        }
    }
}

/// Why a frame could not be encoded into the outbound buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushFrameError {
    Full,
    Closed,
    Encode(String),
}

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    Full,
    Closed,
}

pub(crate) struct Conn {
    pub(crate) peer: NodeId,
    pub(crate) name: String,
    pub(crate) phase: watch::Sender<Phase>,
    out: Mutex<Outbound>,
    pub(crate) wake_writer: Notify,
    pub(crate) room: Notify,
    pub(crate) track: Mutex<Tracking>,
    /// Bytes received (counted as they arrive) / buffers written: the tick logic watches
    /// these move.
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    /// Someone owns bringing this connection up: our own connect (its handshake succeeded,
    /// or it gave up), or an incoming connection from the same peer that took it over.
    claimed: AtomicBool,
    pub(crate) wire: Arc<dyn WireContext>,
    limit: usize,
    /// Mirrors `Outbound::closed` so the send path can check it without the lock.
    closed: AtomicBool,
}

impl Conn {
    pub(crate) fn new(
        peer: NodeId,
        name: String,
        wire: Arc<dyn WireContext>,
        limit: usize,
    ) -> Self {
        Conn {
            peer,
            name,
            phase: watch::channel(Phase::Connecting).0,
            out: Mutex::new(Outbound::default()),
            wake_writer: Notify::new(),
            room: Notify::new(),
            track: Mutex::new(Tracking::default()),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
            claimed: AtomicBool::new(false),
            wire,
            limit,
            closed: AtomicBool::new(false),
        }
    }

    /// Takes ownership of bringing the connection up (or down, when set-up failed): `true`
    /// for the first caller only.
    pub(crate) fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Up(_))
    }

    /// Queues encoded frames. Data frames respect the limit; control frames do not.
    pub(crate) fn push(&self, bytes: &[u8], control: bool) -> Result<(), PushError> {
        let mut o = self.out.lock();
        if o.closed || o.draining {
            return Err(PushError::Closed);
        }
        if !control && !o.buf.is_empty() && o.buf.len() + bytes.len() > self.limit {
            return Err(PushError::Full);
        }
        let was_empty = o.buf.is_empty();
        o.buf.extend_from_slice(bytes);
        drop(o);
        if was_empty {
            self.wake_writer.notify_one();
        }
        Ok(())
    }

    /// Encodes `frame` straight into the outbound buffer (data: subject to the limit).
    pub(crate) fn push_frame<T: serde::Serialize>(
        &self,
        frame: &T,
        max: usize,
        control: bool,
    ) -> Result<(), PushFrameError> {
        let mut o = self.out.lock();
        if o.closed {
            return Err(PushFrameError::Closed);
        }
        if !control && !o.buf.is_empty() && o.buf.len() >= self.limit {
            return Err(PushFrameError::Full);
        }
        let was_empty = o.buf.is_empty();
        crate::wire::encode_frame(frame, max, &mut o.buf)
            .map_err(|e| PushFrameError::Encode(e.to_string()))?;
        drop(o);
        if was_empty {
            self.wake_writer.notify_one();
        }
        Ok(())
    }

    /// Moves the queued bytes into `spare` (which must be empty); `None` once closed.
    pub(crate) fn take_outbound(&self, spare: &mut Vec<u8>) -> Option<()> {
        let mut o = self.out.lock();
        if o.closed || (o.draining && o.buf.is_empty()) {
            return None;
        }
        std::mem::swap(&mut o.buf, spare);
        Some(())
    }

    /// Closes the outbound side after the queued bytes are written (see `Outbound::draining`).
    pub(crate) fn drain_and_close(&self) {
        self.out.lock().draining = true;
        self.wake_writer.notify_one();
    }

    /// Closes the outbound side; queued bytes are dropped. Returns whether it was open.
    pub(crate) fn close(&self) -> bool {
        let mut o = self.out.lock();
        let was_open = !o.closed;
        o.closed = true;
        self.closed.store(true, Ordering::Release);
        o.buf = Vec::new();
        drop(o);
        self.wake_writer.notify_one();
        self.room.notify_waiters();
        was_open
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Bytes waiting to be written.
    pub(crate) fn backlog(&self) -> usize {
        self.out.lock().buf.len()
    }

    pub(crate) fn abort_tasks(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Empties the tracking tables (at nodedown).
    pub(crate) fn take_tracking(&self) -> Tracking {
        std::mem::take(&mut *self.track.lock())
    }

    pub(crate) fn sent_tick(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}
