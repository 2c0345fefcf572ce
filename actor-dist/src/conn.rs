//! One connection to a peer node: its outbound buffer, its phase, and the links and monitors
//! that cross it (so that they fire with `noconnection` when it goes down).
//!
//! Invariants:
//! - one `Conn` per peer at a time in the node's map; frames queued while it is connecting are
//!   sent once it is up, in order;
//! - the outbound buffer holds at most `limit` bytes of data frames; control frames (signals,
//!   replies, spawn/rpc control, system messages, ticks) are never refused, so signals cannot
//!   be lost to backpressure; data backpressure never closes the connection;
//! - three parts are written in this order each round: `prio` (ticks and load reports,
//!   which carry no order), the ordered stream `buf` (written in slices at frame boundaries,
//!   with `prio` taken again between slices, so a tick is never stuck behind megabytes of
//!   data), then pieces of the large frames in `lanes` (at most `FRAGMENT_BUDGET` bytes per
//!   round, round-robin over the first `MAX_FRAGMENTED` lanes);
//! - order per destination pid: a large frame to a pid opens (or extends) that pid's lane,
//!   and every later frame to that pid follows it in the lane until the lane is empty; a
//!   frame queued in `buf` before the lane opened is written before the lane's first piece
//!   (a round writes `buf` before `lanes`, and takes both under one lock);
//! - every link or monitor that crosses the connection is in `Tracking` until it is removed
//!   or fired; `take` empties it exactly once, at nodedown.

use crate::events::{DownReason, NodeInfo};
use crate::wire::{Frame, FRAGMENT_SIZE, MAX_FRAGMENTED};
use actor_core::{MonitorRef, NodeId, Pid, Signal, WireContext};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
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

/// Bytes of large frames written per writer round (round-robin over the lanes).
const FRAGMENT_BUDGET: usize = 4 * FRAGMENT_SIZE;

/// The ordered stream is written in slices of about this size, with ticks between them.
pub(crate) const SLICE: usize = 256 * 1024;

/// A tick frame, encoded: length 1, variant 0.
const TICK: [u8; 5] = [0, 0, 0, 1, 0];

/// What a lane is keyed by: the destination of ordered frames, or one unordered frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LaneKey {
    To(Pid),
    Solo(u64),
}

enum Item {
    /// A large frame (with its length prefix, skipped), sent in pieces from `off`.
    Big {
        frame: Vec<u8>,
        off: usize,
        id: u64,
        data: bool,
    },
    /// Whole frames queued behind a large one; `data` of their bytes count as data.
    Whole { bytes: Vec<u8>, data: usize },
}

/// Large frames in progress to one destination, and what follows them to it.
struct Lane {
    key: LaneKey,
    items: VecDeque<Item>,
}

/// What the writer takes in one round (see the module invariants).
#[derive(Default)]
pub(crate) struct Round {
    pub(crate) prio: Vec<u8>,
    pub(crate) main: Vec<u8>,
    pub(crate) frags: Vec<u8>,
}

impl Round {
    pub(crate) fn is_empty(&self) -> bool {
        self.prio.is_empty() && self.main.is_empty() && self.frags.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        for b in [&mut self.prio, &mut self.main, &mut self.frags] {
            b.clear();
            if b.capacity() > 4 << 20 {
                *b = Vec::new();
            }
        }
    }
}

/// The end of the slice of `buf` (whole frames) that starts at `from` and is about `size`
/// long: the first frame boundary at or past `from + size`, or the end.
pub(crate) fn slice_end(buf: &[u8], from: usize, size: usize) -> usize {
    if buf.len() - from <= size {
        return buf.len();
    }
    let mut at = from;
    while at < from + size && at + 4 <= buf.len() {
        let len = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        at += 4 + len;
    }
    at.min(buf.len())
}

#[derive(Default)]
struct Outbound {
    /// The ordered stream: whole frames (data and control), in call order.
    buf: Vec<u8>,
    /// Data bytes in `buf`.
    buf_data: usize,
    /// Data bytes queued in `buf` and `lanes`: the limit applies to these.
    data: usize,
    /// Ticks and load reports: no order with anything; written first.
    prio: Vec<u8>,
    /// Large frames being fragmented, in arrival order.
    lanes: Vec<Lane>,
    /// Fragment bytes sent and not yet acknowledged by the peer (at most `window`).
    in_flight: usize,
    next_fragment: u64,
    closed: bool,
    /// Closing after what is queued (an orderly node stop): no new frames; the writer ends
    /// once the buffer is written, and the peer reads everything before the end of stream.
    draining: bool,
    /// Frames queued on this connection (a large frame counts once, not per fragment).
    frames: u64,
    /// Their bytes, length prefixes included.
    bytes: u64,
}

impl Outbound {
    fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.prio.is_empty() && self.lanes.is_empty()
    }

    /// The lane of frames to `to`, if a large frame to it is in progress.
    fn lane_of(&mut self, to: Option<Pid>) -> Option<&mut Lane> {
        let to = to?;
        if self.lanes.is_empty() {
            return None;
        }
        self.lanes.iter_mut().find(|l| l.key == LaneKey::To(to))
    }
}

impl Lane {
    /// The buffer of whole frames at the lane's end.
    fn whole(&mut self) -> &mut Vec<u8> {
        if !matches!(self.items.back(), Some(Item::Whole { .. })) {
            self.items.push_back(Item::Whole {
                bytes: Vec::new(),
                data: 0,
            });
        }
        match self.items.back_mut() {
            Some(Item::Whole { bytes, .. }) => bytes,
            _ => unreachable!("just pushed"),
        }
    }

    fn add_data(&mut self, n: usize) {
        if let Some(Item::Whole { data, .. }) = self.items.back_mut() {
            *data += n;
        }
    }
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
    /// Bytes received (counted as they arrive): the tick logic watches it move.
    pub(crate) received: AtomicU64,
    /// Frames received (logical: a fragmented frame counts once, when whole).
    pub(crate) frames_in: AtomicU64,
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    /// Someone owns bringing this connection up: our own connect (its handshake succeeded,
    /// or it gave up), or an incoming connection from the same peer that took it over.
    claimed: AtomicBool,
    pub(crate) wire: Arc<dyn WireContext>,
    limit: usize,
    /// Unacknowledged fragment bytes allowed (`DistConfig::fragment_window`).
    window: usize,
    /// Mirrors `Outbound::closed` so the send path can check it without the lock.
    closed: AtomicBool,
    /// The peer announced [`capability::TRACE_CONTEXT`](crate::wire::capability): it takes
    /// [`Frame::Traced`](crate::wire::Frame::Traced). Set when the connection comes up.
    traces: AtomicBool,
}

impl Conn {
    pub(crate) fn new(
        peer: NodeId,
        name: String,
        wire: Arc<dyn WireContext>,
        limit: usize,
        window: usize,
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
            frames_in: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
            claimed: AtomicBool::new(false),
            wire,
            limit,
            window,
            closed: AtomicBool::new(false),
            traces: AtomicBool::new(false),
        }
    }

    /// Frames and bytes queued to the peer, frames and bytes read from it (logical frames:
    /// a large frame counts once, however many fragments carried it).
    pub(crate) fn traffic(&self) -> (u64, u64, u64, u64) {
        let (frames, bytes) = {
            let o = self.out.lock();
            (o.frames, o.bytes)
        };
        (
            frames,
            bytes,
            self.frames_in.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }

    /// Whether the peer takes traced frames.
    #[inline]
    pub(crate) fn traces(&self) -> bool {
        self.traces.load(Ordering::Relaxed)
    }

    /// Records the capabilities the peer announced in the handshake.
    pub(crate) fn set_capabilities(&self, caps: u64) {
        let t = caps & crate::wire::capability::TRACE_CONTEXT != 0;
        self.traces.store(t, Ordering::Relaxed);
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

    /// Queues one encoded frame (with its length prefix), ordered with the other frames to
    /// `to`. Data frames respect the limit; control frames do not. A frame longer than
    /// [`FRAGMENT_SIZE`] goes in pieces (see [`Conn::push_large`]).
    pub(crate) fn push(
        &self,
        bytes: &[u8],
        control: bool,
        to: Option<Pid>,
    ) -> Result<(), PushError> {
        if bytes.len() > FRAGMENT_SIZE + 4 {
            return self.push_large(bytes.to_vec(), control, to);
        }
        let mut o = self.out.lock();
        if o.closed || o.draining {
            return Err(PushError::Closed);
        }
        if !control && o.data > 0 && o.data + bytes.len() > self.limit {
            return Err(PushError::Full);
        }
        let data = if control { 0 } else { bytes.len() };
        o.data += data;
        o.frames += 1;
        o.bytes += bytes.len() as u64;
        if let Some(lane) = o.lane_of(to) {
            lane.whole().extend_from_slice(bytes);
            lane.add_data(data);
            drop(o);
            self.wake_writer.notify_one();
            return Ok(());
        }
        let was_empty = o.buf.is_empty();
        o.buf.extend_from_slice(bytes);
        o.buf_data += data;
        drop(o);
        if was_empty {
            self.wake_writer.notify_one();
        }
        Ok(())
    }

    /// Queues a large encoded frame (with its length prefix) to go in pieces, interleaved
    /// with other traffic; later frames to `to` wait behind it.
    pub(crate) fn push_large(
        &self,
        frame: Vec<u8>,
        control: bool,
        to: Option<Pid>,
    ) -> Result<(), PushError> {
        let mut o = self.out.lock();
        if o.closed || o.draining {
            return Err(PushError::Closed);
        }
        let len = frame.len() - 4;
        if !control && o.data > 0 && o.data + len > self.limit {
            return Err(PushError::Full);
        }
        if !control {
            o.data += len;
        }
        o.frames += 1;
        o.bytes += frame.len() as u64;
        let id = o.next_fragment;
        o.next_fragment += 1;
        let item = Item::Big {
            frame,
            off: 4,
            id,
            data: !control,
        };
        match o.lane_of(to) {
            Some(lane) => lane.items.push_back(item),
            None => {
                let key = to.map_or(LaneKey::Solo(id), LaneKey::To);
                o.lanes.push(Lane {
                    key,
                    items: VecDeque::from([item]),
                });
            }
        }
        drop(o);
        self.wake_writer.notify_one();
        Ok(())
    }

    /// Queues a tick: ahead of everything, never refused while the connection is open.
    pub(crate) fn push_tick(&self) {
        self.push_prio(&TICK);
    }

    /// Queues a frame that has no order with any other (ticks, load reports) ahead of
    /// everything, never refused while the connection is open.
    pub(crate) fn push_prio(&self, bytes: &[u8]) {
        let mut o = self.out.lock();
        if o.closed || o.draining {
            return;
        }
        o.prio.extend_from_slice(bytes);
        o.frames += 1;
        o.bytes += bytes.len() as u64;
        drop(o);
        self.wake_writer.notify_one();
    }

    /// Encodes a data frame to `to` straight into the outbound buffer (subject to the
    /// limit). The frame must not be larger than [`FRAGMENT_SIZE`] (larger ones go through
    /// [`Conn::push_large`]).
    pub(crate) fn push_frame<T: serde::Serialize>(
        &self,
        frame: &T,
        max: usize,
        to: Pid,
    ) -> Result<(), PushFrameError> {
        let mut o = self.out.lock();
        if o.closed || o.draining {
            return Err(PushFrameError::Closed);
        }
        if o.data > 0 && o.data >= self.limit {
            return Err(PushFrameError::Full);
        }
        if !o.lanes.is_empty() && o.lanes.iter().any(|l| l.key == LaneKey::To(to)) {
            let mut bytes = Vec::new();
            crate::wire::encode_frame(frame, max, &mut bytes)
                .map_err(|e| PushFrameError::Encode(e.to_string()))?;
            o.data += bytes.len();
            o.frames += 1;
            o.bytes += bytes.len() as u64;
            let lane = o.lane_of(Some(to)).expect("lane checked above");
            lane.whole().extend_from_slice(&bytes);
            lane.add_data(bytes.len());
            drop(o);
            self.wake_writer.notify_one();
            return Ok(());
        }
        let was_empty = o.buf.is_empty();
        let before = o.buf.len();
        crate::wire::encode_frame(frame, max, &mut o.buf)
            .map_err(|e| PushFrameError::Encode(e.to_string()))?;
        let added = o.buf.len() - before;
        o.buf_data += added;
        o.data += added;
        o.frames += 1;
        o.bytes += added as u64;
        drop(o);
        if was_empty {
            self.wake_writer.notify_one();
        }
        Ok(())
    }

    /// Takes what the writer sends next into `r` (which must be empty): every priority
    /// frame, the whole ordered stream, and up to `FRAGMENT_BUDGET` bytes of large frames;
    /// `None` once closed (or drained).
    pub(crate) fn take_round(&self, r: &mut Round) -> Option<()> {
        let mut o = self.out.lock();
        if o.closed || (o.draining && o.is_empty()) {
            return None;
        }
        let o = &mut *o;
        std::mem::swap(&mut o.prio, &mut r.prio);
        std::mem::swap(&mut o.buf, &mut r.main);
        o.data -= o.buf_data;
        o.buf_data = 0;
        let mut used = 0;
        while used < FRAGMENT_BUDGET && !o.lanes.is_empty() && o.in_flight < self.window {
            let mut i = 0;
            while i < o.lanes.len().min(MAX_FRAGMENTED)
                && used < FRAGMENT_BUDGET
                && o.in_flight < self.window
            {
                let lane = &mut o.lanes[i];
                match lane.items.front_mut() {
                    Some(Item::Whole { bytes, data }) => {
                        used += bytes.len();
                        o.data -= *data;
                        r.frags.extend_from_slice(bytes);
                        lane.items.pop_front();
                    }
                    Some(Item::Big {
                        frame,
                        off,
                        id,
                        data,
                    }) => {
                        let end = (*off + FRAGMENT_SIZE).min(frame.len());
                        let piece = Frame::Fragment {
                            id: *id,
                            more: end < frame.len(),
                            bytes: &frame[*off..end],
                        };
                        crate::wire::encode_frame(&piece, usize::MAX, &mut r.frags)
                            .expect("a fragment always encodes");
                        used += end - *off;
                        o.in_flight += end - *off;
                        if *data {
                            o.data -= end - *off;
                        }
                        *off = end;
                        if end == frame.len() {
                            lane.items.pop_front();
                        }
                    }
                    None => {}
                }
                if lane.items.is_empty() {
                    o.lanes.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        Some(())
    }

    /// The peer took `bytes` more fragment bytes: more may be sent.
    pub(crate) fn fragments_acked(&self, bytes: u64) {
        let mut o = self.out.lock();
        o.in_flight = o.in_flight.saturating_sub(bytes as usize);
        let more = !o.lanes.is_empty();
        drop(o);
        if more {
            self.wake_writer.notify_one();
        }
    }

    /// Takes the priority frames queued meanwhile into `prio` (between slices of a round).
    pub(crate) fn take_prio(&self, prio: &mut Vec<u8>) -> bool {
        let mut o = self.out.lock();
        if o.prio.is_empty() {
            return false;
        }
        std::mem::swap(&mut o.prio, prio);
        true
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
        o.prio = Vec::new();
        o.lanes = Vec::new();
        o.data = 0;
        o.buf_data = 0;
        drop(o);
        self.wake_writer.notify_one();
        self.room.notify_waiters();
        was_open
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Data bytes waiting to be written.
    pub(crate) fn backlog(&self) -> usize {
        self.out.lock().data
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode_frame, encode_frame, Reassembly};
    use actor_core::NodeId;

    struct NoWire;
    impl WireContext for NoWire {
        fn export_reply(&self, _: Box<dyn actor_core::ReplyDelivery>) -> actor_core::Ref {
            unreachable!()
        }
        fn reply_sink(&self, _: actor_core::Ref) -> Arc<dyn actor_core::ReplySink> {
            unreachable!()
        }
    }

    fn pid(id: u64) -> Pid {
        Pid {
            node: NodeId(1),
            id,
            creation: 1,
        }
    }

    fn frame(to: u64, seq: u8, len: usize) -> Vec<u8> {
        let payload = vec![seq; len];
        let mut out = Vec::new();
        encode_frame(
            &Frame::Send {
                to: pid(to),
                tag: 1,
                payload: &payload,
            },
            usize::MAX,
            &mut out,
        )
        .unwrap();
        out
    }

    /// Splits written bytes into frames, reassembling fragments: (to, first payload byte).
    fn read_all(bytes: &[u8], r: &mut Reassembly, out: &mut Vec<(u64, u8)>) {
        let mut at = 0;
        while at < bytes.len() {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let body = &bytes[at + 4..at + 4 + len];
            at += 4 + len;
            let whole;
            let f = match decode_frame(body).unwrap() {
                Frame::Fragment { id, more, bytes } => match r.push(id, more, bytes).unwrap() {
                    Some(w) => {
                        whole = w;
                        decode_frame(&whole).unwrap()
                    }
                    None => continue,
                },
                f => f,
            };
            match f {
                Frame::Send { to, payload, .. } => out.push((to.id, payload[0])),
                Frame::Tick => out.push((0, 0)),
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn ticks_and_small_frames_go_before_a_large_frame_which_keeps_its_pairs_order() {
        let c = Conn::new(NodeId(1), "p".into(), Arc::new(NoWire), 64 << 20, 1 << 20);
        c.push(&frame(1, 0, 10), false, Some(pid(1))).unwrap();
        c.push(&frame(1, 1, 3 << 20), false, Some(pid(1))).unwrap(); // large, to 1
        c.push(&frame(1, 2, 10), false, Some(pid(1))).unwrap(); // behind it
        c.push(&frame(2, 3, 10), false, Some(pid(2))).unwrap(); // not behind it
        c.push_tick();
        let mut r = Round::default();
        c.take_round(&mut r).unwrap();
        assert_eq!(r.prio, TICK, "the tick comes first");
        let mut re = Reassembly::new(8 << 20);
        let mut seen = Vec::new();
        read_all(&r.main, &mut re, &mut seen);
        assert_eq!(
            seen,
            vec![(1, 0), (2, 3)],
            "small frames in the first round"
        );
        assert!(r.frags.len() <= FRAGMENT_BUDGET + 64, "bounded round");
        let mut rounds = 1;
        loop {
            read_all(&r.frags, &mut re, &mut seen);
            c.fragments_acked(1 << 30); // the peer took everything
            r.clear();
            c.push_tick(); // a tick every round, ahead of the pieces
            c.take_round(&mut r).unwrap();
            assert_eq!(r.prio, TICK);
            if r.main.is_empty() && r.frags.is_empty() {
                break;
            }
            rounds += 1;
        }
        assert!(rounds >= 12, "{rounds} rounds for 3 MiB");
        assert_eq!(seen, vec![(1, 0), (2, 3), (1, 1), (1, 2)], "per-pair order");
        assert_eq!(c.backlog(), 0, "data accounting back to zero");
    }

    #[test]
    fn slices_end_at_frame_boundaries() {
        let mut buf = Vec::new();
        for i in 0..1000 {
            buf.extend(frame(1, i as u8, 1000));
        }
        let mut at = 0;
        while at < buf.len() {
            let end = slice_end(&buf, at, 10_000);
            assert!((end - at).is_multiple_of(frame(1, 0, 1000).len()));
            at = end;
        }
    }
}
