//! Trace context: the W3C `traceparent` triple (trace id, parent span id, flags) that a
//! message carries from one node to another, and the receiving half of a trace.
//!
//! The runtime itself knows nothing of the network: a distribution layer (actor-dist) reads
//! the context of the sending span, carries it in its frame, and on the receiving node hands
//! the message to the actor with [`ActorRef::tell_traced`](crate::ActorRef::tell_traced): the
//! handler then runs inside the given `tracing` span, and [`current_remote`] tells the
//! context the message came with (so that the handler's own remote sends continue the same
//! trace). A message sent without a context is handled exactly as before: no span, no
//! allocation.
//!
//! OTP has no equivalent (seq_trace is the nearest); Akka carries trace context in message
//! envelopes through its telemetry extensions. The format is W3C Trace Context
//! (`traceparent` version `00`).

use std::cell::Cell;
use std::fmt;
use std::future::Future;

/// The W3C trace context of a span on another node: its trace id, its span id (the parent of
/// the span the receiver opens), and its trace flags (bit 0: sampled).
///
/// ```
/// use actor_core::TraceContext;
/// let ctx = TraceContext::parse_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )
/// .unwrap();
/// assert!(ctx.is_valid() && ctx.sampled());
/// assert_eq!(ctx.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TraceContext {
    /// The trace, shared by every span of one request on every node. All zeros is invalid.
    pub trace_id: [u8; 16],
    /// The sending span. All zeros is invalid.
    pub span_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled", the others are reserved.
    pub flags: u8,
}

/// The "sampled" trace flag.
pub const SAMPLED: u8 = 0x01;

impl TraceContext {
    /// Whether the ids are valid (W3C: neither may be all zeros).
    pub fn is_valid(&self) -> bool {
        self.trace_id != [0; 16] && self.span_id != [0; 8]
    }

    /// Whether the sender sampled the trace.
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// Parses a `traceparent` header value of version `00`; `None` if malformed or invalid.
    pub fn parse_traceparent(s: &str) -> Option<TraceContext> {
        let mut parts = s.split('-');
        let (v, t, p, f) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || v != "00" {
            return None;
        }
        let mut ctx = TraceContext {
            trace_id: [0; 16],
            span_id: [0; 8],
            flags: 0,
        };
        unhex(t, &mut ctx.trace_id)?;
        unhex(p, &mut ctx.span_id)?;
        let mut fl = [0u8; 1];
        unhex(f, &mut fl)?;
        ctx.flags = fl[0];
        ctx.is_valid().then_some(ctx)
    }
}

/// The `traceparent` header value (`00-<trace id>-<span id>-<flags>`).
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }
}

fn hex(b: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        let d = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *o = d(b[2 * i])? << 4 | d(b[2 * i + 1])?;
    }
    Some(())
}

thread_local! {
    /// The context of the traced message whose handler is being polled on this thread.
    static CURRENT: Cell<Option<TraceContext>> = const { Cell::new(None) };
}

/// The context the message being handled came with from another node, while its handler
/// runs (`None` in any other code, and for messages sent without one). A distribution layer
/// reads it to continue the trace when the handler sends to other nodes.
pub fn current_remote() -> Option<TraceContext> {
    CURRENT.with(|c| c.get())
}

/// A message with the receiving half of a trace: handled inside `span`, with `ctx` as
/// [`current_remote`].
pub(crate) struct Traced<M> {
    pub(crate) msg: M,
    pub(crate) span: tracing::Span,
    pub(crate) ctx: TraceContext,
}

impl<M> Traced<M> {
    /// The message, its span and its context, out of the box (which is freed here rather
    /// than held by the actor's loop while the handler runs).
    #[allow(clippy::boxed_local)] // taking the box is the point: it is freed here
    pub(crate) fn into_parts(self: Box<Self>) -> (M, tracing::Span, TraceContext) {
        let Traced { msg, span, ctx } = *self;
        (msg, span, ctx)
    }
}

/// Polls `fut` inside `span` with `ctx` as [`current_remote`], poll by poll (other tasks run
/// on this thread between polls), restoring the previous context after each poll, also when
/// it unwinds. This is how an actor's handler runs a traced message; a distribution layer
/// uses it for other remote work (e.g. a remote function call) that should continue a trace.
///
/// ```
/// use actor_core::{trace, TraceContext};
/// let ctx = TraceContext { trace_id: [1; 16], span_id: [2; 8], flags: trace::SAMPLED };
/// let work = trace::in_trace(async { trace::current_remote() }, tracing::Span::none(), ctx);
/// assert_eq!(futures::executor::block_on(work), Some(ctx));
/// assert_eq!(trace::current_remote(), None);
/// ```
pub fn in_trace<F: Future>(
    fut: F,
    span: tracing::Span,
    ctx: TraceContext,
) -> impl Future<Output = F::Output> {
    InTrace { fut, span, ctx }
}

/// The future of [`in_trace`]: a struct, not an `async fn`, so that it holds `fut` once (an
/// `async fn` keeps its argument and its pinned copy side by side, and this future is part of
/// every actor's task).
struct InTrace<F> {
    fut: F,
    span: tracing::Span,
    ctx: TraceContext,
}

impl<F: Future> Future for InTrace<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        struct Restore(Option<TraceContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self` and is
        // dropped in place with it; `span` and `ctx` are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let _enter = this.span.enter();
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(this.ctx))));
        unsafe { std::pin::Pin::new_unchecked(&mut this.fut) }.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip_and_refusals() {
        let s = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::parse_traceparent(s).unwrap();
        assert_eq!(ctx.to_string(), s);
        assert_eq!(ctx.span_id_hex(), "00f067aa0ba902b7");
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "",
        ] {
            assert_eq!(TraceContext::parse_traceparent(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn current_remote_is_set_only_inside_the_handler() {
        let ctx = TraceContext {
            trace_id: [1; 16],
            span_id: [2; 8],
            flags: SAMPLED,
        };
        assert_eq!(current_remote(), None);
        let seen = in_trace(
            async {
                tokio::task::yield_now().await;
                current_remote()
            },
            tracing::Span::none(),
            ctx,
        )
        .await;
        assert_eq!(seen, Some(ctx));
        assert_eq!(current_remote(), None);
    }
}
