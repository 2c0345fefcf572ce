//! Message types that cross nodes, and how a node decodes them.

use actor_core::{
    with_drop_reason, with_wire_context, ExitReason, Node, Pid, RefError, SendError, WireContext,
};
use std::marker::PhantomData;
use std::sync::Arc;

pub use actor_core::Message;

/// Why an incoming message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// No type is registered under the payload's tag.
    #[error("unknown message type tag {0:#x}")]
    UnknownTag(u64),
    /// The payload does not decode as the registered type.
    #[error("payload of {ty} does not decode: {err}")]
    Decode {
        /// The type.
        ty: &'static str,
        /// The decoder's error.
        err: String,
    },
    /// The target is not a live actor taking this type.
    #[error(transparent)]
    Target(#[from] RefError),
    /// The target's bounded mailbox is full.
    #[error("mailbox of {0} is full")]
    Full(Pid),
}

/// Decodes payloads of one type and delivers them to local actors.
pub(crate) trait Decoder: Send + Sync {
    fn deliver(
        &self,
        node: &Node,
        ctx: Arc<dyn WireContext>,
        to: Pid,
        payload: &[u8],
    ) -> Result<(), DeliverError>;
    fn name(&self) -> &'static str;
}

pub(crate) struct Typed<M>(PhantomData<fn() -> M>);

impl<M> Typed<M> {
    pub(crate) fn new() -> Self {
        Typed(PhantomData)
    }
}

impl<M: Message> Decoder for Typed<M> {
    fn deliver(
        &self,
        node: &Node,
        ctx: Arc<dyn WireContext>,
        to: Pid,
        payload: &[u8],
    ) -> Result<(), DeliverError> {
        // Decode first: if the target is gone, the reply handles inside the message must
        // still tell their callers (with `noproc`) instead of leaving them to time out.
        let msg: M = with_wire_context(ctx, || postcard::from_bytes(payload)).map_err(|e| {
            DeliverError::Decode {
                ty: M::NAME,
                err: e.to_string(),
            }
        })?;
        let target = match node.actor_ref::<M>(to) {
            Ok(t) => t,
            Err(e) => {
                let reason = match &e {
                    RefError::WrongType { actual, .. } => {
                        ExitReason::Error(format!("{to} takes {actual}, not {}", M::NAME))
                    }
                    _ => ExitReason::NoProc,
                };
                with_drop_reason(&reason, || drop(msg));
                return Err(e.into());
            }
        };
        match target.tell(msg) {
            Ok(()) => Ok(()),
            Err(SendError::Full(m)) => {
                with_drop_reason(&ExitReason::error("mailbox full"), || drop(m));
                Err(DeliverError::Full(to))
            }
            Err(e) => {
                with_drop_reason(&ExitReason::NoProc, || drop(e));
                Err(DeliverError::Target(RefError::NoProc(to)))
            }
        }
    }

    fn name(&self) -> &'static str {
        M::NAME
    }
}
