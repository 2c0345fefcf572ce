//! Traces across nodes with the `otel` feature: the spans exported by OpenTelemetry form one
//! trace across two nodes. The receiving node's `remote_message` span has the caller's trace
//! id, its parent is the caller's span, and the parent is marked remote; likewise the span
//! an rpc's function runs in (`remote_rpc`).
//!
//! Run with `cargo test -p actor-dist --features otel --test traces_otel` (CI does); a
//! `required-features` entry keeps it out of the featureless workspace run.
//!
//! Both nodes run in one process on one thread (a current-thread runtime), under a
//! `tracing-subscriber` registry with the `tracing-opentelemetry` layer as that thread's
//! default, exporting to an in-memory exporter.
mod common;
use actor_core::{Actor, Context, Message, ReplyTo, TraceContext};
use common::*;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Serialize, Deserialize)]
enum Tr {
    /// Answers the trace context its handler runs with, after logging "handled".
    Ask(ReplyTo<Option<String>>),
}

impl Message for Tr {
    const NAME: &'static str = "traces_otel::Tr";
}

struct Tracee;

impl Actor for Tracee {
    type Msg = Tr;
    async fn handle(&mut self, msg: Tr, _ctx: &mut Context<Self>) {
        let Tr::Ask(r) = msg;
        tracing::info!("handled");
        r.send(actor_core::trace::current_remote().map(|c| c.to_string()));
    }
}

/// The exported spans named `name`, polled until there are `n` of them (a span is exported
/// when it closes, which on the receiving side is after the reply went out).
async fn exported(exporter: &InMemorySpanExporter, name: &str, n: usize) -> Vec<SpanData> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let spans: Vec<_> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        if spans.len() >= n {
            return spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: {} of {n} spans exported",
            spans.len()
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_exported_receiving_span_is_a_child_of_the_remote_caller() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("traces_otel")));
    let _g = tracing::subscriber::set_default(subscriber);

    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    a.register::<Tr>();
    b.register::<Tr>();
    connect(&a, &b).await;
    let on_b = b.node().spawn(Tracee).await.unwrap();
    let remote = a.actor_ref::<Tr>(on_b.pid()).unwrap();

    let answer = remote
        .call(Tr::Ask, T)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap();

    let request = exported(&exporter, "request", 1).await;
    assert_eq!(request.len(), 1);
    let caller = &request[0].span_context;
    assert!(caller.is_valid());
    let received = exported(&exporter, "remote_message", 1).await;
    assert_eq!(received.len(), 1, "one receiving span");
    let r = &received[0];
    assert_eq!(
        r.span_context.trace_id(),
        caller.trace_id(),
        "the caller's trace"
    );
    assert_eq!(
        r.parent_span_id,
        caller.span_id(),
        "a child of the caller's span"
    );
    assert!(r.parent_span_is_remote, "the parent is on another node");
    assert_ne!(r.span_context.span_id(), caller.span_id());
    // The handler saw the same context (the caller's OpenTelemetry ids, not derived ones).
    let ctx = TraceContext::parse_traceparent(&answer.expect("handled with a context")).unwrap();
    assert_eq!(TraceId::from_bytes(ctx.trace_id), caller.trace_id());
    assert_eq!(SpanId::from_bytes(ctx.span_id), caller.span_id());
    assert!(ctx.sampled());
    // The handler's event was recorded on the receiving span.
    assert!(
        r.events.iter().any(|e| e.name == "handled"),
        "{:?}",
        r.events
    );

    // An rpc made inside a span: the function's span is a child of the caller's.
    b.register_rpc("whoami", |(): ()| async {
        actor_core::trace::current_remote().map(|c| c.to_string())
    });
    let via_rpc: Option<String> = a
        .call("b@127.0.0.1", "whoami", &(), T)
        .instrument(tracing::info_span!("rpc_request"))
        .await
        .unwrap();
    let caller = exported(&exporter, "rpc_request", 1).await[0]
        .span_context
        .clone();
    let ran = &exported(&exporter, "remote_rpc", 1).await[0];
    assert_eq!(ran.span_context.trace_id(), caller.trace_id());
    assert_eq!(ran.parent_span_id, caller.span_id());
    assert!(ran.parent_span_is_remote);
    let ctx = TraceContext::parse_traceparent(&via_rpc.expect("rpc ran with a context")).unwrap();
    assert_eq!(TraceId::from_bytes(ctx.trace_id), caller.trace_id());
    let _ = provider.shutdown();
}
