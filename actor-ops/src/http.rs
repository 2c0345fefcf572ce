//! The opt-in HTTP listener: `/metrics` (Prometheus text), `/health` and `/ready`
//! (Kubernetes probes), on axum.
//!
//! - `/health`: 200 while the node is up and quorate (with a [`QuorumSource`](crate::QuorumSource)),
//!   or, without one, while it sees a majority of its expected cluster; 503 in a minority,
//!   or with no peers when peers are expected. The body says why.
//! - `/ready`: 200 once healthy and every registry scope shown is synced with every
//!   connected visible node; 503 before.
//! - `/metrics`: collects (see [`crate::metrics`]) and renders.

use crate::metrics::{count_events, EventCounts, OpsMetrics};
use crate::server::Ops;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running listener; stops when dropped (or with [`OpsHttp::stop`]).
pub struct OpsHttp {
    addr: SocketAddr,
    metrics: OpsMetrics,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl OpsHttp {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The recorder it renders.
    pub fn metrics(&self) -> &OpsMetrics {
        &self.metrics
    }

    /// Stops the listener and the collector.
    pub fn stop(self) {}
}

impl Drop for OpsHttp {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Clone)]
struct AppState {
    ops: Ops,
    metrics: OpsMetrics,
    events: Arc<EventCounts>,
}

impl Ops {
    /// Serves `/metrics`, `/health` and `/ready` on `addr` (port 0 picks one), and collects
    /// the metrics every `interval` as well as at every scrape.
    pub async fn serve(&self, addr: SocketAddr, interval: Duration) -> std::io::Result<OpsHttp> {
        let metrics = OpsMetrics::new();
        let events = Arc::new(EventCounts::default());
        count_events(self, &events);
        let state = AppState {
            ops: self.clone(),
            metrics: metrics.clone(),
            events: events.clone(),
        };
        let app = Router::new()
            .route("/metrics", get(render))
            .route("/health", get(health))
            .route("/ready", get(ready))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "ops listener stopped");
            }
        });
        let weak = Arc::downgrade(&self.inner);
        let collector = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Ops { inner }.collect_with(&state.metrics, Some(&state.events));
            }
        });
        Ok(OpsHttp {
            addr,
            metrics,
            tasks: vec![server.abort_handle(), collector.abort_handle()],
        })
    }
}

async fn render(State(s): State<AppState>) -> String {
    s.ops.collect_with(&s.metrics, Some(&s.events));
    s.metrics.render()
}

async fn health(State(s): State<AppState>) -> (StatusCode, String) {
    let h = s.ops.health();
    let code = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, h.reason)
}

async fn ready(State(s): State<AppState>) -> (StatusCode, String) {
    let h = s.ops.health();
    let code = if h.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, h.reason)
}
