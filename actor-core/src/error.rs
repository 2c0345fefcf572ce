//! Error types of the public API. Nothing a user can do at run time panics; it returns one of
//! these.

use crate::exit::ExitReason;
use crate::pid::{NodeId, Pid};
use std::fmt;

/// A message could not be delivered; the message is handed back.
pub enum SendError<M> {
    /// The target is not alive (never was, or has exited).
    NoProc(M),
    /// The target's bounded mailbox is full (only from [`ActorRef::tell`](crate::ActorRef::tell)).
    Full(M),
    /// The target is on another node that cannot be reached.
    NoConnection(M),
    /// The message cannot be encoded for the network (e.g. larger than the maximum frame).
    Encode(M, String),
}

impl<M> SendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            SendError::NoProc(m)
            | SendError::Full(m)
            | SendError::NoConnection(m)
            | SendError::Encode(m, _) => m,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoProc(_) => f.write_str("send failed: noproc"),
            SendError::Full(_) => f.write_str("send failed: mailbox full"),
            SendError::NoConnection(_) => f.write_str("send failed: noconnection"),
            SendError::Encode(_, why) => write!(f, "send failed: message does not encode: {why}"),
        }
    }
}

impl<M> std::error::Error for SendError<M> {}

/// A [`call`](crate::ActorRef::call) did not produce a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CallError {
    /// The target exited before replying, or was not alive (`noproc`), or its node went down
    /// (`noconnection`). As in OTP's `gen_server:call`, the target's exit reason.
    #[error("call failed: target exited ({0})")]
    Exit(ExitReason),
    /// No reply within the timeout. A reply arriving later is dropped.
    #[error("call timed out")]
    Timeout,
    /// The target dropped the reply handle without replying, and is still alive.
    #[error("call failed: the target dropped the reply handle")]
    NoReply,
    /// The target's bounded mailbox is full.
    #[error("call failed: mailbox full")]
    Full,
    /// The request cannot be encoded for the network.
    #[error("call failed: request does not encode: {0}")]
    Encode(String),
    /// The target's node does not know the request's message type (or knows another version
    /// of it) and refused it; the type's name. Reported by the distribution layer.
    #[error("call failed: the target's node does not know message type {0}")]
    UnknownType(String),
    /// The target's node went down, or could not be reached, before the reply (OTP's
    /// `{nodedown, Node}`): the node's name. Distinct from the target exiting. Reported by
    /// the distribution layer.
    #[error("call failed: node {0} is down")]
    NodeDown(String),
}

impl CallError {
    /// `true` if the call failed because the target does not exist.
    pub fn is_noproc(&self) -> bool {
        matches!(self, CallError::Exit(ExitReason::NoProc))
    }
}

/// An actor could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SpawnError {
    /// `started` returned an error, panicked, or the actor was killed while starting.
    #[error("actor failed to start: {0}")]
    Init(ExitReason),
    /// The process to link to is not alive.
    #[error("spawn_link failed: link target {0} is not alive")]
    LinkNoProc(Pid),
    /// The node's runtime is shutting down.
    #[error("the node is shutting down")]
    NodeDown,
    /// A supervisor's child failed to start, so the supervisor did not start (OTP
    /// `{shutdown, {failed_to_start_child, Id, Reason}}`); the children already started were
    /// stopped in reverse order.
    #[error("failed to start child {id:?}: {reason}")]
    FailedToStartChild {
        /// The child's id.
        id: String,
        /// Why it failed (for a child supervisor, possibly its own `FailedToStartChild`).
        reason: Box<SpawnError>,
    },
    /// A supervisor's spec is refused; nothing was started.
    #[error("invalid supervisor spec: {0}")]
    InvalidSpec(crate::supervisor::SpecError),
}

/// A [`Pid`] could not be turned into a typed [`ActorRef`](crate::ActorRef).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// No such live process.
    #[error("noproc: {0} is not alive")]
    NoProc(Pid),
    /// The process exists but takes another message type.
    #[error("{pid} takes messages of type {actual}, not {expected}")]
    WrongType {
        /// The process.
        pid: Pid,
        /// The type asked for.
        expected: &'static str,
        /// The type the actor takes.
        actual: &'static str,
    },
    /// The pid is on another node and no distribution is installed (or it cannot make a typed
    /// route for this message type).
    #[error("{0} is on node {1}, which is not reachable from here")]
    Remote(Pid, NodeId),
}

/// A link or monitor could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The other process is not alive.
    #[error("noproc: {0} is not alive")]
    NoProc(Pid),
    /// The other process is on a node that cannot be reached.
    #[error("noconnection: {0} cannot be reached")]
    NoConnection(Pid),
}
