//! Supervisor reports are structured `tracing` events with OTP's names: target
//! `actor_core::supervisor`, `report = "supervisor_report"`, `error_context` one of
//! child_terminated / start_error / shutdown / shutdown_error, and fields `sup`, `child_id`,
//! `reason`.
mod common;
use actor_core::supervisor::{ChildSpec, Shutdown, Strategy, Supervisor, SupervisorSpec};
use actor_core::{ExitReason, Node};
use common::sup::*;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Fields = BTreeMap<String, String>;

/// Records the fields of every supervisor event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Fields>>>);

struct Visitor<'a>(&'a mut Fields);
impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target() == "actor_core::supervisor"
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut f = Fields::new();
        e.record(&mut Visitor(&mut f));
        f.insert("level".into(), e.metadata().level().to_string());
        self.0.lock().push(f);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn find(&self, context: &str) -> Fields {
        self.0
            .lock()
            .iter()
            .find(|f| f.get("error_context").map(String::as_str) == Some(context))
            .cloned()
            .unwrap_or_else(|| panic!("no {context} report in {:?}", self.0.lock()))
    }
}

#[tokio::test(start_paused = true)]
async fn reports_carry_otp_names_and_the_child() {
    let capture = Capture::default();
    // The test runtime is single-threaded: every actor's events reach this subscriber.
    let _guard = tracing::subscriber::set_default(capture.clone());
    let node = Node::new("rep@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (g, mut gate) = gated("g", &tx);
    let slow = Worker {
        stop_delay: Duration::from_secs(3600),
        ..Worker::new("slow", &tx)
    };
    let spec = SupervisorSpec::new(Strategy::OneForOne)
        .intensity(1, Duration::from_secs(5))
        .child(
            ChildSpec::worker("slow", move || slow.clone())
                .shutdown(Shutdown::Timeout(Duration::from_millis(100))),
        )
        .child(g);
    let sup = {
        let (sup, ()) = tokio::join!(Supervisor::start(&node, spec), attempt(&mut gate, true));
        sup.unwrap()
    };
    expect(&mut rx, &[started("slow"), started("g")]).await;
    let down = node.wait_exit(sup.pid());

    // child_terminated, then start_error, then (second restart > 1) shutdown; stopping the
    // slow child times out: shutdown_error, killed.
    let g_pid = crash(&node, &sup, "g", ExitReason::error("boom")).await;
    attempt(&mut gate, false).await;
    assert_eq!(down.await, ExitReason::Shutdown);

    let sup_pid = sup.pid().to_string();
    let t = capture.find("child_terminated");
    assert_eq!(t["report"], "supervisor_report");
    assert_eq!(t["level"], "ERROR");
    assert_eq!(t["sup"], sup_pid);
    assert_eq!(t["child_id"], "g");
    assert_eq!(t["child_pid"], g_pid.to_string());
    assert_eq!(t["reason"], "boom");
    let s = capture.find("start_error");
    assert_eq!(
        (s["sup"].as_str(), s["child_id"].as_str()),
        (&*sup_pid, "g")
    );
    assert!(s["reason"].contains("refused"), "{s:?}");
    let i = capture.find("shutdown");
    assert_eq!(i["reason"], "reached_max_restart_intensity");
    assert_eq!(i["child_id"], "g");
    let k = capture.find("shutdown_error");
    assert_eq!(
        (k["child_id"].as_str(), k["reason"].as_str()),
        ("slow", "killed")
    );
    assert_eq!(k["shutdown_timeout"], "100ms");
}
