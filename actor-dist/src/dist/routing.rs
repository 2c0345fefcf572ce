//! Routing: the `Router` installed on the node (signals), the typed route under remote
//! `ActorRef`s (`DistRoute`), reply handles crossing a connection (`Wire`, `Sink`), queueing
//! frames, and dispatching the frames a connection receives.

use super::io::ReaderCache;
use super::{Answer, Asked, Inner};
use crate::conn::{Conn, PushError, PushFrameError};
use crate::wire::{encode_frame, Frame, FRAGMENT_SIZE};
use actor_core::{
    CallError, Distribution, EncodeFn, ExitReason, Node, NodeId, Pid, RawRoute, RawSendError, Ref,
    ReplyDelivery, ReplySink, RouteError, Signal, WireContext,
};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use tokio::sync::oneshot;

thread_local! {
    /// Encode buffers reused across sends: (payload, frame).
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// Ids of the reply handles exported while `send_encoded` encodes a message (recording
    /// only while the flag is set).
    static EXPORTED: RefCell<(bool, Vec<u64>)> = const { RefCell::new((false, Vec::new())) };
}

/// The object installed on the node: routes signals to other nodes.
pub(super) struct Router(pub(super) Weak<Inner>);

impl Distribution for Router {
    fn signal(&self, to: Pid, signal: Signal) -> Result<(), RouteError> {
        match self.0.upgrade() {
            Some(inner) => inner.route_signal(to, signal),
            None => Err(RouteError::NoConnection(to.node)),
        }
    }

    fn shutdown(&self, within: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        let inner = self.0.upgrade();
        Box::pin(async move {
            if let Some(inner) = inner {
                inner.shutdown_gracefully(within).await;
            }
        })
    }
}

/// Reply handles for calls that cross a connection.
pub(super) struct Wire {
    pub(super) inner: Weak<Inner>,
    pub(super) peer: NodeId,
}

impl WireContext for Wire {
    fn export_reply(&self, delivery: Box<dyn ReplyDelivery>) -> Ref {
        match self.inner.upgrade() {
            Some(inner) => inner.export_reply(self.peer, delivery),
            None => Ref {
                node: NodeId(0),
                id: 0,
                creation: 0,
            },
        }
    }
    fn reply_sink(&self, _addr: Ref) -> Arc<dyn ReplySink> {
        Arc::new(Sink(self.inner.clone()))
    }
    fn node(&self) -> Option<Node> {
        self.inner.upgrade().map(|i| i.node.clone())
    }
    fn raw_route(&self) -> Option<Arc<dyn RawRoute>> {
        self.inner
            .upgrade()
            .map(|i| Arc::new(DistRoute::new(i)) as Arc<dyn RawRoute>)
    }
}

struct Sink(Weak<Inner>);

impl ReplySink for Sink {
    fn abandon(&self, addr: Ref, reason: Option<ExitReason>) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        if addr.node == inner.node.id() {
            let d = inner.replies.lock().remove(&addr.id);
            if let Some((_, d)) = d {
                d.abandon(reason);
            }
            return;
        }
        if let Some(conn) = inner.conn_for(addr.node, false) {
            let _ = inner.send_frame(
                &conn,
                &Frame::Abandon {
                    id: addr.id,
                    reason,
                },
                true,
            );
        }
    }

    fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool {
        let Some(inner) = self.0.upgrade() else {
            return false;
        };
        if addr.node == inner.node.id() {
            // A handle that came back home: deliver here.
            return inner.deliver_reply(addr.id, &payload);
        }
        let Some(conn) = inner.conn_for(addr.node, true) else {
            return false;
        };
        inner
            .send_frame(
                &conn,
                &Frame::Reply {
                    id: addr.id,
                    payload: &payload,
                },
                true,
            )
            .is_ok()
    }
}

/// Why a frame could not be queued.
#[derive(Debug)]
pub(crate) enum SendFail {
    NoConnection,
    Full,
    Encode(String),
}

impl From<PushError> for SendFail {
    fn from(e: PushError) -> Self {
        match e {
            PushError::Full => SendFail::Full,
            PushError::Closed => SendFail::NoConnection,
        }
    }
}

impl Inner {
    /// Encodes `frame` and queues it on `conn`.
    pub(crate) fn send_frame(
        &self,
        conn: &Conn,
        frame: &Frame<'_>,
        control: bool,
    ) -> Result<(), SendFail> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let buf = &mut s.1;
            buf.clear();
            encode_frame(frame, self.cfg.max_frame, buf)
                .map_err(|e| SendFail::Encode(e.to_string()))?;
            conn.push(buf, control, frame.ordered_to())
                .map_err(SendFail::from)
        })
    }

    /// Encodes `frame`, which has no order with any other (a load report, a peer list),
    /// and queues it ahead of everything: never refused while the connection is open.
    pub(crate) fn send_prio(&self, conn: &Conn, frame: &Frame<'_>) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let buf = &mut s.1;
            buf.clear();
            if encode_frame(frame, self.cfg.max_frame, buf).is_ok() {
                conn.push_prio(buf);
            }
        })
    }

    /// Encodes a message for `to` and queues it (data: subject to backpressure; a system
    /// message (`control`) is not). A message larger than a fragment goes in pieces; `true`
    /// then.
    pub(super) fn send_encoded(
        &self,
        conn: &Conn,
        to: Pid,
        tag: u64,
        encode: EncodeFn<'_>,
        control: bool,
    ) -> Result<bool, SendFail> {
        // Read before the scratch buffers are borrowed: a subscriber may run here.
        let trace = self.outgoing_trace(conn, to);
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let s = &mut *s;
            let payload = &mut s.0;
            payload.clear();
            EXPORTED.with(|e| {
                let mut e = e.borrow_mut();
                e.0 = true;
                e.1.clear();
            });
            let encoded = actor_core::with_wire_context(conn.wire.clone(), || encode(payload));
            let replies = EXPORTED.with(|e| {
                let mut e = e.borrow_mut();
                e.0 = false;
                std::mem::take(&mut e.1)
            });
            encoded.map_err(SendFail::Encode)?;
            let frame = if let Some(trace) = trace {
                Frame::Traced {
                    to,
                    tag,
                    payload,
                    replies,
                    trace,
                }
            } else if replies.is_empty() {
                Frame::Send { to, tag, payload }
            } else {
                Frame::SendCall {
                    to,
                    tag,
                    payload,
                    replies,
                }
            };
            if payload.len() > FRAGMENT_SIZE {
                // Large: its own buffer, sent in pieces (no copy of the scratch buffer).
                let mut big = Vec::with_capacity(payload.len() + 64);
                encode_frame(&frame, self.cfg.max_frame, &mut big)
                    .map_err(|e| SendFail::Encode(e.to_string()))?;
                return conn
                    .push_large(big, control, Some(to))
                    .map(|()| true)
                    .map_err(SendFail::from);
            }
            if control {
                let frame_buf = &mut s.1;
                frame_buf.clear();
                encode_frame(&frame, self.cfg.max_frame, frame_buf)
                    .map_err(|e| SendFail::Encode(e.to_string()))?;
                return conn
                    .push(frame_buf, control, Some(to))
                    .map(|()| false)
                    .map_err(SendFail::from);
            }
            conn.push_frame(&frame, self.cfg.max_frame, to)
                .map(|()| false)
                .map_err(|e| match e {
                    PushFrameError::Full => SendFail::Full,
                    PushFrameError::Closed => SendFail::NoConnection,
                    PushFrameError::Encode(why) => SendFail::Encode(why),
                })
        })
    }

    pub(super) fn route_signal(
        self: &Arc<Self>,
        to: Pid,
        signal: Signal,
    ) -> Result<(), RouteError> {
        let conn = self
            .conn_for(to.node, true)
            .ok_or(RouteError::NoConnection(to.node))?;
        // Tracking is updated under its lock together with the push, so that a concurrent
        // nodedown either sees the entry (and fires it) or the push fails (and the caller
        // fires it): never both, never neither.
        let mut track = conn.track.lock();
        self.send_frame(
            &conn,
            &Frame::Signal {
                to,
                signal: signal.clone(),
            },
            true,
        )
        .map_err(|_| RouteError::NoConnection(to.node))?;
        track.outgoing(to, &signal);
        Ok(())
    }

    pub(super) fn export_reply(&self, peer: NodeId, delivery: Box<dyn ReplyDelivery>) -> Ref {
        let id = self.fresh_id();
        self.replies.lock().insert(id, (peer, delivery));
        EXPORTED.with(|e| {
            let mut e = e.borrow_mut();
            if e.0 {
                e.1.push(id);
            }
        });
        Ref {
            node: self.node.id(),
            id,
            creation: self.node.creation(),
        }
    }

    pub(super) fn deliver_reply(&self, id: u64, payload: &[u8]) -> bool {
        let d = self.replies.lock().remove(&id);
        match d {
            Some((_, d)) => d.deliver(payload),
            None => {
                self.stats.late_replies.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub(crate) fn expect_answer(
        &self,
        peer: NodeId,
        asked: Asked,
    ) -> (u64, oneshot::Receiver<Answer>) {
        let id = self.fresh_id();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, (peer, asked, tx));
        (id, rx)
    }

    pub(crate) fn forget_answer(&self, id: u64) {
        self.pending.lock().remove(&id);
    }

    /// An answer from `conn` to request `id`: taken only from the node that was asked, and
    /// only of the kind asked (a spawn result for a spawn, an rpc result for an rpc). Anything
    /// else is refused and counted in `forged_answers`; an answer to no pending request (the
    /// caller gave up, or it never asked) in `late_replies`.
    pub(super) fn answer(&self, conn: &Conn, id: u64, a: Answer) {
        let mut pending = self.pending.lock();
        let why = match pending.get(&id) {
            Some((node, asked, _)) if *node == conn.peer && asked.matches(&a) => {
                if let Some((_, _, tx)) = pending.remove(&id) {
                    drop(pending);
                    let _ = tx.send(a);
                }
                return;
            }
            Some((node, _, _)) if *node == conn.peer => "an answer of another kind than asked",
            Some(_) => "the request went to another node",
            None => {
                drop(pending);
                self.stats.late_replies.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        drop(pending);
        self.stats.forged_answers.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.peer_warnings.allow() {
            tracing::warn!(peer = %conn.name, req = id, why, suppressed = n, "answer refused");
        }
    }

    /// Delivers a message from `conn`; one of a type this node does not know is refused back
    /// to the sender, with the ids of its reply handles so that its callers fail at once.
    /// It is handled inside the trace it came with, if any.
    fn dispatch_send(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        (to, tag, payload): (Pid, u64, &[u8]),
        replies: Vec<u64>,
        trace: Option<actor_core::TraceContext>,
        cache: &mut ReaderCache,
    ) {
        let dec = match &cache.decoder {
            Some((t, d)) if *t == tag => Some(d.clone()),
            _ => {
                let d = self.types.read().get(&tag).cloned();
                cache.decoder = d.clone().map(|d| (tag, d));
                cache.target = None;
                d
            }
        };
        match dec {
            None => {
                self.stats.unknown_tags.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, tag = format_args!("{tag:#x}"), "message of unknown type refused");
                let _ = self.send_frame(conn, &Frame::UnknownType { to, tag, replies }, true);
            }
            Some(d) => {
                let trace = trace.and_then(|t| self.incoming_trace(conn, t, to));
                if let Err(e) = d.deliver(
                    &self.node,
                    conn.wire.clone(),
                    to,
                    payload,
                    &mut cache.target,
                    trace,
                ) {
                    self.stats.undelivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(peer = %conn.name, %to, error = %e, "message not delivered");
                }
            }
        }
    }

    /// The peer refused a message we sent to `to`: it does not know its type. Counted and
    /// logged; the calls waiting on its reply handles fail at once with
    /// [`CallError::UnknownType`].
    fn unknown_type(self: &Arc<Self>, conn: &Arc<Conn>, to: Pid, tag: u64, replies: Vec<u64>) {
        let name = self.type_name(tag);
        self.stats.refused_by_peer.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(peer = %conn.name, %to, ty = %name, "peer refused a message: unknown type");
        for id in replies {
            let d = {
                let mut r = self.replies.lock();
                match r.get(&id) {
                    Some((peer, _)) if *peer == conn.peer => r.remove(&id),
                    _ => None,
                }
            };
            if let Some((_, d)) = d {
                if !d.is_closed() {
                    // The caller wakes with the handle dropped and asks the route why
                    // (`call_failure`), which takes this record.
                    self.refusals
                        .lock()
                        .entry(to)
                        .or_default()
                        .push(name.clone());
                }
                drop(d);
            }
        }
    }

    /// Handles one frame from `conn`.
    pub(super) fn dispatch(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        frame: Frame<'_>,
        cache: &mut ReaderCache,
    ) {
        match frame {
            Frame::Tick => {}
            Frame::Send { to, tag, payload } => {
                self.dispatch_send(conn, (to, tag, payload), Vec::new(), None, cache)
            }
            Frame::SendCall {
                to,
                tag,
                payload,
                replies,
            } => self.dispatch_send(conn, (to, tag, payload), replies, None, cache),
            Frame::Traced {
                to,
                tag,
                payload,
                replies,
                trace,
            } => self.dispatch_send(conn, (to, tag, payload), replies, Some(trace), cache),
            Frame::UnknownType { to, tag, replies } => self.unknown_type(conn, to, tag, replies),
            Frame::Signal { to, signal } => {
                // A peer speaks only for its own processes, to ours.
                let from = match signal {
                    Signal::Link { from }
                    | Signal::Unlink { from }
                    | Signal::Exit { from, .. }
                    | Signal::Monitor { from, .. }
                    | Signal::Demonitor { from, .. } => from,
                    Signal::Down { pid, .. } => pid,
                };
                if from.node != conn.peer || to.node != self.node.id() {
                    self.stats.forged_signals.fetch_add(1, Ordering::Relaxed);
                    if let Some(n) = self.peer_warnings.allow() {
                        tracing::warn!(peer = %conn.name, %from, %to, suppressed = n, "signal refused: not the peer's to send");
                    }
                    return;
                }
                conn.track.lock().incoming(to, &signal);
                self.node.deliver_signal(to, signal);
            }
            Frame::Reply { id, payload } => {
                self.deliver_reply(id, payload);
            }
            Frame::Abandon { id, reason } => {
                let d = self.replies.lock().remove(&id);
                if let Some((_, d)) = d {
                    d.abandon(reason);
                }
            }
            Frame::Spawn {
                req,
                kind,
                msg_tag,
                args,
                link,
            } => {
                if link.is_some_and(|p| p.node != conn.peer) {
                    // A link to a process of another node: not the peer's to ask.
                    self.stats.forged_signals.fetch_add(1, Ordering::Relaxed);
                    if let Some(n) = self.peer_warnings.allow() {
                        tracing::warn!(peer = %conn.name, suppressed = n, "spawn refused: link to another node's process");
                    }
                    let result = Err(crate::wire::RemoteSpawnError::NotAllowed(kind.to_string()));
                    let _ = self.send_frame(conn, &Frame::SpawnResult { req, result }, true);
                    return;
                }
                crate::spawn::serve(
                    self.clone(),
                    conn.clone(),
                    req,
                    kind.to_string(),
                    msg_tag,
                    args.to_vec(),
                    link,
                );
            }
            Frame::SpawnResult { req, result } => self.answer(conn, req, Answer::Spawn(result)),
            Frame::Rpc { req, func, args } => crate::rpc::serve(
                self.clone(),
                conn.clone(),
                (req, func.to_string(), args.to_vec()),
                None,
            ),
            Frame::TracedRpc {
                req,
                func,
                args,
                trace,
            } => crate::rpc::serve(
                self.clone(),
                conn.clone(),
                (req, func.to_string(), args.to_vec()),
                Some(trace),
            ),
            Frame::RpcResult { req, result } => {
                self.answer(conn, req, Answer::Rpc(result.map(|b| b.to_vec())))
            }
            Frame::Peers(peers) => {
                if peers.len() > self.cfg.max_peer_list {
                    let ignored = (peers.len() - self.cfg.max_peer_list) as u64;
                    self.stats
                        .peers_ignored
                        .fetch_add(ignored, Ordering::Relaxed);
                    if let Some(n) = self.peer_warnings.allow() {
                        tracing::warn!(peer = %conn.name, ignored, suppressed = n, "peer list capped");
                    }
                }
                if self.cfg.transitive && !self.cfg.hidden {
                    // An address we know (configured, or learnt first) is never overwritten.
                    for (name, addr) in peers.into_iter().take(self.cfg.max_peer_list) {
                        if name == self.node.name() {
                            continue;
                        }
                        let id = NodeId::from_name(&name);
                        let (known_name, addr) = self
                            .known
                            .lock()
                            .entry(id)
                            .or_insert((name.clone(), addr))
                            .clone();
                        if known_name == name && !self.conns.read().contains_key(&id) {
                            let first = self.start_connect(id, name.clone(), addr);
                            // Retried if it fails (housekeeping.rs): one failed transitive
                            // connect must not leave the mesh partial for good.
                            tokio::spawn(super::housekeeping::connect_learnt(
                                Arc::downgrade(self),
                                first,
                                name,
                                addr,
                            ));
                        }
                    }
                }
            }
            Frame::Load(report) => {
                self.loads.lock().insert(conn.peer, report.clamped());
            }
            Frame::Stop { to, reason } => {
                self.node.stop(to, reason);
            }
            Frame::FragmentAck { bytes } => conn.fragments_acked(bytes),
            Frame::Fragment { .. } => {
                // Reassembled by the reader; a fragment inside a fragment is refused there.
                self.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The route to other nodes that typed references are built on. It remembers the last
/// connection it used, so a stream of sends does no map lookup per message. A system route
/// (registry replication and other services of the distribution itself) is not subject to
/// the data limit: user data filling the buffer cannot refuse it. The flag says the last send
/// queued a large message (the sender then yields once: `yield_after_send`).
pub(crate) struct DistRoute(
    pub(crate) Arc<Inner>,
    Mutex<Option<Arc<Conn>>>,
    bool,
    AtomicBool,
);

impl DistRoute {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        DistRoute(inner, Mutex::new(None), false, AtomicBool::new(false))
    }

    pub(crate) fn system(inner: Arc<Inner>) -> Self {
        DistRoute(inner, Mutex::new(None), true, AtomicBool::new(false))
    }
}

impl RawRoute for DistRoute {
    fn send(&self, to: Pid, tag: u64, encode: EncodeFn<'_>) -> Result<(), RawSendError> {
        let mut cached = self.1.lock();
        let conn = match cached.as_ref() {
            Some(c) if c.peer == to.node && !c.is_closed() => c,
            _ => {
                let c = self
                    .0
                    .conn_for(to.node, true)
                    .ok_or(RawSendError::NoConnection)?;
                cached.insert(c)
            }
        };
        // Encoded under the route's own lock: no clone of the connection per send.
        self.0
            .send_encoded(conn, to, tag, encode, self.2)
            .map(|large| {
                if large {
                    self.3.store(true, Ordering::Relaxed);
                }
            })
            .map_err(|e| match e {
                SendFail::Full => RawSendError::Full,
                SendFail::NoConnection => RawSendError::NoConnection,
                SendFail::Encode(why) => RawSendError::Encode(why),
            })
    }

    /// After a large message the sender yields once: the writer, woken on the sender's
    /// worker thread, gets to run (a task streaming megabytes would otherwise hold the thread
    /// until the outbound buffer is full, and every call on the link would wait behind it).
    fn yield_after_send(&self) -> bool {
        self.3.swap(false, Ordering::Relaxed)
    }

    fn call_failure(&self, to: Pid) -> CallError {
        if let Some(ty) = self.0.take_refusal(to) {
            return CallError::UnknownType(ty);
        }
        if let Some(c) = self.0.conns.read().get(&to.node) {
            if c.is_up() {
                return CallError::NoReply;
            }
        }
        CallError::NodeDown(self.0.node_name(to.node))
    }

    fn stop(&self, to: Pid, reason: ExitReason) -> bool {
        match self.0.conn_for(to.node, true) {
            Some(c) => self
                .0
                .send_frame(&c, &Frame::Stop { to, reason }, true)
                .is_ok(),
            None => false,
        }
    }

    fn ready(
        &self,
        to: Pid,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if self.2 {
                return; // system traffic never waits for room
            }
            let Some(conn) = self.0.conn_for(to.node, true) else {
                return;
            };
            let notified = conn.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if conn.backlog() >= self.0.cfg.outbound_limit / 2 && !conn.is_closed() {
                notified.await;
            }
        })
    }
}
