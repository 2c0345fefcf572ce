//! Pre-authentication bounds: what an accepted socket may hold before its peer has proved
//! the cookie.
//!
//! Every accepted socket gets a ticket here before anything else happens. The tickets are
//! bounded in total (`max_pending_handshakes`) and per source address
//! (`max_pending_per_ip`). When a bound is reached, the oldest socket that has not yet sent a
//! complete `Hello` is closed to make room (then the oldest one that has not authenticated);
//! if every pending socket has authenticated, the new one is refused. So idle or slow sockets
//! cannot keep a real peer out: a real handshake takes a round trip or two, and only a flood
//! faster than that could evict it. Nothing queues: a socket is admitted or closed at once.
//! Each socket's whole set-up (TLS and handshake) has one deadline from `accept`.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::task::AbortHandle;
use tokio::time::{Duration, Instant};

/// How far a pending socket has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Accepted; no complete `Hello` yet.
    Connected,
    /// Its `Hello` arrived; not authenticated yet.
    Hello,
    /// Authenticated: never evicted.
    Authenticated,
}

struct Pending {
    ip: IpAddr,
    stage: Stage,
    task: Option<AbortHandle>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// By arrival order.
    pending: BTreeMap<u64, Pending>,
    per_ip: HashMap<IpAddr, usize>,
}

impl State {
    fn remove(&mut self, seq: u64) -> Option<Pending> {
        let p = self.pending.remove(&seq)?;
        if let Some(n) = self.per_ip.get_mut(&p.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&p.ip);
            }
        }
        Some(p)
    }

    /// The oldest socket that may be closed to make room (from `ip` only, if given).
    fn victim(&self, ip: Option<IpAddr>) -> Option<u64> {
        let mut best: Option<(Stage, u64)> = None;
        for (&seq, p) in &self.pending {
            if p.stage == Stage::Authenticated || ip.is_some_and(|ip| ip != p.ip) {
                continue;
            }
            if best.is_none_or(|(stage, _)| p.stage < stage) {
                best = Some((p.stage, seq));
                if p.stage == Stage::Connected {
                    break; // the oldest of the cheapest kind
                }
            }
        }
        best.map(|(_, seq)| seq)
    }
}

/// Why an accepted socket was closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Too many sockets from this address are authenticating.
    PerAddress,
    /// Too many sockets are authenticating.
    Full,
}

/// The bounds on sockets waiting for their handshake.
pub(super) struct Admission {
    state: Mutex<State>,
    max_pending: usize,
    max_per_ip: usize,
}

impl Admission {
    pub(super) fn new(max_pending: usize, max_per_ip: usize) -> Arc<Admission> {
        Arc::new(Admission {
            state: Mutex::new(State::default()),
            max_pending: max_pending.max(1),
            max_per_ip: max_per_ip.max(1),
        })
    }

    /// Admits a socket from `ip`, closing older unauthenticated ones if a bound is reached,
    /// and starts its set-up with `start` (called once the ticket is registered, so that the
    /// task can use it, and without the lock). Returns how many older sockets it closed.
    pub(super) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        start: impl FnOnce(Ticket) -> AbortHandle,
    ) -> Result<u64, Refusal> {
        let mut st = self.state.lock();
        let mut evicted = 0;
        if st.per_ip.get(&ip).copied().unwrap_or(0) >= self.max_per_ip {
            let seq = st.victim(Some(ip)).ok_or(Refusal::PerAddress)?;
            evict(&mut st, seq);
            evicted += 1;
        }
        if st.pending.len() >= self.max_pending {
            let seq = st.victim(None).ok_or(Refusal::Full)?;
            evict(&mut st, seq);
            evicted += 1;
        }
        let seq = st.next;
        st.next += 1;
        st.pending.insert(
            seq,
            Pending {
                ip,
                stage: Stage::Connected,
                task: None,
            },
        );
        *st.per_ip.entry(ip).or_default() += 1;
        // Started without the lock: a spawn on a runtime that is shutting down drops the task
        // at once, and the ticket's drop takes the lock (a self-deadlock when it was held).
        // The ticket is registered already; a socket evicted before its abort handle is stored
        // below finds `authenticated() == false` and changes nothing until its deadline.
        drop(st);
        let task = start(Ticket {
            adm: self.clone(),
            seq,
        });
        if let Some(p) = self.state.lock().pending.get_mut(&seq) {
            p.task = Some(task);
        }
        Ok(evicted)
    }

    /// Sockets waiting for their handshake now.
    #[cfg(test)]
    pub(super) fn pending(&self) -> usize {
        self.state.lock().pending.len()
    }
}

fn evict(st: &mut State, seq: u64) {
    if let Some(p) = st.remove(seq) {
        if let Some(t) = p.task {
            t.abort(); // drops the socket: the peer sees it closed
        }
    }
}

/// A socket's place among the pending ones; dropping it frees the place.
pub(super) struct Ticket {
    adm: Arc<Admission>,
    seq: u64,
}

impl Ticket {
    /// The socket's `Hello` arrived: it is now evicted only after every idle socket.
    pub(super) fn hello(&self) {
        if let Some(p) = self.adm.state.lock().pending.get_mut(&self.seq) {
            p.stage = p.stage.max(Stage::Hello);
        }
    }

    /// The peer proved the cookie: the socket can no longer be evicted. `false` if it
    /// already was (its task is being aborted: it must change nothing).
    pub(super) fn authenticated(&self) -> bool {
        match self.adm.state.lock().pending.get_mut(&self.seq) {
            Some(p) => {
                p.stage = Stage::Authenticated;
                true
            }
            None => false,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.adm.state.lock().remove(self.seq);
    }
}

/// Lets through at most `burst` warnings per `period`, and says how many it held back.
pub(super) struct WarnLimit {
    state: Mutex<(Option<Instant>, u32, u64)>,
    burst: u32,
    period: Duration,
}

impl WarnLimit {
    pub(super) fn new(burst: u32, period: Duration) -> WarnLimit {
        WarnLimit {
            state: Mutex::new((None, 0, 0)),
            burst,
            period,
        }
    }

    /// `Some(suppressed since the last one let through)` if this warning may be logged.
    pub(super) fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        let mut st = self.state.lock();
        let (start, count, suppressed) = &mut *st;
        if start.is_none_or(|s| now.duration_since(s) >= self.period) {
            *start = Some(now);
            *count = 0;
        }
        if *count < self.burst {
            *count += 1;
            Some(std::mem::take(suppressed))
        } else {
            *suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[tokio::test]
    async fn bounds_evict_the_oldest_idle_socket_then_refuse() {
        let adm = Admission::new(3, 2);
        let keep = std::cell::RefCell::new(Vec::new());
        let start = |t: Ticket| {
            keep.borrow_mut().push(t);
            tokio::spawn(std::future::pending::<()>()).abort_handle()
        };
        // Two from one address fill its quota; a third evicts the oldest of them.
        assert_eq!(adm.admit(ip(1), start), Ok(0));
        assert_eq!(adm.admit(ip(1), start), Ok(0));
        assert_eq!(adm.admit(ip(1), start), Ok(1));
        assert_eq!(adm.pending(), 2);
        assert!(!keep.borrow()[0].authenticated(), "the oldest was evicted");
        // A socket that said Hello is evicted after idle ones; an authenticated one never.
        keep.borrow()[1].hello();
        assert!(keep.borrow()[2].authenticated());
        assert_eq!(adm.admit(ip(2), start), Ok(0));
        assert_eq!(adm.pending(), 3);
        // Full: the oldest idle socket (from ip 2) goes, not the one that said Hello.
        assert_eq!(adm.admit(ip(3), start), Ok(1));
        assert!(
            !keep.borrow()[3].authenticated(),
            "the idle socket was evicted"
        );
        assert!(keep.borrow()[1].authenticated());
        assert!(keep.borrow()[4].authenticated());
        // Everyone authenticated: a new socket is refused, nothing is queued.
        assert_eq!(adm.admit(ip(4), start), Err(Refusal::Full));
        assert_eq!(adm.pending(), 3);
        keep.borrow_mut().clear();
        assert_eq!(adm.pending(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn warnings_are_rate_limited() {
        let w = WarnLimit::new(2, Duration::from_secs(1));
        assert_eq!(w.allow(), Some(0));
        assert_eq!(w.allow(), Some(0));
        assert_eq!(w.allow(), None);
        assert_eq!(w.allow(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(w.allow(), Some(2));
    }
}
