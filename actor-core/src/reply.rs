//! [`ReplyTo<R>`]: the serialisable reply handle a request carries.
//!
//! Locally a reply handle is a oneshot sender: replying moves the value to the caller with no
//! encoding. It is also serialisable, so a request can cross nodes and the far side can reply:
//! while the distribution layer encodes a message it installs a [`WireContext`] (see
//! [`with_wire_context`]), and the handle serialises as a [`Ref`] that the context maps back to
//! the waiting caller. A handle received from the network serialises to the same `Ref`, so it
//! still works when forwarded to a third node. Outside a wire context, serialising a handle is
//! an error, never a panic or a silent drop.

use crate::pid::Ref;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Delivers encoded reply bytes to a waiting caller; returns `false` if the caller is gone or
/// the bytes do not decode.
pub type ReplyDelivery = Box<dyn FnOnce(&[u8]) -> bool + Send>;

/// Sends an encoded reply to the node that waits for it.
pub trait ReplySink: Send + Sync + 'static {
    /// Sends `payload` (the postcard encoding of the reply) to the caller behind `addr`.
    fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool;
}

/// Installed by the distribution layer while it encodes or decodes a message.
pub trait WireContext: Send + Sync {
    /// Keeps `delivery` until a reply for the returned address arrives (or the call is given up).
    fn export_reply(&self, delivery: ReplyDelivery) -> Ref;
    /// The sink that carries replies to the node that made `addr`.
    fn reply_sink(&self, addr: Ref) -> Arc<dyn ReplySink>;
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

fn current_context() -> Option<Arc<dyn WireContext>> {
    WIRE.with(|w| w.borrow().clone())
}

enum Inner<R> {
    Local(Mutex<Option<oneshot::Sender<R>>>),
    Remote {
        addr: Ref,
        sink: Arc<dyn ReplySink>,
        encode: fn(&R) -> Result<Vec<u8>, postcard::Error>,
    },
}

/// The handle a request carries so that its receiver can reply, once.
///
/// Dropping it without replying makes the caller's [`call`](crate::ActorRef::call) fail at once
/// (with the target's exit reason if it died, [`CallError::NoReply`](crate::CallError::NoReply)
/// otherwise) instead of waiting for the timeout.
pub struct ReplyTo<R> {
    inner: Inner<R>,
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(_) => f.write_str("ReplyTo(local)"),
            Inner::Remote { addr, .. } => write!(f, "ReplyTo({addr})"),
        }
    }
}

impl<R: Send + 'static> ReplyTo<R> {
    pub(crate) fn local(tx: oneshot::Sender<R>) -> Self {
        ReplyTo {
            inner: Inner::Local(Mutex::new(Some(tx))),
        }
    }

    /// A new handle and the receiver its reply arrives on (for code that builds requests by
    /// hand, e.g. a caller that is not an actor).
    pub fn pair() -> (ReplyTo<R>, oneshot::Receiver<R>) {
        let (tx, rx) = oneshot::channel();
        (ReplyTo::local(tx), rx)
    }

    /// Sends the reply. `false` if the caller has gone (timed out, exited, or its node is
    /// unreachable); the value is then dropped.
    pub fn send(self, value: R) -> bool {
        match self.inner {
            Inner::Local(tx) => match tx.into_inner() {
                Some(tx) => tx.send(value).is_ok(),
                None => false,
            },
            Inner::Remote { addr, sink, encode } => match encode(&value) {
                Ok(bytes) => sink.send_reply(addr, bytes),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "reply does not encode");
                    false
                }
            },
        }
    }

    /// Whether the caller has given up waiting (local handles only; remote ones report `false`).
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::Local(tx) => tx.lock().as_ref().is_none_or(|t| t.is_closed()),
            Inner::Remote { .. } => false,
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
            Inner::Remote { addr, .. } => addr.serialize(serializer),
            Inner::Local(tx) => {
                let ctx = current_context().ok_or_else(|| {
                    S::Error::custom("a reply handle can only be encoded by a node's distribution")
                })?;
                let tx = tx
                    .lock()
                    .take()
                    .ok_or_else(|| S::Error::custom("reply handle already encoded"))?;
                let addr =
                    ctx.export_reply(Box::new(move |bytes: &[u8]| {
                        match postcard::from_bytes::<R>(bytes) {
                            Ok(v) => tx.send(v).is_ok(),
                            Err(_) => false,
                        }
                    }));
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
            inner: Inner::Remote {
                addr,
                sink: ctx.reply_sink(addr),
                encode: postcard::to_allocvec::<R>,
            },
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
        pending: Mutex<HashMap<u64, ReplyDelivery>>,
        next: Mutex<u64>,
        sent_remote: Mutex<Vec<Ref>>,
    }
    struct Sink(Arc<Loopback>);
    impl ReplySink for Sink {
        fn send_reply(&self, addr: Ref, payload: Vec<u8>) -> bool {
            self.0.sent_remote.lock().push(addr);
            match self.0.pending.lock().remove(&addr.id) {
                Some(d) => d(&payload),
                None => false,
            }
        }
    }
    struct Ctx(Arc<Loopback>);
    impl WireContext for Ctx {
        fn export_reply(&self, delivery: ReplyDelivery) -> Ref {
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
        assert!(far.send("pong".to_string()));
        assert_eq!(rx.try_recv().unwrap(), "pong");
        assert_eq!(wire.sent_remote.lock().len(), 1);
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
