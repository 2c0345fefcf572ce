//! Untyped routes to other nodes, and the typed adapter over them.
//!
//! The distribution layer provides one [`RawRoute`] (queue these bytes, tagged with this
//! type, for this pid); [`EncodedRoute<M>`] turns it into the typed [`RemoteRoute<M>`] an
//! [`ActorRef<M>`] needs, by encoding `M` with postcard. This is also how an `ActorRef<M>`
//! received inside a message gets its route back.

use crate::actor_ref::{ActorRef, RemoteRoute};
use crate::error::{CallError, SendError};
use crate::exit::ExitReason;
use crate::message::Message;
use crate::pid::Pid;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// Why a [`RawRoute`] could not queue a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSendError {
    /// The outbound buffer is full; wait with [`RawRoute::ready`].
    Full,
    /// The node cannot be reached.
    NoConnection,
    /// The payload does not encode (e.g. too large).
    Encode(String),
}

/// Appends the postcard encoding of a message to the buffer.
pub type EncodeFn<'a> = &'a mut dyn FnMut(&mut Vec<u8>) -> Result<(), String>;

/// An untyped route to processes on other nodes, implemented by the distribution layer.
pub trait RawRoute: Send + Sync + 'static {
    /// Queues a message of type `tag` for `to`; `encode` writes the payload (called with the
    /// wire context for reply handles installed).
    fn send(&self, to: Pid, tag: u64, encode: EncodeFn<'_>) -> Result<(), RawSendError>;
    /// Why a call to `to` got no reply (see [`RemoteRoute::call_failure`]).
    fn call_failure(&self, to: Pid) -> CallError;
    /// Asks `to` to stop after its queued messages.
    fn stop(&self, to: Pid, reason: ExitReason) -> bool;
    /// Resolves when `send` to `to` may succeed again after `Full`.
    fn ready(&self, to: Pid) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Whether the sender should yield to the runtime after the last successful `send` (see
    /// [`RemoteRoute::yield_after_send`]). Default: never.
    fn yield_after_send(&self) -> bool {
        false
    }
}

/// A typed route over a [`RawRoute`]: encodes `M` with postcard.
pub struct EncodedRoute<M> {
    raw: Arc<dyn RawRoute>,
    pid: Pid,
    _m: PhantomData<fn(M)>,
}

impl<M: Message> EncodedRoute<M> {
    /// A typed reference to `pid` through `raw`.
    pub fn actor_ref(pid: Pid, raw: Arc<dyn RawRoute>) -> ActorRef<M> {
        ActorRef::remote(
            pid,
            Arc::new(EncodedRoute {
                raw,
                pid,
                _m: PhantomData,
            }),
        )
    }
}

impl<M: Message> RemoteRoute<M> for EncodedRoute<M> {
    fn send(&self, msg: M) -> Result<(), SendError<M>> {
        let mut encode = |buf: &mut Vec<u8>| {
            let out = postcard::to_extend(&msg, std::mem::take(buf)).map_err(|e| e.to_string())?;
            *buf = out;
            Ok(())
        };
        let res = self.raw.send(self.pid, M::tag(), &mut encode);
        match res {
            Ok(()) => Ok(()),
            Err(RawSendError::Full) => Err(SendError::Full(msg)),
            Err(RawSendError::NoConnection) => Err(SendError::NoConnection(msg)),
            Err(RawSendError::Encode(why)) => Err(SendError::Encode(msg, why)),
        }
    }

    fn call_failure(&self) -> CallError {
        self.raw.call_failure(self.pid)
    }

    fn stop(&self, reason: ExitReason) -> bool {
        self.raw.stop(self.pid, reason)
    }

    fn ready(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.raw.ready(self.pid)
    }

    fn yield_after_send(&self) -> bool {
        self.raw.yield_after_send()
    }
}

/// The route of a reference to a process known to be dead: every send is `noproc`.
pub(crate) struct DeadRoute;

impl<M: Send + 'static> RemoteRoute<M> for DeadRoute {
    fn send(&self, msg: M) -> Result<(), SendError<M>> {
        Err(SendError::NoProc(msg))
    }
    fn call_failure(&self) -> CallError {
        CallError::Exit(ExitReason::NoProc)
    }
    fn stop(&self, _: ExitReason) -> bool {
        false
    }
}
