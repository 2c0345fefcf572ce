//! The trace context of messages crossing a connection (see [`crate::trace`]): read from the
//! current span when sending, checked and turned into the handler's span when receiving.

use super::{Dist, Inner};
use crate::conn::Conn;
use crate::trace::TracePropagator;
use actor_core::{Pid, TraceContext};
use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Dist {
    /// Installs the propagator that reads the trace context of outgoing messages and makes
    /// the span incoming ones are handled in (`None`: send no context, ignore received ones).
    /// A node starts with [`SpanIds`](crate::trace::SpanIds), or
    /// [`Otel`](crate::trace) with the `otel` feature.
    pub fn set_trace_propagator(&self, propagator: Option<Arc<dyn TracePropagator>>) {
        *self.inner.trace.write() = propagator;
    }
}

impl Inner {
    /// The trace context to send with a message to `to` over `conn`: `None` unless a span is
    /// current and the peer takes traced frames. With no subscriber installed this is one
    /// relaxed load; with one and no span current, one `current_span` query.
    /// `to` (the recipient, or the function of an rpc) is only logged.
    #[inline]
    pub(crate) fn outgoing_trace<T: Display>(&self, conn: &Conn, to: T) -> Option<TraceContext> {
        if !tracing::dispatcher::has_been_set() {
            return None;
        }
        self.outgoing_trace_slow(conn, &to)
    }

    #[inline(never)]
    fn outgoing_trace_slow(&self, conn: &Conn, to: &dyn Display) -> Option<TraceContext> {
        let active = tracing::dispatcher::get_default(|d| d.current_span().id().is_some());
        if !active || !conn.traces() {
            return None;
        }
        let propagator = self.trace.read().clone()?;
        let ctx = propagator.inject().filter(TraceContext::is_valid)?;
        tracing::debug!(
            target: "actor_dist::trace",
            trace_id = %ctx.trace_id_hex(),
            span_id = %ctx.span_id_hex(),
            peer = %conn.name,
            %to,
            "message sent with trace context"
        );
        Some(ctx)
    }

    /// The span (and context) to handle a message from `conn` that came with `ctx` in:
    /// `None` if `ctx` is malformed (counted, logged) or no propagator is installed.
    pub(super) fn incoming_trace(
        &self,
        conn: &Conn,
        ctx: TraceContext,
        to: Pid,
    ) -> Option<(tracing::Span, TraceContext)> {
        let propagator = self.trace_propagator_for(conn, &ctx, &to)?;
        Some((propagator.extract(&ctx, &conn.name, to), ctx))
    }

    /// The span (and context) to run the function of an rpc from `conn` that came with `ctx`
    /// in: as [`Inner::incoming_trace`].
    pub(crate) fn incoming_rpc_trace(
        &self,
        conn: &Conn,
        ctx: TraceContext,
        func: &str,
    ) -> Option<(tracing::Span, TraceContext)> {
        let propagator = self.trace_propagator_for(conn, &ctx, &func)?;
        Some((propagator.extract_rpc(&ctx, &conn.name, func), ctx))
    }

    /// The propagator to restore a received `ctx` with: `None` if `ctx` is malformed
    /// (counted, logged) or none is installed.
    fn trace_propagator_for(
        &self,
        conn: &Conn,
        ctx: &TraceContext,
        to: &dyn Display,
    ) -> Option<Arc<dyn TracePropagator>> {
        if !ctx.is_valid() {
            self.stats
                .bad_trace_contexts
                .fetch_add(1, Ordering::Relaxed);
            if let Some(n) = self.peer_warnings.allow() {
                tracing::warn!(peer = %conn.name, %to, suppressed = n, "malformed trace context ignored");
            }
            return None;
        }
        self.trace.read().clone()
    }
}
