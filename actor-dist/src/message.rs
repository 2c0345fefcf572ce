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
    /// The node the message is relayed from is not connected
    /// ([`Dist::deliver_from`](crate::Dist::deliver_from)).
    #[error("node {0:?} is not connected")]
    NotConnected(actor_core::NodeId),
    /// The target's bounded mailbox is full.
    #[error("mailbox of {0} is full")]
    Full(Pid),
}

/// The last target a connection's reader delivered to, kept so that a stream of messages to
/// one actor needs no table lookup per message.
pub(crate) type TargetCache = Option<(Pid, Box<dyn std::any::Any + Send>)>;

/// Decodes payloads of one type and delivers them to local actors.
pub(crate) trait Decoder: Send + Sync {
    fn deliver(
        &self,
        node: &Node,
        ctx: Arc<dyn WireContext>,
        to: Pid,
        payload: &[u8],
        cache: &mut TargetCache,
        trace: Option<(tracing::Span, actor_core::TraceContext)>,
    ) -> Result<(), DeliverError>;
    fn name(&self) -> &'static str;
    /// Whether local `pid` is alive and takes this type.
    fn check(&self, node: &Node, pid: Pid) -> Result<(), RefError>;
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
        cache: &mut TargetCache,
        trace: Option<(tracing::Span, actor_core::TraceContext)>,
    ) -> Result<(), DeliverError> {
        // Decode first: if the target is gone, the reply handles inside the message must
        // still tell their callers (with `noproc`) instead of leaving them to time out.
        let msg: M = with_wire_context(ctx, || postcard::from_bytes(payload)).map_err(|e| {
            DeliverError::Decode {
                ty: M::NAME,
                err: e.to_string(),
            }
        })?;
        // Fast path: the same target as the previous message on this connection.
        if let Some((pid, r)) = cache.as_ref() {
            if *pid == to {
                if let Some(t) = r.downcast_ref::<actor_core::ActorRef<M>>() {
                    return match tell(t, msg, trace) {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            *cache = None;
                            refused(to, e)
                        }
                    };
                }
            }
        }
        let target = match node.actor_ref::<M>(to) {
            Ok(t) => {
                *cache = Some((to, Box::new(t.clone())));
                t
            }
            Err(e) => {
                let reason = match &e {
                    RefError::WrongType { actual, .. } => {
                        ExitReason::error(format!("{to} takes {actual}, not {}", M::NAME))
                    }
                    _ => ExitReason::NoProc,
                };
                with_drop_reason(&reason, || drop(msg));
                return Err(e.into());
            }
        };
        match tell(&target, msg, trace) {
            Ok(()) => Ok(()),
            Err(e) => {
                *cache = None;
                refused(to, e)
            }
        }
    }

    fn name(&self) -> &'static str {
        M::NAME
    }

    fn check(&self, node: &Node, pid: Pid) -> Result<(), RefError> {
        node.actor_ref::<M>(pid).map(|_| ())
    }
}

/// Hands `msg` to a local actor, inside the trace's span if it came with one.
#[inline]
fn tell<M: Message>(
    t: &actor_core::ActorRef<M>,
    msg: M,
    trace: Option<(tracing::Span, actor_core::TraceContext)>,
) -> Result<(), SendError<M>> {
    match trace {
        None => t.tell(msg),
        Some((span, ctx)) => t.tell_traced(msg, span, ctx),
    }
}

/// A local send refused: the reply handles in the message learn why.
fn refused<M>(to: Pid, e: SendError<M>) -> Result<(), DeliverError> {
    match e {
        SendError::Full(m) => {
            with_drop_reason(&ExitReason::error("mailbox full"), || drop(m));
            Err(DeliverError::Full(to))
        }
        other => {
            with_drop_reason(&ExitReason::NoProc, || drop(other));
            Err(DeliverError::Target(RefError::NoProc(to)))
        }
    }
}
