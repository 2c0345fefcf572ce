//! Traces across nodes: the W3C trace context of the sending span travels in the frame of a
//! remote `tell`/`send`/`call`, and the receiving node handles the message inside a span
//! whose parent is the remote one.
//!
//! # What happens
//!
//! - **Sending.** A message to a remote pid sent while a `tracing` span is current goes as
//!   [`Frame::Traced`](crate::wire::Frame::Traced), with the context the node's
//!   [`TracePropagator`] reads from that span ([`TracePropagator::inject`]). With no span
//!   current, or no subscriber installed at all, nothing changes: the frame is a plain
//!   `Send`/`SendCall`, byte for byte as without tracing, and the check costs one load of
//!   `tracing`'s "a dispatcher exists" flag (no subscriber) or one `Span::current()` (a
//!   subscriber, no span). Only peers that announced
//!   [`capability::TRACE_CONTEXT`](crate::wire::capability::TRACE_CONTEXT) in the handshake
//!   get traced frames; others get the plain frame (mixed-release clusters keep working).
//! - **Receiving.** The context is checked (W3C: neither id may be all zeros); a malformed
//!   one is counted in [`Stats::bad_trace_contexts`](crate::Stats), logged (rate-limited)
//!   and the message is delivered without it. A valid one becomes a span
//!   ([`TracePropagator::extract`]) that the actor's handler runs in, and
//!   [`actor_core::trace::current_remote`] while the handler runs: the handler's own remote
//!   sends continue the same trace (A → B → C keeps one trace id).
//! - **Rpc.** A remote function call ([`Dist::call`](crate::Dist::call), `cast`,
//!   `multicall`, `async_call`) works the same way: made inside a span, it goes as
//!   [`Frame::TracedRpc`](crate::wire::Frame::TracedRpc), and the function runs in the span
//!   of [`TracePropagator::extract_rpc`] (`remote_rpc`), with the context as
//!   `current_remote`. `async_call` spawns a task: it carries the caller's span into it.
//!
//! # Where the ids come from
//!
//! - **Without the `otel` feature** ([`SpanIds`], the default): `tracing` spans have no W3C
//!   ids of their own, so they are derived from the span. The span id is the current span's
//!   `tracing` id (8 bytes, unique among the subscriber's live spans). The trace id is the
//!   one the handler's message came with, if the send happens inside a traced handler;
//!   otherwise a new trace rooted at the current span: 8 random bytes of this node (drawn
//!   once, from the node's seedable source) followed by that span id. So every send inside
//!   one span shares a trace id, a send in another span starts another trace, and logs on
//!   both sides show the ids as fields: the sender logs `trace_id` and `span_id` in a
//!   `debug` event (target `actor_dist::trace`) inside its span; the receiver's handler span
//!   (`remote_message`, level `info`) carries `trace_id`, `parent_span_id`, `peer` and `to`.
//!   Limits: a `tracing` id may be reused once its span has closed (two requests far apart in
//!   time may then share a trace id), and a task spawned by a handler without the span
//!   loses the inherited trace. Use the `otel` feature for real trace trees.
//! - **With the `otel` feature** ([`Otel`], then the default): ids are OpenTelemetry's,
//!   read with `tracing-opentelemetry`'s `OpenTelemetrySpanExt::context()` and restored with
//!   `set_parent` on the receiving span; the `OpenTelemetryLayer` exports the spans. A span
//!   that the OpenTelemetry layer does not know (no valid context) sends no context.
//!
//! A node may install its own propagator ([`Dist::set_trace_propagator`](crate::Dist)), or
//! none (then no context is sent, and received contexts are ignored).

use actor_core::{Pid, TraceContext};

/// Reads the current span's trace context for an outgoing message, and makes the span an
/// incoming message is handled in. Installed per node
/// ([`Dist::set_trace_propagator`](crate::Dist::set_trace_propagator)).
pub trait TracePropagator: Send + Sync + 'static {
    /// The context of the current span, to send with a message to another node; `None`
    /// sends none. Called only when a span is current (`Span::current()` is not disabled).
    fn inject(&self) -> Option<TraceContext>;

    /// The span in which the handler of a message that came with `ctx` runs: a span whose
    /// parent is the remote span. `peer` is the sending node, `to` the local recipient.
    fn extract(&self, ctx: &TraceContext, peer: &str, to: Pid) -> tracing::Span;

    /// The span in which the function of a remote call (an [`rpc`](crate::rpc)) that came
    /// with `ctx` runs. The default is a `remote_rpc` span (level `info`) with fields
    /// `trace_id`, `parent_span_id`, `peer` and `func`; a propagator that links spans to
    /// their remote parent (as [`extract`](Self::extract) does) should do so here too.
    fn extract_rpc(&self, ctx: &TraceContext, peer: &str, func: &str) -> tracing::Span {
        rpc_span(ctx, peer, func)
    }
}

fn rpc_span(ctx: &TraceContext, peer: &str, func: &str) -> tracing::Span {
    tracing::info_span!(
        "remote_rpc",
        trace_id = %ctx.trace_id_hex(),
        parent_span_id = %ctx.span_id_hex(),
        peer = %peer,
        func = %func,
    )
}

/// The propagator without OpenTelemetry: ids derived from `tracing` spans (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct SpanIds {
    salt: [u8; 8],
}

impl SpanIds {
    /// A propagator whose new traces start with `salt` (8 random bytes of this node; a zero
    /// salt is replaced by one, as an all-zero trace id is invalid).
    pub fn new(salt: [u8; 8]) -> Self {
        let salt = if salt == [0; 8] { [1; 8] } else { salt };
        SpanIds { salt }
    }
}

impl TracePropagator for SpanIds {
    fn inject(&self) -> Option<TraceContext> {
        let id = tracing::Span::current().id()?;
        let span_id = id.into_u64().to_be_bytes();
        let ctx = match actor_core::trace::current_remote() {
            Some(remote) => TraceContext {
                trace_id: remote.trace_id,
                span_id,
                flags: remote.flags,
            },
            None => {
                let mut trace_id = [0; 16];
                trace_id[..8].copy_from_slice(&self.salt);
                trace_id[8..].copy_from_slice(&span_id);
                TraceContext {
                    trace_id,
                    span_id,
                    flags: actor_core::trace::SAMPLED,
                }
            }
        };
        Some(ctx)
    }

    fn extract(&self, ctx: &TraceContext, peer: &str, to: Pid) -> tracing::Span {
        tracing::info_span!(
            "remote_message",
            trace_id = %ctx.trace_id_hex(),
            parent_span_id = %ctx.span_id_hex(),
            peer = %peer,
            to = %to,
        )
    }
}

#[cfg(feature = "otel")]
pub use otel::Otel;

#[cfg(feature = "otel")]
mod otel {
    use super::TracePropagator;
    use actor_core::{Pid, TraceContext};
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// The propagator with OpenTelemetry: ids from `tracing-opentelemetry`'s context of the
    /// span (see the [module docs](super)).
    #[derive(Debug, Clone, Default)]
    pub struct Otel;

    impl TracePropagator for Otel {
        fn inject(&self) -> Option<TraceContext> {
            let cx = tracing::Span::current().context();
            let span = cx.span();
            let sc = span.span_context();
            if !sc.is_valid() {
                return None;
            }
            Some(TraceContext {
                trace_id: sc.trace_id().to_bytes(),
                span_id: sc.span_id().to_bytes(),
                flags: sc.trace_flags().to_u8(),
            })
        }

        fn extract(&self, ctx: &TraceContext, peer: &str, to: Pid) -> tracing::Span {
            let span = tracing::info_span!(
                "remote_message",
                trace_id = %ctx.trace_id_hex(),
                parent_span_id = %ctx.span_id_hex(),
                peer = %peer,
                to = %to,
            );
            with_remote_parent(span, ctx)
        }

        fn extract_rpc(&self, ctx: &TraceContext, peer: &str, func: &str) -> tracing::Span {
            with_remote_parent(super::rpc_span(ctx, peer, func), ctx)
        }
    }

    fn with_remote_parent(span: tracing::Span, ctx: &TraceContext) -> tracing::Span {
        let remote = SpanContext::new(
            TraceId::from_bytes(ctx.trace_id),
            SpanId::from_bytes(ctx.span_id),
            TraceFlags::new(ctx.flags),
            true,
            TraceState::default(),
        );
        let parent = opentelemetry::Context::new().with_remote_span_context(remote);
        let _ = span.set_parent(parent);
        span
    }
}

/// The propagator a node starts with: [`Otel`] with the `otel` feature, [`SpanIds`]
/// otherwise.
pub(crate) fn default_propagator(salt: [u8; 8]) -> std::sync::Arc<dyn TracePropagator> {
    #[cfg(feature = "otel")]
    {
        let _ = salt;
        std::sync::Arc::new(Otel)
    }
    #[cfg(not(feature = "otel"))]
    {
        std::sync::Arc::new(SpanIds::new(salt))
    }
}
