//! Metrics: what the layers already count, read by a collector into a Prometheus recorder.
//!
//! Nothing here adds work to the message path: the distribution, registry, lock, entity and
//! journal layers keep their counters as plain atomics (their `stats()`), and
//! [`Ops::collect`] reads them, at every scrape and every collection interval, into the
//! node's own [`PrometheusRecorder`] through the `metrics` facade. The recorder is the
//! node's, not a process-wide one (several nodes can share an OS process); an application
//! that wants its own `metrics::counter!` calls on the same page installs it globally with
//! [`OpsMetrics::install_global`]. Node events (connections up and down, failed
//! authentications) are counted by a task that follows the node's event subscription.

use crate::server::Ops;
use actor_dist::NodeEvent;
use actor_registry::{Kind, Pattern};
use metrics::{counter, gauge, Label};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A node's metrics: its recorder and the handle that renders the Prometheus text page.
#[derive(Clone)]
pub struct OpsMetrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for OpsMetrics {
    fn default() -> Self {
        OpsMetrics::new()
    }
}

impl OpsMetrics {
    /// A new recorder (Prometheus text format).
    pub fn new() -> OpsMetrics {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        OpsMetrics {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Runs `f` with this recorder as the thread's `metrics` recorder.
    pub fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    /// The Prometheus text page.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Makes this recorder the process-wide `metrics` recorder, so the application's own
    /// `metrics::counter!` calls appear on the same page. Once per process; `false` if a
    /// global recorder was already installed.
    pub fn install_global(&self) -> bool {
        struct Shared(Arc<PrometheusRecorder>);
        impl metrics::Recorder for Shared {
            fn describe_counter(
                &self,
                k: metrics::KeyName,
                u: Option<metrics::Unit>,
                d: metrics::SharedString,
            ) {
                self.0.describe_counter(k, u, d)
            }
            fn describe_gauge(
                &self,
                k: metrics::KeyName,
                u: Option<metrics::Unit>,
                d: metrics::SharedString,
            ) {
                self.0.describe_gauge(k, u, d)
            }
            fn describe_histogram(
                &self,
                k: metrics::KeyName,
                u: Option<metrics::Unit>,
                d: metrics::SharedString,
            ) {
                self.0.describe_histogram(k, u, d)
            }
            fn register_counter(
                &self,
                k: &metrics::Key,
                m: &metrics::Metadata<'_>,
            ) -> metrics::Counter {
                self.0.register_counter(k, m)
            }
            fn register_gauge(
                &self,
                k: &metrics::Key,
                m: &metrics::Metadata<'_>,
            ) -> metrics::Gauge {
                self.0.register_gauge(k, m)
            }
            fn register_histogram(
                &self,
                k: &metrics::Key,
                m: &metrics::Metadata<'_>,
            ) -> metrics::Histogram {
                self.0.register_histogram(k, m)
            }
        }
        metrics::set_global_recorder(Shared(self.recorder.clone())).is_ok()
    }
}

/// Node events counted by the event task.
#[derive(Default)]
pub(crate) struct EventCounts {
    pub(crate) up: AtomicU64,
    pub(crate) down: AtomicU64,
    pub(crate) auth_failed: AtomicU64,
}

/// Follows the node's events until `counts` is the last reference left.
pub(crate) fn count_events(ops: &Ops, counts: &Arc<EventCounts>) {
    let mut rx = ops.dist().subscribe();
    let weak = Arc::downgrade(counts);
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let Some(c) = weak.upgrade() else { return };
            let n = match ev {
                NodeEvent::Up(_) => &c.up,
                NodeEvent::Down { .. } => &c.down,
                NodeEvent::AuthFailed { .. } => &c.auth_failed,
            };
            n.fetch_add(1, Ordering::Relaxed);
        }
    });
}

fn ld(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Ops {
    /// Reads every counter the node's layers keep into `m` (one collection pass).
    pub fn collect(&self, m: &OpsMetrics) {
        self.collect_with(m, None)
    }

    pub(crate) fn collect_with(&self, m: &OpsMetrics, events: Option<&EventCounts>) {
        let i = &self.inner;
        let d = &i.dist;
        let node = d.node();
        let infos_max = node
            .process_infos()
            .iter()
            .map(|p| p.message_queue_len)
            .max()
            .unwrap_or(0);
        let load = d.local_load();
        let health = self.health();
        m.with(|| {
            gauge!("actor_processes").set(load.actors as f64);
            gauge!("actor_mailbox_backlog").set(load.backlog as f64);
            gauge!("actor_mailbox_max").set(infos_max as f64);
            gauge!("actor_memory_bytes").set(load.memory as f64);
            gauge!("actor_peers", "kind" => "visible").set(d.nodes().len() as f64);
            gauge!("actor_peers", "kind" => "hidden").set(d.nodes_hidden().len() as f64);
            gauge!("actor_healthy").set(if health.healthy { 1.0 } else { 0.0 });
            gauge!("actor_ready").set(if health.ready { 1.0 } else { 0.0 });
            if let Some(q) = &health.quorum {
                gauge!("actor_quorate").set(if q.quorate { 1.0 } else { 0.0 });
                for p in [
                    crate::protocol::QuorumPhase::Quorate,
                    crate::protocol::QuorumPhase::Deciding,
                    crate::protocol::QuorumPhase::Minority,
                ] {
                    let v = if q.phase == p { 1.0 } else { 0.0 };
                    gauge!("actor_quorum_phase", "phase" => p.as_str()).set(v);
                }
            }
            let s = d.stats();
            for (name, v) in [
                ("actor_dist_bad_frames_total", &s.bad_frames),
                ("actor_dist_unknown_tags_total", &s.unknown_tags),
                ("actor_dist_undelivered_total", &s.undelivered),
                ("actor_dist_auth_failures_total", &s.auth_failures),
                ("actor_dist_setup_failures_total", &s.setup_failures),
                ("actor_dist_refused_by_peer_total", &s.refused_by_peer),
                ("actor_dist_handshake_timeouts_total", &s.handshake_timeouts),
                ("actor_dist_preauth_refused_total", &s.preauth_refused),
                ("actor_dist_preauth_evicted_total", &s.preauth_evicted),
                ("actor_dist_late_replies_total", &s.late_replies),
                ("actor_dist_events_dropped_total", &s.events_dropped),
                ("actor_dist_forged_signals_total", &s.forged_signals),
                ("actor_dist_forged_answers_total", &s.forged_answers),
                ("actor_dist_refused_requests_total", &s.refused_requests),
                ("actor_dist_peers_ignored_total", &s.peers_ignored),
                ("actor_dist_bad_trace_contexts_total", &s.bad_trace_contexts),
            ] {
                counter!(name).absolute(ld(v));
            }
            for t in d.traffic() {
                for (name, dir, v) in [
                    ("actor_dist_peer_frames_total", "out", t.frames_out),
                    ("actor_dist_peer_bytes_total", "out", t.bytes_out),
                    ("actor_dist_peer_frames_total", "in", t.frames_in),
                    ("actor_dist_peer_bytes_total", "in", t.bytes_in),
                ] {
                    counter!(name, "node" => t.node.clone(), "direction" => dir).absolute(v);
                }
            }
            if let Some(e) = events {
                for (ev, v) in [
                    ("up", &e.up),
                    ("down", &e.down),
                    ("auth_failed", &e.auth_failed),
                ] {
                    counter!("actor_dist_node_events_total", "event" => ev).absolute(ld(v));
                }
            }
            for r in &i.registries {
                let scope = Label::new("scope", r.scope().to_string());
                for (kind, k) in [
                    ("name", Kind::Name),
                    ("property", Kind::Property),
                    ("counter", Kind::Counter),
                    ("aggregated", Kind::AggregatedCounter),
                ] {
                    let n = r.count(k, &Pattern::all());
                    gauge!(
                        "actor_registry_entries",
                        vec![scope.clone(), Label::new("kind", kind)]
                    )
                    .set(n as f64);
                }
                gauge!("actor_registry_groups", vec![scope.clone()])
                    .set(r.which_groups().len() as f64);
                gauge!("actor_registry_peers", vec![scope.clone()]).set(r.peers().len() as f64);
                let g = r.stats();
                for (name, v) in [
                    ("actor_registry_conflicts_total", &g.conflicts),
                    ("actor_registry_malformed_total", &g.malformed),
                    ("actor_registry_stale_total", &g.stale),
                    ("actor_registry_bad_resolutions_total", &g.bad_resolutions),
                    ("actor_registry_send_failures_total", &g.send_failures),
                    ("actor_registry_relayed_total", &g.relayed),
                    ("actor_registry_hidden_refused_total", &g.hidden_refused),
                    ("actor_registry_undelivered_total", &g.undelivered),
                    ("actor_registry_skewed_total", &g.skewed),
                ] {
                    counter!(name, vec![scope.clone()]).absolute(ld(v));
                }
            }
            if let Some(l) = &i.locks {
                let s = l.stats();
                for (name, v) in [
                    ("actor_locks_granted_total", &s.granted),
                    ("actor_locks_busy_total", &s.busy),
                    ("actor_locks_refused_total", &s.refused),
                    ("actor_locks_lost_total", &s.lost),
                ] {
                    counter!(name).absolute(ld(v));
                }
                gauge!("actor_locks_resources").set(ld(&s.resources) as f64);
                gauge!("actor_locks_monitors").set(ld(&s.monitors) as f64);
            }
            if let Some(e) = &i.entities {
                let s = e.stats();
                for (name, v) in [
                    ("actor_entity_activations_total", &s.activations),
                    ("actor_entity_passivations_total", &s.passivations),
                    ("actor_entity_fenced_total", &s.fenced),
                    ("actor_entity_exits_total", &s.exits),
                    ("actor_entity_duplicates_total", &s.duplicates),
                ] {
                    counter!(name).absolute(ld(v));
                }
                gauge!("actor_entity_live").set(e.live() as f64);
            }
            if let Some(j) = &i.journal {
                let s = j.stats();
                counter!("actor_journal_commits_total").absolute(s.commits);
                counter!("actor_journal_ops_total").absolute(s.ops);
                counter!("actor_journal_syncs_total").absolute(s.syncs);
                counter!("actor_journal_failed_commits_total").absolute(s.failed_commits);
                gauge!("actor_journal_max_batch").set(s.max_batch as f64);
            }
        });
    }
}
