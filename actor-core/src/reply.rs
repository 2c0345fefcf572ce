//! [`ReplyTo<R>`]: the serialisable reply handle a request carries.
//!
//! Locally a reply handle is a oneshot sender: replying moves the value to the caller with no
//! encoding. It is also serialisable, so a request can cross nodes and the far side can reply:
//! while the distribution layer encodes a message it installs a [`WireContext`] (see
//! [`with_wire_context`]), and the handle serialises as a [`Ref`] that the context maps back to
//! the waiting caller. A handle received from the network serialises to the same `Ref`, so it
//! still works when forwarded to a third node. Outside a wire context, serialising a handle is
//! an error, never a panic or a silent drop.

use crate::exit::ExitReason;
use crate::pid::Ref;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A waiting caller, as the distribution layer keeps it while a reply may arrive.
pub trait ReplyDelivery: Send + 'static {
    /// Delivers encoded reply bytes; `false` if the caller is gone or the bytes do not decode.
    fn deliver(self: Box<Self>, payload: &[u8]) -> bool;
    /// The far side dropped the handle without replying; with the exit reason of the actor
    /// that held it, when known (e.g. `noproc`). The caller fails at once.
    fn abandon(self: Box<Self>, reason: Option<ExitReason>);
    /// Whether the caller has given up (timed out or exited): the entry can be dropped.
    fn is_closed(&self) -> bool;
}

/// What travels back to a caller: the reply, or the exit reason of the actor that dropped the
/// request unanswered.
pub(crate) type Answer<R> = Result<R, ExitReason>;

struct LocalDelivery<R>(oneshot::Sender<Answer<R>>);

impl<R: DeserializeOwned + Send + 'static> ReplyDelivery for LocalDelivery<R> {
    fn deliver(self: Box<Self>, payload: &[u8]) -> bool {
        match postcard::from_bytes::<R>(payload) {
            Ok(v) => self.0.send(Ok(v)).is_ok(),
            Err(e) => {
                tracing::warn!(error = %e, "reply does not decode");
                false
            }
        }
    }
    fn abandon(self: Box<Self>, reason: Option<ExitReason>) {
        if let Some(r) = reason {
            let _ = self.0.send(Err(r));
        }
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

thread_local! {
    /// The reason given to [`with_drop_reason`] while its closure runs (null otherwise): a
    /// pointer, not a clone, so that every actor's exit (which drops its mailbox and state
    /// under its reason) pays no clone unless a reply handle is actually dropped.
    static DROP_REASON: std::cell::Cell<*const ExitReason> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

/// Runs `f` (which drops undeliverable messages) with `reason` as the reason their reply
/// handles report to remote callers.
pub fn with_drop_reason<T>(reason: &ExitReason, f: impl FnOnce() -> T) -> T {
    struct Restore(*const ExitReason);
    impl Drop for Restore {
        fn drop(&mut self) {
            DROP_REASON.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(DROP_REASON.with(|r| r.replace(reason as *const _)));
    f()
}

/// The reason set by the innermost [`with_drop_reason`] running on this thread.
fn drop_reason() -> Option<ExitReason> {
    let p = DROP_REASON.with(|r| r.get());
    // SAFETY: non-null only while `with_drop_reason` runs its closure on this thread, and
    // its `reason` reference outlives that call (the previous value is restored after it,
    // also when it unwinds).
    (!p.is_null()).then(|| unsafe { &*p }.clone())
}

/// Sends an encoded reply to the node that waits for it.
pub trait ReplySink: Send + Sync + 'static {
    /// Sends `payload` (the postcard encoding of the reply) to the caller behind `addr`.
    fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool;
    /// Tells the caller behind `addr` that its request was dropped unanswered.
    fn abandon(&self, addr: Ref, reason: Option<ExitReason>);
}

/// Installed by the distribution layer while it encodes or decodes a message.
pub trait WireContext: Send + Sync {
    /// Keeps `delivery` until a reply for the returned address arrives (or the call is given up).
    fn export_reply(&self, delivery: Box<dyn ReplyDelivery>) -> Ref;
    /// The sink that carries replies to the node that made `addr`.
    fn reply_sink(&self, addr: Ref) -> Arc<dyn ReplySink>;
    /// The local node, to resolve local pids of [`ActorRef`](crate::ActorRef)s in messages.
    fn node(&self) -> Option<crate::Node> {
        None
    }
    /// The route to other nodes, for remote pids of `ActorRef`s in messages.
    fn raw_route(&self) -> Option<Arc<dyn crate::RawRoute>> {
        None
    }
}

thread_local! {
    static WIRE: RefCell<Option<Arc<dyn WireContext>>> = const { RefCell::new(None) };
}

/// Runs `f` (an encode or decode) with `ctx` as the wire context for reply handles.
pub fn with_wire_context<T>(ctx: Arc<dyn WireContext>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<dyn WireContext>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            WIRE.with(|w| *w.borrow_mut() = prev);
        }
    }
    let prev = WIRE.with(|w| w.borrow_mut().replace(ctx));
    let _restore = Restore(prev);
    f()
}

pub(crate) fn current_context() -> Option<Arc<dyn WireContext>> {
    WIRE.with(|w| w.borrow().clone())
}

enum Inner<R: Send + 'static> {
    Local(Mutex<Option<oneshot::Sender<Answer<R>>>>),
    Remote {
        addr: Ref,
        sink: Arc<dyn ReplySink>,
        encode: fn(&R) -> Result<Vec<u8>, postcard::Error>,
        /// Set once the handle has been encoded onward: the receiver of that copy answers,
        /// so dropping this one must not tell the caller anything.
        forwarded: AtomicBool,
    },
}

/// The handle a request carries so that its receiver can reply, once.
///
/// Dropping it without replying makes the caller's [`call`](crate::ActorRef::call) fail at once
/// (with the target's exit reason if it died, [`CallError::NoReply`](crate::CallError::NoReply)
/// otherwise) instead of waiting for the timeout.
pub struct ReplyTo<R: Send + 'static> {
    /// `None` once used.
    inner: Option<Inner<R>>,
}

/// What must happen for a reply handle dropped unanswered: told, with the holder's exit
/// reason if it is ending.
pub(crate) type Deferred = Box<dyn FnOnce(Option<ExitReason>) + Send>;

/// An actor's reply handles dropped unanswered during the current handler. The flag lets the
/// actor loop check for work with one relaxed load per message.
#[derive(Default)]
pub(crate) struct DeferredList {
    any: AtomicBool,
    list: Mutex<Vec<Deferred>>,
}

impl DeferredList {
    fn push(&self, n: Deferred) {
        self.list.lock().push(n);
        self.any.store(true, Ordering::Release);
    }

    /// Whether anything was deferred since the last [`take`](Self::take).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// Takes what was deferred.
    pub(crate) fn take(&self) -> Vec<Deferred> {
        self.any.store(false, Ordering::Relaxed);
        std::mem::take(&mut *self.list.lock())
    }
}

thread_local! {
    /// Points at the running actor's list while its task is being polled (null otherwise):
    /// unanswered handles dropped then wait until the handler's outcome is known. Set and
    /// restored around each poll by `actor::deferring`, the only writer.
    pub(crate) static DEFERRED: std::cell::Cell<*const DeferredList> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

impl<R: Send + 'static> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        let notify: Deferred = match self.inner.take() {
            None => return,
            Some(Inner::Local(tx)) => match tx.into_inner() {
                Some(tx) => Box::new(move |reason: Option<ExitReason>| {
                    if let Some(r) = reason {
                        let _ = tx.send(Err(r));
                    }
                }),
                None => return,
            },
            Some(Inner::Remote {
                addr,
                sink,
                forwarded,
                ..
            }) => {
                if forwarded.into_inner() {
                    return;
                }
                Box::new(move |reason: Option<ExitReason>| sink.abandon(addr, reason))
            }
        };
        let list = DEFERRED.with(|d| d.get());
        if !list.is_null() {
            // SAFETY: non-null only while `actor::deferring` polls the actor task that owns
            // the list, which outlives that poll; the list is reached only through shared
            // references.
            unsafe { &*list }.push(notify);
            return;
        }
        notify(drop_reason());
    }
}

impl<R: Send + 'static> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(Inner::Remote { addr, .. }) => write!(f, "ReplyTo({addr})"),
            _ => f.write_str("ReplyTo(local)"),
        }
    }
}

impl<R: Send + 'static> ReplyTo<R> {
    pub(crate) fn local(tx: oneshot::Sender<Answer<R>>) -> Self {
        ReplyTo {
            inner: Some(Inner::Local(Mutex::new(Some(tx)))),
        }
    }

    /// A new handle and the receiver its answer arrives on (for code that builds requests by
    /// hand, e.g. a caller that is not an actor): the reply, or the exit reason of a remote
    /// actor that dropped the request unanswered.
    pub fn pair() -> (ReplyTo<R>, oneshot::Receiver<Result<R, ExitReason>>) {
        let (tx, rx) = oneshot::channel();
        (ReplyTo::local(tx), rx)
    }

    /// Sends the reply. `false` if the caller has gone (timed out, exited, or its node is
    /// unreachable); the value is then dropped.
    pub fn send(mut self, value: R) -> bool {
        match self.inner.take() {
            None => false,
            Some(Inner::Local(tx)) => match tx.into_inner() {
                Some(tx) => tx.send(Ok(value)).is_ok(),
                None => false,
            },
            Some(Inner::Remote {
                addr, sink, encode, ..
            }) => match encode(&value) {
                Ok(bytes) => sink.send_reply(addr, bytes),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "reply does not encode");
                    false
                }
            },
        }
    }

    /// Refuses the request without a reply: the caller's call fails at once with
    /// [`CallError::Exit(reason)`](crate::CallError::Exit), although the receiver lives on.
    /// For layers that answer a typed refusal through a reply type they do not own (e.g. an
    /// entity host refusing a write on the minority side of a partition); `false` if the
    /// caller has gone.
    pub fn abandon(mut self, reason: ExitReason) -> bool {
        match self.inner.take() {
            None => false,
            Some(Inner::Local(tx)) => match tx.into_inner() {
                Some(tx) => tx.send(Err(reason)).is_ok(),
                None => false,
            },
            Some(Inner::Remote {
                addr,
                sink,
                forwarded,
                ..
            }) => {
                if forwarded.into_inner() {
                    return false;
                }
                sink.abandon(addr, Some(reason));
                true
            }
        }
    }

    /// Whether the caller has given up waiting (local handles only; remote ones report `false`).
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Some(Inner::Local(tx)) => tx.lock().as_ref().is_none_or(|t| t.is_closed()),
            Some(Inner::Remote { .. }) => false,
            None => true,
        }
    }
}

impl<R> Serialize for ReplyTo<R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        match &self.inner {
            None => Err(S::Error::custom("reply handle already used")),
            Some(Inner::Remote {
                addr, forwarded, ..
            }) => {
                forwarded.store(true, Ordering::Release);
                addr.serialize(serializer)
            }
            Some(Inner::Local(tx)) => {
                let ctx = current_context().ok_or_else(|| {
                    S::Error::custom("a reply handle can only be encoded by a node's distribution")
                })?;
                let tx = tx
                    .lock()
                    .take()
                    .ok_or_else(|| S::Error::custom("reply handle already encoded"))?;
                let addr = ctx.export_reply(Box::new(LocalDelivery(tx)));
                addr.serialize(serializer)
            }
        }
    }
}

impl<'de, R> Deserialize<'de> for ReplyTo<R>
where
    R: Serialize + DeserializeOwned + Send + 'static,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let addr = Ref::deserialize(deserializer)?;
        let ctx = current_context().ok_or_else(|| {
            D::Error::custom("a reply handle can only be decoded by a node's distribution")
        })?;
        Ok(ReplyTo {
            inner: Some(Inner::Remote {
                addr,
                sink: ctx.reply_sink(addr),
                encode: postcard::to_allocvec::<R>,
                forwarded: AtomicBool::new(false),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::NodeId;
    use std::collections::HashMap;

    /// A loopback "wire": exported deliveries are kept in a map, and the sink feeds replies
    /// straight back into it, as a distribution layer would across the network.
    #[derive(Default)]
    struct Loopback {
        pending: Mutex<HashMap<u64, Box<dyn ReplyDelivery>>>,
        next: Mutex<u64>,
        sent_remote: Mutex<Vec<Ref>>,
    }
    struct Sink(Arc<Loopback>);
    impl ReplySink for Sink {
        fn abandon(&self, addr: Ref, reason: Option<ExitReason>) {
            if let Some(d) = self.0.pending.lock().remove(&addr.id) {
                d.abandon(reason);
            }
        }
        fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool {
            self.0.sent_remote.lock().push(addr);
            match self.0.pending.lock().remove(&addr.id) {
                Some(d) => d.deliver(&payload),
                None => false,
            }
        }
    }
    struct Ctx(Arc<Loopback>);
    impl WireContext for Ctx {
        fn export_reply(&self, delivery: Box<dyn ReplyDelivery>) -> Ref {
            let mut n = self.0.next.lock();
            *n += 1;
            self.0.pending.lock().insert(*n, delivery);
            Ref {
                node: NodeId(7),
                id: *n,
                creation: 1,
            }
        }
        fn reply_sink(&self, _addr: Ref) -> Arc<dyn ReplySink> {
            Arc::new(Sink(self.0.clone()))
        }
    }

    #[test]
    fn reply_handle_round_trips_through_bytes_and_forwards() {
        let wire = Arc::new(Loopback::default());
        let ctx: Arc<dyn WireContext> = Arc::new(Ctx(wire.clone()));
        let (handle, mut rx) = ReplyTo::<String>::pair();
        let bytes = with_wire_context(ctx.clone(), || postcard::to_allocvec(&handle)).unwrap();
        drop(handle);
        // The far side decodes it, forwards it once more (re-encode keeps the address).
        let far: ReplyTo<String> =
            with_wire_context(ctx.clone(), || postcard::from_bytes(&bytes)).unwrap();
        let again = with_wire_context(ctx.clone(), || postcard::to_allocvec(&far)).unwrap();
        assert_eq!(again, bytes);
        // The far side keeps a forwarded copy and drops it: the caller must not hear of it.
        let forwarded: ReplyTo<String> =
            with_wire_context(ctx.clone(), || postcard::from_bytes(&again)).unwrap();
        drop(far);
        let far = forwarded;
        assert!(far.send("pong".to_string()));
        assert_eq!(rx.try_recv().unwrap(), Ok("pong".to_string()));
        assert_eq!(wire.sent_remote.lock().len(), 1);
    }

    #[test]
    fn a_remote_handle_dropped_unanswered_reports_the_drop_reason() {
        let wire = Arc::new(Loopback::default());
        let ctx: Arc<dyn WireContext> = Arc::new(Ctx(wire.clone()));
        let (handle, mut rx) = ReplyTo::<u8>::pair();
        let bytes = with_wire_context(ctx.clone(), || postcard::to_allocvec(&handle)).unwrap();
        let far: ReplyTo<u8> = with_wire_context(ctx, || postcard::from_bytes(&bytes)).unwrap();
        with_drop_reason(&ExitReason::NoProc, || drop(far));
        assert_eq!(rx.try_recv().unwrap(), Err(ExitReason::NoProc));
    }

    #[test]
    fn an_abandoned_handle_tells_the_caller_why_locally_and_remotely() {
        let why = ExitReason::shutdown_with(crate::Term::atom("not_quorate"));
        let (handle, mut rx) = ReplyTo::<u8>::pair();
        assert!(handle.abandon(why.clone()));
        assert_eq!(rx.try_recv().unwrap(), Err(why.clone()));

        let wire = Arc::new(Loopback::default());
        let ctx: Arc<dyn WireContext> = Arc::new(Ctx(wire.clone()));
        let (handle, mut rx) = ReplyTo::<u8>::pair();
        let bytes = with_wire_context(ctx.clone(), || postcard::to_allocvec(&handle)).unwrap();
        let far: ReplyTo<u8> = with_wire_context(ctx, || postcard::from_bytes(&bytes)).unwrap();
        assert!(far.abandon(why.clone()));
        assert_eq!(rx.try_recv().unwrap(), Err(why));
    }

    #[test]
    fn encoding_without_context_is_an_error() {
        let (handle, _rx) = ReplyTo::<u8>::pair();
        assert!(postcard::to_allocvec(&handle).is_err());
        assert!(postcard::from_bytes::<ReplyTo<u8>>(&[0, 0, 0, 0]).is_err());
    }

    #[test]
    fn reply_to_a_gone_caller_is_dropped() {
        let (handle, rx) = ReplyTo::<Vec<u8>>::pair();
        drop(rx);
        assert!(handle.is_closed());
        assert!(!handle.send(vec![1, 2, 3]));
    }
}
