//! Traces across nodes: a remote `tell`, `call` or rpc made inside a span carries the span's W3C
//! trace context, and the receiving node handles the message inside a span whose parent is
//! the remote one; the trace id shows in the logs of both nodes, and continues across a
//! second hop. Without a span the frame is the plain one; a peer that did not announce the
//! capability never gets a traced frame; a malformed context is counted, not fatal.
//!
//! Each test runs both nodes on one thread (a current-thread runtime) under a capturing
//! subscriber installed as that thread's default.
mod common;
use actor_core::{Actor, ActorRef, Context, Message, NodeId, Pid, ReplyTo, TraceContext};
use actor_dist::handshake::{initiate, Identity};
use actor_dist::wire::{capability, decode_frame, encode_frame, frame_len, Frame};
use actor_dist::Dist;
use common::*;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Metadata, Subscriber};

// ---- a capturing subscriber ----------------------------------------------------------------

#[derive(Clone, Debug)]
struct SpanRec {
    name: &'static str,
    fields: HashMap<String, String>,
    parent: Option<u64>,
}

#[derive(Clone, Debug)]
struct EventRec {
    message: String,
    fields: HashMap<String, String>,
    /// Innermost first.
    spans: Vec<u64>,
}

#[derive(Default)]
struct Captured {
    spans: Mutex<HashMap<u64, (SpanRec, &'static Metadata<'static>)>>,
    events: Mutex<Vec<EventRec>>,
    stack: Mutex<Vec<u64>>,
    next: AtomicU64,
}

#[derive(Clone, Default)]
struct Capture(Arc<Captured>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.0.insert(f.name().to_string(), format!("{v:?}"));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().to_string(), v.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = if attrs.is_root() {
            None
        } else if let Some(p) = attrs.parent() {
            Some(p.into_u64())
        } else {
            self.0.stack.lock().last().copied()
        };
        let rec = SpanRec {
            name: attrs.metadata().name(),
            fields,
            parent,
        };
        self.0.spans.lock().insert(id, (rec, attrs.metadata()));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some((rec, _)) = self.0.spans.lock().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let mut spans = Vec::new();
        let mut at = event
            .parent()
            .map(|p| p.into_u64())
            .or_else(|| self.0.stack.lock().last().copied());
        let all = self.0.spans.lock();
        while let Some(id) = at {
            spans.push(id);
            at = all.get(&id).and_then(|(r, _)| r.parent);
        }
        drop(all);
        self.0.events.lock().push(EventRec {
            message,
            fields,
            spans,
        });
    }
    fn enter(&self, span: &Id) {
        self.0.stack.lock().push(span.into_u64());
    }
    fn exit(&self, span: &Id) {
        let mut s = self.0.stack.lock();
        if let Some(i) = s.iter().rposition(|x| *x == span.into_u64()) {
            s.remove(i);
        }
    }
    fn current_span(&self) -> tracing_core::span::Current {
        let top = self.0.stack.lock().last().copied();
        match top.and_then(|id| self.0.spans.lock().get(&id).map(|(_, m)| (id, *m))) {
            Some((id, meta)) => tracing_core::span::Current::new(Id::from_u64(id), meta),
            None => tracing_core::span::Current::none(),
        }
    }
}

/// A capturing subscriber, the default of this thread until the guard drops.
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let cap = Capture::default();
    let guard = tracing::subscriber::set_default(cap.clone());
    (cap, guard)
}

impl Capture {
    fn spans_named(&self, name: &str) -> Vec<SpanRec> {
        let all = self.0.spans.lock();
        let mut v: Vec<_> = all
            .iter()
            .filter(|(_, (r, _))| r.name == name)
            .map(|(id, (r, _))| (*id, r.clone()))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v.into_iter().map(|(_, r)| r).collect()
    }
    fn events(&self, message: &str) -> Vec<EventRec> {
        let all = self.0.events.lock();
        all.iter()
            .filter(|e| e.message == message)
            .cloned()
            .collect()
    }
    fn span(&self, id: u64) -> SpanRec {
        self.0.spans.lock()[&id].0.clone()
    }
}

// ---- a traced actor ---------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Tr {
    /// Answers the trace context its handler runs with, after logging "handled".
    Ask(ReplyTo<Option<String>>),
    /// Logs "told" and records the context.
    Tell(u64),
    /// Calls `Ask` on the next actor (on another node), answering with its answer.
    Hop(ActorRef<Tr>, ReplyTo<Option<String>>),
    /// The contexts the `Tell`s came with.
    Seen(ReplyTo<Vec<Option<String>>>),
}

impl Message for Tr {
    const NAME: &'static str = "traces::Tr";
}

#[derive(Default)]
struct Tracee {
    seen: Vec<Option<String>>,
}

impl Actor for Tracee {
    type Msg = Tr;
    async fn handle(&mut self, msg: Tr, _ctx: &mut Context<Self>) {
        let now = actor_core::trace::current_remote().map(|c| c.to_string());
        match msg {
            Tr::Ask(r) => {
                tracing::info!("handled");
                r.send(now);
            }
            Tr::Tell(n) => {
                tracing::info!(n, "told");
                self.seen.push(now);
            }
            Tr::Hop(next, r) => {
                let got = next.call(Tr::Ask, T).await.ok().flatten();
                r.send(got);
            }
            Tr::Seen(r) => {
                r.send(self.seen.clone());
            }
        }
    }
}

async fn pair() -> (Dist, Dist) {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    a.register::<Tr>();
    b.register::<Tr>();
    connect(&a, &b).await;
    (a, b)
}

/// A [`Tracee`] on `on`, addressed from `from`.
async fn tracee(on: &Dist, from: &Dist) -> ActorRef<Tr> {
    let pid = on.node().spawn(Tracee::default()).await.unwrap().pid();
    from.actor_ref::<Tr>(pid).unwrap()
}

/// The span id (hex) the sender logged with the trace id it sent, and the trace id.
fn sent(cap: &Capture) -> Vec<(String, String)> {
    cap.events("message sent with trace context")
        .into_iter()
        .map(|e| (e.fields["trace_id"].clone(), e.fields["span_id"].clone()))
        .collect()
}

/// The one context sent, (trace id, span id), and the event logging it, which must be
/// inside the span `request`.
fn sent_once_in_request(cap: &Capture) -> (String, String, EventRec) {
    let sent = sent(cap);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (trace_id, span_id) = sent[0].clone();
    let ev = cap.events("message sent with trace context")[0].clone();
    assert_eq!(cap.span(ev.spans[0]).name, "request");
    (trace_id, span_id, ev)
}

/// The one span `name` the receiver opened: a child of the remote span `span_id` of trace
/// `trace_id`, from peer `a`.
fn received_once(cap: &Capture, name: &str, trace_id: &str, span_id: &str) -> SpanRec {
    let spans = cap.spans_named(name);
    assert_eq!(spans.len(), 1, "{spans:?}");
    let s = spans[0].clone();
    assert_eq!(s.fields["trace_id"], trace_id);
    assert_eq!(s.fields["parent_span_id"], span_id);
    assert_eq!(s.fields["peer"], "a@127.0.0.1");
    s
}

#[tokio::test]
async fn a_remote_call_continues_the_callers_trace_on_the_other_node() {
    let (cap, _g) = capture();
    let (a, b) = pair().await;
    let remote = tracee(&b, &a).await;

    let request = tracing::info_span!("request", user = "u1");
    let answer = remote
        .call(Tr::Ask, T)
        .instrument(request.clone())
        .await
        .unwrap();

    // The sender logged the context it sent, inside its own span.
    let (trace_id, span_id, _) = sent_once_in_request(&cap);
    // The handler ran with that context...
    let ctx = TraceContext::parse_traceparent(&answer.expect("handled with a context")).unwrap();
    assert_eq!(ctx.trace_id_hex(), trace_id);
    assert_eq!(ctx.span_id_hex(), span_id);
    // ...inside a span on b whose parent is the remote span, and its log shows the trace id.
    let rm = received_once(&cap, "remote_message", &trace_id, &span_id);
    let handled = &cap.events("handled")[0];
    assert_eq!(cap.span(handled.spans[0]).fields["trace_id"], trace_id);
    assert_eq!(
        rm.parent, None,
        "not a child of whatever span was current locally"
    );
}

#[tokio::test]
async fn a_remote_tell_carries_the_trace_and_untraced_sends_carry_none() {
    let (cap, _g) = capture();
    let (a, b) = pair().await;
    let remote = tracee(&b, &a).await;

    remote.tell(Tr::Tell(1)).unwrap(); // no span: no context
    {
        let _in = tracing::info_span!("batch").entered();
        remote.tell(Tr::Tell(2)).unwrap();
        remote.tell(Tr::Tell(3)).unwrap();
    }
    remote.tell(Tr::Tell(4)).unwrap();
    let seen = remote.call(Tr::Seen, T).await.unwrap();
    let sent = sent(&cap);
    assert_eq!(sent.len(), 2, "only the sends inside the span: {sent:?}");
    assert_eq!(sent[0], sent[1], "one span, one trace");
    let expected = format!("00-{}-{}-01", sent[0].0, sent[0].1);
    assert_eq!(
        seen,
        vec![None, Some(expected.clone()), Some(expected), None],
        "contexts in order, none where none was sent"
    );
    let told = cap.events("told");
    assert_eq!(told.len(), 4);
    assert!(told[0].spans.is_empty() && told[3].spans.is_empty());
    for t in &told[1..3] {
        assert_eq!(cap.span(t.spans[0]).fields["trace_id"], sent[0].0);
    }
}

#[tokio::test]
async fn the_trace_continues_across_a_second_hop() {
    let (cap, _g) = capture();
    let (a, b) = pair().await;
    let c = start("c@127.0.0.1").await;
    c.register::<Tr>();
    connect(&b, &c).await;
    let b_ref = tracee(&b, &a).await;
    let c_from_b = tracee(&c, &b).await;
    let got = b_ref
        .call(|r| Tr::Hop(c_from_b, r), T)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap()
        .expect("c handled with a context");
    let on_c_ctx = TraceContext::parse_traceparent(&got).unwrap();
    let sent = sent(&cap);
    assert_eq!(sent.len(), 2, "a -> b, then b -> c: {sent:?}");
    assert_eq!(sent[0].0, sent[1].0, "one trace id over both hops");
    assert_eq!(on_c_ctx.trace_id_hex(), sent[0].0);
    assert_ne!(sent[0].1, sent[1].1, "each hop has its own parent span");
    let rm = cap.spans_named("remote_message");
    assert_eq!(rm.len(), 2);
    assert!(rm.iter().all(|s| s.fields["trace_id"] == sent[0].0));
}

#[tokio::test]
async fn an_rpc_carries_the_trace_and_the_function_runs_in_it() {
    let (cap, _g) = capture();
    let (a, b) = pair().await;
    b.register_rpc("whoami", |(): ()| async {
        tracing::info!("rpc ran");
        actor_core::trace::current_remote().map(|c| c.to_string())
    });
    let untraced: Option<String> = a.call("b@127.0.0.1", "whoami", &(), T).await.unwrap();
    assert_eq!(untraced, None, "no span, no context");
    assert!(sent(&cap).is_empty());

    let answer: Option<String> = a
        .call("b@127.0.0.1", "whoami", &(), T)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap();
    // The caller's side: the context it sent, logged inside its span.
    let (trace_id, span_id, ev) = sent_once_in_request(&cap);
    assert_eq!(ev.fields["to"], "whoami");
    // The function's side: it ran with that context, in a span showing the trace id.
    let ctx = TraceContext::parse_traceparent(&answer.expect("ran with a context")).unwrap();
    assert_eq!(ctx.trace_id_hex(), trace_id);
    assert_eq!(ctx.span_id_hex(), span_id);
    let rr = received_once(&cap, "remote_rpc", &trace_id, &span_id);
    assert_eq!(rr.fields["func"], "whoami");
    let ran = cap.events("rpc ran");
    assert_eq!(ran.len(), 2);
    assert!(ran[0].spans.is_empty(), "the untraced call ran in no span");
    assert_eq!(cap.span(ran[1].spans[0]).fields["trace_id"], trace_id);

    // async_call takes the caller's span into its task.
    let handle = {
        let _in = tracing::info_span!("request2").entered();
        a.async_call::<(), Option<String>>("b@127.0.0.1", "whoami", &(), T)
    };
    let via_async = handle.yield_().await.unwrap().expect("async_call traced");
    assert_ne!(TraceContext::parse_traceparent(&via_async), None);
    assert_eq!(cap.spans_named("remote_rpc").len(), 2);
}

#[tokio::test]
async fn without_a_propagator_nothing_is_sent() {
    let (cap, _g) = capture();
    let (a, b) = pair().await;
    a.set_trace_propagator(None);
    let remote = tracee(&b, &a).await;
    let answer = remote
        .call(Tr::Ask, T)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap();
    assert_eq!(answer, None);
    assert!(cap.spans_named("remote_message").is_empty());
}

// ---- raw peers --------------------------------------------------------------------------

/// An authenticated raw peer announcing `caps`.
async fn raw(to: &Dist, name: &str, caps: u64) -> TcpStream {
    let mut s = TcpStream::connect(to.local_addr()).await.unwrap();
    let cookie = cookie();
    let me = Identity {
        name,
        creation: 1,
        hidden: true,
        listen: "127.0.0.1:1".parse().unwrap(),
        app_version: "raw",
        cookie: &cookie,
        capabilities: caps,
    };
    initiate(&mut s, &me, [3; 32]).await.unwrap();
    s
}

async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).await.unwrap();
    let mut body = vec![0u8; frame_len(prefix, 1 << 24).unwrap()];
    s.read_exact(&mut body).await.unwrap();
    body
}

/// Reads frames until `kind` says whether one is the plain (`false`) or the traced (`true`)
/// frame looked for.
async fn traced_next(s: &mut TcpStream, kind: impl Fn(&Frame) -> Option<bool>) -> bool {
    loop {
        let body = read_frame(s).await;
        if let Some(traced) = kind(&decode_frame(&body).unwrap()) {
            return traced;
        }
    }
}

/// `f`, encoded.
fn encoded(f: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(f, 1 << 20, &mut out).unwrap();
    out
}

#[tokio::test]
async fn a_peer_without_the_capability_gets_plain_frames() {
    let (_cap, _g) = capture();
    let b = start("b@127.0.0.1").await;
    b.register::<Tr>();
    for (caps, traced) in [(0, false), (capability::ALL, true)] {
        let name = format!("raw{caps}@127.0.0.1");
        let mut s = raw(&b, &name, caps).await;
        let pid = Pid {
            node: NodeId::from_name(&name),
            id: 1,
            creation: 1,
        };
        let on_raw = b.actor_ref::<Tr>(pid).unwrap();
        async { on_raw.tell(Tr::Tell(7)).unwrap() }
            .instrument(tracing::info_span!("request"))
            .await;
        let was_traced = traced_next(&mut s, |f| match f {
            Frame::Send { .. } => Some(false),
            Frame::Traced { .. } => Some(true),
            _ => None,
        })
        .await;
        assert_eq!(was_traced, traced, "caps {caps}");
        // An rpc cast, likewise.
        assert!(
            b.cast(&name, "f", &())
                .instrument(tracing::info_span!("request"))
                .await
        );
        let rpc_traced = traced_next(&mut s, |f| match f {
            Frame::Rpc { func: "f", .. } => Some(false),
            Frame::TracedRpc { func: "f", .. } => Some(true),
            _ => None,
        })
        .await;
        assert_eq!(rpc_traced, traced, "rpc, caps {caps}");
    }
}

#[tokio::test]
async fn a_malformed_context_is_counted_and_the_message_delivered_without_it() {
    let (cap, _g) = capture();
    let b = start("b@127.0.0.1").await;
    b.register::<Tr>();
    let on_b = b.node().spawn(Tracee::default()).await.unwrap();
    let mut s = raw(&b, "raw@127.0.0.1", capability::ALL).await;
    let payload = postcard::to_allocvec(&Tr::Tell(5)).unwrap();
    for (trace_id, span_id) in [([0; 16], [1; 8]), ([1; 16], [0; 8]), ([2; 16], [3; 8])] {
        let f = Frame::Traced {
            to: on_b.pid(),
            tag: <Tr as Message>::tag(),
            payload: &payload,
            replies: vec![],
            trace: TraceContext {
                trace_id,
                span_id,
                flags: 1,
            },
        };
        s.write_all(&encoded(&f)).await.unwrap();
    }
    // A truncated traced frame: a decode error, skipped.
    let f = Frame::Traced {
        to: on_b.pid(),
        tag: <Tr as Message>::tag(),
        payload: &payload,
        replies: vec![],
        trace: TraceContext {
            trace_id: [4; 16],
            span_id: [4; 8],
            flags: 0,
        },
    };
    let mut out = encoded(&f);
    let cut = out.len() - 10;
    out.truncate(cut);
    out[..4].copy_from_slice(&((cut - 4) as u32).to_be_bytes());
    s.write_all(&out).await.unwrap();
    // Eventually (the raw peer's frames go through b's reader): three delivered, one skipped.
    let deadline = tokio::time::Instant::now() + T;
    let seen = loop {
        let seen = on_b.call(Tr::Seen, T).await.unwrap();
        if seen.len() >= 3 && b.stats().bad_frames.load(Ordering::Relaxed) >= 1 {
            break seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "frames not handled: {seen:?}"
        );
        tokio::task::yield_now().await;
    };
    let good = TraceContext {
        trace_id: [2; 16],
        span_id: [3; 8],
        flags: 1,
    };
    assert_eq!(seen, vec![None, None, Some(good.to_string())]);
    assert_eq!(b.stats().bad_trace_contexts.load(Ordering::Relaxed), 2);
    assert_eq!(b.stats().bad_frames.load(Ordering::Relaxed), 1);
    assert!(cap.events("malformed trace context ignored").len() == 2);
}

#[tokio::test]
async fn an_rpc_with_a_malformed_context_runs_without_it() {
    let (cap, _g) = capture();
    let b = start("b@127.0.0.1").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    b.register_rpc("note", move |n: u32| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((n, actor_core::trace::current_remote()));
        }
    });
    let mut s = raw(&b, "raw@127.0.0.1", capability::ALL).await;
    let good = TraceContext {
        trace_id: [2; 16],
        span_id: [3; 8],
        flags: 1,
    };
    let bad = TraceContext {
        trace_id: [0; 16],
        ..good
    };
    for (n, trace) in [(1u32, bad), (2, good)] {
        let args = postcard::to_allocvec(&n).unwrap();
        let f = Frame::TracedRpc {
            req: 0,
            func: "note",
            args: &args,
            trace,
        };
        s.write_all(&encoded(&f)).await.unwrap();
    }
    let mut got = vec![
        tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap(),
        tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap(),
    ];
    got.sort_by_key(|(n, _)| *n);
    assert_eq!(got, vec![(1, None), (2, Some(good))]);
    assert_eq!(b.stats().bad_trace_contexts.load(Ordering::Relaxed), 1);
    assert_eq!(cap.events("malformed trace context ignored").len(), 1);
    assert_eq!(cap.spans_named("remote_rpc").len(), 1);
}
