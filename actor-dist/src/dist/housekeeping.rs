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
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Heartbeats: a tick every eighth of the tick time (5 bytes, ahead of any data), and
/// nodedown with `net_tick_timeout` once no byte has been received for 9/8 of the tick time
/// (liveness counts bytes as they arrive, so a large frame in transit never looks like
/// silence). Liveness is checked every eighth of the tick time on a drift-free interval, so
/// detection falls between 1.125 and 1.25 tick times after the last byte; since a live peer
/// sends a byte at least every eighth of a tick, that is between 1.0 and 1.25 tick times
/// after the peer froze, whatever the phase of the cycle at the freeze (Erlang: 1 to 1.25).
pub(super) async fn tick_loop(inner: Arc<Inner>, conn: Arc<Conn>) {
    watch_liveness(inner.cfg.tick_time, &conn.received, |_| conn.push_tick()).await;
    inner.conn_down(&conn, DownReason::NetTickTimeout);
}

/// Checks of silence (each an eighth of the tick time) before the peer is down: one tick
/// time, plus the eighth a live peer may leave between two bytes.
const SILENT_CHECKS: u32 = 9;

/// Returns once `received` has not moved for 9/8 of `tick` (checked every eighth of it);
/// `each_check` runs at every check with its number (1, 2, ...).
pub(super) async fn watch_liveness(
    tick: Duration,
    received: &AtomicU64,
    mut each_check: impl FnMut(u64),
) {
    let eighth = tick / 8;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + eighth, eighth);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_rx = received.load(Ordering::Relaxed);
    let mut silent = 0u32;
    let mut step = 0u64;
    loop {
        every.tick().await;
        step += 1;
        let rx = received.load(Ordering::Relaxed);
        if rx == last_rx {
            silent += 1;
            if silent >= SILENT_CHECKS {
                return;
            }
        } else {
            silent = 0;
            last_rx = rx;
        }
        each_check(step);
    }
}

/// Node-level chores: drop reply handles whose callers gave up; send load reports.
pub(super) async fn housekeeping(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.replies.lock().retain(|_, (_, d)| !d.is_closed());
        let report = inner.local_load();
        *inner.reported.lock() = Some(report);
        let conns: Vec<_> = inner
            .conns
            .read()
            .values()
            .filter(|c| c.is_up())
            .cloned()
            .collect();
        for c in conns {
            inner.send_prio(&c, &Frame::Load(report));
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
                let up_at = tokio::time::Instant::now();
                let mut rx = conn.phase.subscribe();
                let _ = rx.wait_for(|p| matches!(p, Phase::Down(_))).await;
                // A connection that went down soon after coming up (a flapping link, or a
                // peer's service closing it on purpose) is retried with backoff, not at once:
                // reconnecting in a tight loop would only repeat it.
                if up_at.elapsed() >= cap {
                    delay = None;
                    continue;
                }
                let d = delay.map_or(base, |d| (d * 2).min(cap));
                delay = Some(d);
                tokio::time::sleep(d).await;
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

/// Attempts of a transitive connect (the first included) before it is left to other means
/// (the peer dialling us, an auto-connect on use, discovery).
pub(super) const LEARNT_ATTEMPTS: u32 = 8;

/// Follows a transitive connect to a node named in a peer list (`first` is its first
/// attempt): if it fails, tries again with exponential backoff and jitter
/// (`DistConfig::backoff`), up to [`LEARNT_ATTEMPTS`] attempts (with the default backoff, for
/// about 13 s). Without it, one failure (a dial evicted by the peer's pre-authentication bound
/// in a connect storm, a set-up timeout under load) leaves the pair unconnected for good
/// when neither side learns of the other again. Stops as soon as the node is connected,
/// whichever side dialled, or the node shuts down; a connection already being set up to the
/// node is waited for, not duplicated.
pub(super) async fn connect_learnt(
    inner: Weak<Inner>,
    first: Arc<Conn>,
    name: String,
    addr: SocketAddr,
) {
    let id = NodeId::from_name(&name);
    let mut conn = first;
    let mut delay = None::<Duration>;
    for attempt in 1..=LEARNT_ATTEMPTS {
        if wait_up(&conn).await.is_ok() || attempt == LEARNT_ATTEMPTS {
            return;
        }
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let (base, cap) = strong.cfg.backoff;
        let d = delay.map_or(base, |d| (d * 2).min(cap));
        delay = Some(d);
        let jitter = strong.rng.lock().gen_range(0.5..1.5);
        drop(strong);
        tokio::time::sleep(d.mul_f64(jitter)).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if strong.shut.load(Ordering::SeqCst) {
            return;
        }
        // The address we know now (a configured one wins over the peer list's).
        let addr = match strong.known.lock().get(&id) {
            Some((n, a)) if *n == name => *a,
            Some(_) => return,
            None => addr,
        };
        conn = strong.start_connect(id, name.clone(), addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    /// A liveness watch of a fresh byte counter (the counter, the start, and the watch's task
    /// answering when it declared the peer down).
    fn watch(tick: Duration) -> (Arc<AtomicU64>, Instant, tokio::task::JoinHandle<Instant>) {
        let received = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let watcher = tokio::spawn({
            let received = received.clone();
            async move {
                watch_liveness(tick, &received, |_| {}).await;
                Instant::now()
            }
        });
        (received, start, watcher)
    }

    /// A peer that sends bytes at some phase of the check cycle and then freezes is declared
    /// down between 1.0 and 1.25 tick times after its last byte, whatever the phase.
    #[tokio::test(start_paused = true)]
    async fn a_frozen_peer_is_down_between_1_and_1_25_ticks_after_its_last_byte() {
        let tick = Duration::from_millis(800);
        for phase in 0..40u32 {
            let (received, start, watcher) = watch(tick);
            // Traffic for a while (a byte every 10 ms: a large transfer trickling in), then
            // the last byte at a phase that sweeps a whole check period.
            let mut t = start;
            while t < start + tick * 2 {
                t += Duration::from_millis(10);
                tokio::time::sleep_until(t).await;
                received.fetch_add(1, Ordering::Relaxed);
            }
            let last = t + tick / 8 * phase / 40;
            tokio::time::sleep_until(last).await;
            received.fetch_add(1, Ordering::Relaxed);
            let down = watcher.await.unwrap();
            let after = down - last;
            assert!(
                after >= tick && after <= tick * 5 / 4,
                "phase {phase}: down {after:?} after the last byte"
            );
        }
    }

    /// A live peer ticks every eighth of the tick time; it freezes (a cut) at any phase of
    /// its tick cycle and of ours: the cut is detected between 1.0 and 1.25 tick times later.
    #[tokio::test(start_paused = true)]
    async fn a_cut_is_detected_between_1_and_1_25_ticks_after_it_whatever_the_phase() {
        let tick = Duration::from_millis(800);
        for phase in 0..40u32 {
            let (received, start, watcher) = watch(tick);
            // The peer's own tick cycle is offset from ours by `phase`.
            let offset = tick / 8 * phase / 40;
            let cut = start + tick * 3 + tick * phase / 40;
            let mut t = start + offset;
            while t + tick / 8 <= cut {
                t += tick / 8;
                tokio::time::sleep_until(t).await;
                received.fetch_add(5, Ordering::Relaxed);
            }
            tokio::time::sleep_until(cut).await;
            let down = watcher.await.unwrap();
            let after = down - cut;
            assert!(
                after >= tick && after <= tick * 5 / 4,
                "phase {phase}: down {after:?} after the cut"
            );
        }
    }
}
