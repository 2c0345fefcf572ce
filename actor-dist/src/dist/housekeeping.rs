//! Housekeeping: heartbeats and liveness per connection, load reports, sweeping reply
//! handles whose callers gave up, and reconnecting to seeds.

use super::setup::wait_up;
use super::Inner;
use crate::conn::{Conn, Phase};
use crate::events::DownReason;
use crate::wire::{Frame, LoadReport};
use actor_core::NodeId;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

impl Inner {
    pub(crate) fn local_load(&self) -> LoadReport {
        LoadReport {
            actors: self.node.process_count() as u64,
            backlog: self.node.backlog() as u64,
            memory: crate::rss_bytes(),
        }
    }
}

/// Heartbeats: a tick every quarter tick time when nothing else was sent; nodedown with
/// `net_tick_timeout` once nothing has been received for a whole tick time. Liveness is
/// checked every eighth of the tick time on a drift-free interval, so detection falls
/// between 1 and 1.125 tick times after the last frame (Erlang: between 1 and 1.25).
pub(super) async fn tick_loop(inner: Arc<Inner>, conn: Arc<Conn>) {
    let eighth = inner.cfg.tick_time / 8;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + eighth, eighth);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rx = conn.received.load(Ordering::Relaxed);
    let mut last_tx = conn.sent_tick();
    let mut silent = 0u32;
    let mut step = 0u64;
    loop {
        every.tick().await;
        step += 1;
        let rx = conn.received.load(Ordering::Relaxed);
        if rx == last_rx {
            silent += 1;
            if silent >= 8 {
                inner.conn_down(&conn, DownReason::NetTickTimeout);
                return;
            }
        } else {
            silent = 0;
            last_rx = rx;
        }
        if step.is_multiple_of(2) {
            if conn.sent_tick() == last_tx {
                let _ = inner.send_frame(&conn, &Frame::Tick, true);
            }
            last_tx = conn.sent_tick();
        }
    }
}

/// Node-level chores: drop reply handles whose callers gave up; send load reports.
pub(super) async fn housekeeping(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.replies.lock().retain(|_, (_, d)| !d.is_closed());
        let report = inner.local_load();
        let conns: Vec<_> = inner
            .conns
            .read()
            .values()
            .filter(|c| c.is_up())
            .cloned()
            .collect();
        for c in conns {
            let _ = inner.send_frame(&c, &Frame::Load(report), true);
        }
    }
}

/// Keeps a seed connected, reconnecting with exponential backoff and jitter.
pub(super) async fn keep_connected(inner: Weak<Inner>, name: String, addr: SocketAddr) {
    let id = NodeId::from_name(&name);
    let mut delay = None::<Duration>;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.known.lock().insert(id, (name.clone(), addr));
        let conn = strong.start_connect(id, name.clone(), addr);
        let (base, cap) = strong.cfg.backoff;
        drop(strong);
        match wait_up(&conn).await {
            Ok(_) => {
                delay = None;
                let mut rx = conn.phase.subscribe();
                let _ = rx.wait_for(|p| matches!(p, Phase::Down(_))).await;
            }
            Err(_) => {
                let d = delay.map_or(base, |d| (d * 2).min(cap));
                delay = Some(d);
                let jitter = match inner.upgrade() {
                    Some(s) => s.rng.lock().gen_range(0.5..1.5),
                    None => return,
                };
                tokio::time::sleep(d.mul_f64(jitter)).await;
            }
        }
    }
}
