//! [`Discovery`]: the task on a node that polls a strategy and dials what it finds.

use super::dns::{Dns, HostResolution};
use super::{Peer, Strategy};
use actor_dist::{Dist, NodeResolver};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// How the [`Discovery`] runner polls and dials.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// Time between two polls of the strategy (libcluster's `polling_interval`).
    pub interval: Duration,
    /// A poll that takes longer fails (counted; the previous answer stays).
    pub poll_timeout: Duration,
    /// Backoff of a peer whose dial failed: first delay and cap (doubling, jittered 0.5..1.5).
    pub backoff: (Duration, Duration),
    /// Peers taken from one answer; the rest are ignored and counted.
    pub max_peers: usize,
    /// How a node name `name@host` resolves when no peer of the current answer has it.
    pub resolve_hosts: Option<(Dns, HostResolution)>,
    /// Seed of the jitter; `None`: from the OS.
    pub rng_seed: Option<u64>,
}

impl Default for DiscoveryConfig {
    /// Poll every 5 s (timeout 10 s), backoff 500 ms to 30 s, at most 1024 peers, no host
    /// resolution.
    fn default() -> Self {
        DiscoveryConfig {
            interval: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(10),
            backoff: (Duration::from_millis(500), Duration::from_secs(30)),
            max_peers: 1024,
            resolve_hosts: None,
            rng_seed: None,
        }
    }
}

impl DiscoveryConfig {
    /// Sets the poll interval.
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }

    /// Sets the poll timeout.
    pub fn poll_timeout(mut self, d: Duration) -> Self {
        self.poll_timeout = d;
        self
    }

    /// Sets the dial backoff (first delay, cap).
    pub fn backoff(mut self, first: Duration, cap: Duration) -> Self {
        self.backoff = (first, cap);
        self
    }

    /// Sets the bound on peers per answer.
    pub fn max_peers(mut self, n: usize) -> Self {
        self.max_peers = n;
        self
    }

    /// Resolves `name@host` through `dns` as `how` says, when the strategy's answer does not
    /// name the node.
    pub fn resolve_hosts(mut self, dns: Dns, how: HostResolution) -> Self {
        self.resolve_hosts = Some((dns, how));
        self
    }

    /// Seeds the jitter.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }
}

/// One peer of the current answer, as [`Discovery::status`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its name: given by the strategy, or learnt from the peer.
    pub name: Option<String>,
    /// Whether it is connected now.
    pub connected: bool,
    /// Failed dials in a row.
    pub failures: u32,
    /// The address is this node's own (skipped).
    pub is_self: bool,
}

/// What a [`Discovery`] runner knows and has done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryStatus {
    /// The peers of the answer in force (the last non-empty, successful one), by address.
    pub peers: Vec<PeerStatus>,
    /// How many of them are connected (this node not counted).
    pub connected: usize,
    /// Polls of the strategy.
    pub polls: u64,
    /// Polls that answered no peer (the previous answer stayed).
    pub empty_answers: u64,
    /// Polls that failed or timed out (the previous answer stayed).
    pub poll_errors: u64,
    /// Peers beyond [`DiscoveryConfig::max_peers`] ignored, summed over polls.
    pub peers_ignored: u64,
    /// Dials started.
    pub dial_attempts: u64,
    /// Dials that failed.
    pub dial_failures: u64,
    /// The last poll error, if any.
    pub last_error: Option<String>,
}

/// A peer of the answer in force, in the runner's hands.
struct PeerState {
    name: Option<String>,
    failures: u32,
    next_try: Instant,
    dialing: bool,
    is_self: bool,
}

struct State {
    peers: BTreeMap<SocketAddr, PeerState>,
    status: DiscoveryStatus,
    rng: StdRng,
    warned: Option<Instant>,
    suppressed: u64,
}

struct Shared {
    dist: Dist,
    cfg: DiscoveryConfig,
    state: Mutex<State>,
    wake: Notify,
    poll_requested: AtomicBool,
}

/// Discovery on one node: polls a [`Strategy`] every [`DiscoveryConfig::interval`], dials the
/// peers it is not connected to, and resolves node names for the node's connects (see the
/// [module docs](super)). Runs until [`stop`](Discovery::stop)ped or dropped.
pub struct Discovery {
    shared: Arc<Shared>,
    task: AbortHandle,
}

impl Discovery {
    /// Starts discovery on `dist`'s node with `strategy`, and installs its resolver on `dist`
    /// ([`Dist::set_resolver`]). Needs a tokio runtime.
    pub fn start(dist: &Dist, strategy: impl Strategy, cfg: DiscoveryConfig) -> Discovery {
        let rng = match cfg.rng_seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let shared = Arc::new(Shared {
            dist: dist.clone(),
            cfg,
            state: Mutex::new(State {
                peers: BTreeMap::new(),
                status: DiscoveryStatus::default(),
                rng,
                warned: None,
                suppressed: 0,
            }),
            wake: Notify::new(),
            poll_requested: AtomicBool::new(false),
        });
        dist.set_resolver(Some(Arc::new(Resolver(Arc::downgrade(&shared)))));
        let task = tokio::spawn(run(shared.clone(), Box::new(strategy))).abort_handle();
        Discovery { shared, task }
    }

    /// What the runner knows and has done.
    pub fn status(&self) -> DiscoveryStatus {
        let connected: HashSet<String> = self.shared.dist.nodes_connected().into_iter().collect();
        let st = self.shared.state.lock();
        let mut status = st.status.clone();
        status.peers = st
            .peers
            .iter()
            .map(|(addr, p)| PeerStatus {
                addr: *addr,
                name: p.name.clone(),
                connected: p.name.as_ref().is_some_and(|n| connected.contains(n)),
                failures: p.failures,
                is_self: p.is_self,
            })
            .collect();
        status.connected = status.peers.iter().filter(|p| p.connected).count();
        status
    }

    /// Polls the strategy now instead of at the next interval.
    pub fn poll_now(&self) {
        self.shared.poll_requested.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Stops polling and dialling, and removes the resolver from the node. Connections stay.
    pub fn stop(self) {
        // Drop does it.
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.dist.set_resolver(None);
    }
}

/// The delay before the next dial of a peer that failed `failures` times in a row (at least
/// once): `first` doubled per further failure, at most `cap`, times `jitter` (0.5..1.5), and
/// never above `cap`.
pub(crate) fn backoff(failures: u32, (first, cap): (Duration, Duration), jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    first
        .saturating_mul(1u32 << doublings)
        .min(cap)
        .mul_f64(jitter)
        .min(cap)
}

async fn run(shared: Arc<Shared>, strategy: Box<dyn Strategy>) {
    let mut events = shared.dist.subscribe();
    let mut next_poll = Instant::now();
    loop {
        let requested = shared.poll_requested.swap(false, Ordering::SeqCst);
        if requested || Instant::now() >= next_poll {
            poll(&shared, strategy.as_ref()).await;
            next_poll = Instant::now() + shared.cfg.interval;
        }
        let due = dial_due(&shared);
        let wake = due.map_or(next_poll, |d| d.min(next_poll));
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = shared.wake.notified() => {}
            ev = events.recv() => {
                // A peer going down is dialled again (it may be back at once); other events
                // need nothing. The event stream ends only with the node's distribution.
                if ev.is_none() {
                    return;
                }
                while events.try_recv().is_ok() {}
            }
        }
    }
}

/// Asks the strategy, and makes a non-empty, successful answer the one in force.
async fn poll(shared: &Shared, strategy: &dyn Strategy) {
    let answer = tokio::time::timeout(shared.cfg.poll_timeout, strategy.discover()).await;
    let mut st = shared.state.lock();
    st.status.polls += 1;
    let mut found = match answer {
        Ok(Ok(found)) if !found.is_empty() => found,
        Ok(Ok(_)) => {
            st.status.empty_answers += 1;
            warn_limited(
                &mut st,
                "discovery answered no peer; keeping the previous answer",
            );
            return;
        }
        Ok(Err(e)) => return poll_failed(&mut st, e.to_string()),
        Err(_) => return poll_failed(&mut st, "timed out".into()),
    };
    if found.len() > shared.cfg.max_peers {
        st.status.peers_ignored += (found.len() - shared.cfg.max_peers) as u64;
        found.truncate(shared.cfg.max_peers);
    }
    let now = Instant::now();
    let me = shared.dist.name().to_string();
    let local = shared.dist.local_addr();
    let fresh: BTreeMap<SocketAddr, Option<String>> = found
        .into_iter()
        .map(|Peer { name, addr }| (addr, name))
        .collect();
    // Vanished peers are no longer dialled; their connections stay.
    st.peers.retain(|addr, _| fresh.contains_key(addr));
    for (addr, name) in fresh {
        let p = st.peers.entry(addr).or_insert(PeerState {
            name: None,
            failures: 0,
            next_try: now,
            dialing: false,
            is_self: false,
        });
        if name.is_some() && p.name != name {
            p.name = name;
            p.failures = 0;
            p.next_try = now;
        }
        p.is_self = p.is_self || addr == local || p.name.as_deref() == Some(me.as_str());
    }
}

fn poll_failed(st: &mut State, e: String) {
    st.status.poll_errors += 1;
    warn_limited(
        st,
        &format!("discovery poll failed: {e}; keeping the previous answer"),
    );
    st.status.last_error = Some(e);
}

/// At most one warning per 10 s; the others are counted and reported with the next.
fn warn_limited(st: &mut State, msg: &str) {
    let now = Instant::now();
    if st.warned.is_some_and(|t| now < t + Duration::from_secs(10)) {
        st.suppressed += 1;
        return;
    }
    tracing::warn!(suppressed = st.suppressed, "{msg}");
    st.warned = Some(now);
    st.suppressed = 0;
}

/// Starts the dials that are due; returns when the next one will be.
fn dial_due(shared: &Arc<Shared>) -> Option<Instant> {
    let connected: HashSet<String> = shared.dist.nodes_connected().into_iter().collect();
    let now = Instant::now();
    let mut next = None::<Instant>;
    let mut st = shared.state.lock();
    let mut start = Vec::new();
    for (addr, p) in st.peers.iter_mut() {
        let up = p.name.as_ref().is_some_and(|n| connected.contains(n));
        if p.is_self || p.dialing || up {
            continue;
        }
        if p.next_try <= now {
            p.dialing = true;
            start.push((*addr, p.name.clone()));
        } else {
            next = Some(next.map_or(p.next_try, |n| n.min(p.next_try)));
        }
    }
    st.status.dial_attempts += start.len() as u64;
    drop(st);
    for (addr, name) in start {
        tokio::spawn(dial(shared.clone(), addr, name));
    }
    next
}

/// One dial of the peer at `addr`: by name, or first asking the peer for it.
async fn dial(shared: Arc<Shared>, addr: SocketAddr, name: Option<String>) {
    let dist = &shared.dist;
    let name = match name {
        Some(n) => Ok(n),
        None => dist.node_name_at(addr).await,
    };
    let is_self = matches!(&name, Ok(n) if n == dist.name());
    let res = match &name {
        Ok(_) if is_self => Ok(()),
        Ok(n) => dist.connect(n, addr).await.map(|_| ()),
        Err(e) => Err(e.clone()),
    };
    let mut guard = shared.state.lock();
    let st = &mut *guard;
    let Some(p) = st.peers.get_mut(&addr) else {
        return; // vanished from the answer meanwhile
    };
    p.dialing = false;
    if let Ok(n) = &name {
        p.name.get_or_insert_with(|| n.clone());
    }
    p.is_self |= is_self;
    match res {
        Ok(()) => p.failures = 0,
        Err(e) => {
            p.failures += 1;
            let jitter = st.rng.gen_range(0.5..1.5);
            p.next_try = Instant::now() + backoff(p.failures, shared.cfg.backoff, jitter);
            st.status.dial_failures += 1;
            tracing::debug!(%addr, peer = ?p.name, failures = p.failures, reason = ?e, "discovery dial failed");
        }
    }
    drop(guard);
    shared.wake.notify_one();
}

/// The node's resolver while discovery runs: the answer in force, then host resolution.
struct Resolver(Weak<Shared>);

impl NodeResolver for Resolver {
    fn resolve<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SocketAddr, String>> {
        Box::pin(async move {
            let shared = self.0.upgrade().ok_or("discovery stopped")?;
            let found = shared
                .state
                .lock()
                .peers
                .iter()
                .find(|(_, p)| p.name.as_deref() == Some(name))
                .map(|(addr, _)| *addr);
            if let Some(addr) = found {
                return Ok(addr);
            }
            match &shared.cfg.resolve_hosts {
                Some((dns, how)) => how.resolve(dns, name).await,
                None => Err("not in the discovery answer".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = (Duration::from_millis(100), Duration::from_secs(2));
        let plain: Vec<_> = (1..=7).map(|f| backoff(f, b, 1.0).as_millis()).collect();
        assert_eq!(plain, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff(1, b, 0.5), Duration::from_millis(50));
        assert_eq!(
            backoff(6, b, 1.49),
            Duration::from_secs(2),
            "jitter never passes the cap"
        );
        assert_eq!(
            backoff(u32::MAX, b, 1.0),
            Duration::from_secs(2),
            "no overflow"
        );
        assert_eq!(backoff(0, b, 1.0), Duration::from_millis(100));
    }
}
