//! Membership, health, partitions, split-brain decisions and the quorum state.
//!
//! # The model
//!
//! Every node runs one [`Membership`] over its [`Dist`]. It keeps a **view**: the members it
//! knows, each with its age (a start stamp carried in what nodes exchange; smaller is older),
//! incarnation, application version and roles, and the **health** of each peer as seen from
//! here: *healthy*, *degraded* after `degraded_after` missed heartbeats, *unhealthy* after
//! `unhealthy_after`. A heartbeat is a pull of the peer's **reachability report** (an rpc in
//! actor-dist's control lane, so user backpressure never delays it; the answer is known to
//! come from the node asked). A report lists every member the reporter knows with the health
//! it sees; it is pulled every `heartbeat` (default `T/8`, `T` the net tick time), answered
//! with "unchanged" when its sequence number is the one the puller holds, and pulled at once
//! when the reporter pokes its peers because it changed. Reports are bounded
//! (`max_members`), checked (the sender must be the node asked; sizes, duplicates), and only
//! the reports of peers that are healthy from here are read: a stale report expires with
//! its sender's health.
//!
//! Members **join** and become **up** (counted) only when every known node reaches every
//! other and knows it (Akka's convergence): a node that appears on one side of a partition
//! is not counted until the partition heals, so sides never disagree on who counts.
//!
//! # The partition picture
//!
//! From its own links and the fresh reports, each node builds the reachability graph of the
//! up members and computes the [`PartitionPicture`]: components, the nodes only indirectly
//! connected, and the nodes to **drop** so that its component becomes fully connected (see
//! [`picture`](PartitionPicture) for the rule: most missing links first, then one-sided
//! accusers, then the youngest). A node speaks only for its own links, so every node with the
//! same reports computes the same picture, and a lying or malformed report can at most cut
//! its sender off: no single report makes a node count itself out.
//!
//! Two readings of the graph are kept. The **shared** one, which every node computes alike,
//! reads a link as missing only once an endpoint calls the other unhealthy; decisions are
//! taken on it. The **own** one additionally counts this node's links only while the peer is
//! healthy and connected (and the nodes it fenced off as gone). A node is quorate when both
//! readings put it on a side the strategy keeps: when it hears from every up member, its
//! own side is all of them; otherwise the side its own reading leaves it. A node therefore
//! stops counting a silent peer on its side after `degraded_after` missed heartbeats, while
//! nobody counts it out before `unhealthy_after`: a cut-off node is read-only before the
//! other side counts it out; and a node coming back is quorate only once the others'
//! reports count it in again.
//!
//! # Decisions
//!
//! Once the strict picture has stayed the same for `stable_after` (default `T`), each node
//! decides for its side with the configured [`Strategy`] (keep-majority with a deterministic
//! tie-break, keep-oldest, static quorum, configured master, lease-majority, down-all):
//!
//! - **overlapping partitions** end as clean components: the side disconnects the dropped
//!   nodes (and any node of another component still connected), a dropped node disconnects
//!   from its component, and both keep each other away for `fence` (default
//!   `2 × stable_after`); then they may reconnect, and if the links are still broken the
//!   same rule drops the same node again;
//! - a side the strategy downs is [`QuorumState::Minority`]; with [`DownAction::ReadOnly`]
//!   (default) it stays up and read-only and becomes quorate again as soon as it is part of
//!   a quorate side after the heal; with [`DownAction::Stop`] its nodes shut distribution down
//!   ([`MemberEvent::Downed`]) and the winners remove them (a restarted node joins anew);
//! - when the picture keeps changing for `stable_after` plus `down_all_when_unstable`
//!   (default `3/4 × stable_after` beyond the `(unhealthy_after + 2)·h` a cut takes to
//!   settle), every node is downed until a stable picture is decided again (flapping links).
//!
//! # The quorum state
//!
//! [`Quorum`] ([`Membership::quorum`]) reads and watches [`QuorumState`]: *quorate* when this
//! node's own side satisfies the strategy now, *minority* once decided down, *deciding* in
//! between; [`Quorum::check`] returns the typed [`NotQuorate`] that write paths return.
//!
//! **Bounds** (heartbeat `h`, defaults `h = T/8`, `degraded_after = 1`,
//! `unhealthy_after = 5`, `stable_after = T`; `T = 2 s` gives the figures in brackets):
//! - a node cut off from the majority is read-only at most `(degraded_after + 2)·h` after the
//!   cut (`3h`, [750 ms]); at once when its connections close;
//! - nobody counts it out (strict picture) before `unhealthy_after·h` after the cut (`5h`,
//!   [1.25 s]); the gap is what keeps two sides from being quorate at once;
//! - sides decide `stable_after` after the last change of the picture, which settles about
//!   `(unhealthy_after + 2)·h` after the cut or at the net tick timeout (`T` to `1.25 T`),
//!   whichever first ([about 3.5 s]);
//! - after a heal, a read-only side is quorate again one report round after its connections
//!   are back (the reconnect backoff of `DistConfig::backoff` plus a heartbeat); a node
//!   dropped from an overlapping partition waits for its fence to expire first.
//!
//! # Graceful leave
//!
//! [`Membership::leave`] runs the leave hooks ([`Membership::on_leave`]: cluster singletons
//! hand over there), marks the report *leaving*, and asks each peer to confirm; a peer checks
//! with the leaver's own report, counts it out ([`MemberEvent::Left`]), and when the leaver
//! says goodbye closes the connection with [`DownReason::Shutdown`]: peers see
//! `Down { reason: Shutdown }`, not `ConnectionClosed`. Then the leaver's distribution is shut
//! down.
//!
//! # Operator downing
//!
//! [`Membership::down`] marks a node down cluster-wide whatever the strategy (Akka's
//! `Cluster.down`): every connected node removes it for good ([`MemberEvent::Removed`]; its
//! incarnation is tombstoned, its connections stay); the node itself gets [`MemberEvent::Downed`]
//! and, per [`DownAction`], shuts its distribution down or stays up read-only until restarted.
//! A node downed while cut off is told when it reconnects to a node that removed it. With
//! [`Strategy::Manual`] no side is ever downed automatically: a partitioned side is read-only
//! (deciding) until an operator downs the other side's nodes, after which it is whole and
//! quorate.
//!
//! # Differences from Akka and OTP
//!
//! - Akka's Split Brain Resolver acts through a leader and downing; here every node decides
//!   for itself on the same picture, and with [`DownAction::ReadOnly`] a downed side is not
//!   removed: it stays a member, read-only, and resumes after the heal without a restart
//!   (Akka requires a downed node to restart). Members are counted after convergence as in
//!   Akka, but there is no leader and no gossip of the member set beyond reports between
//!   directly connected nodes (a full mesh, as Erlang).
//! - Akka downs all indirectly connected nodes; here only the nodes needed to make the
//!   component fully connected are dropped (a greedy vertex cover: one node for one broken
//!   link).
//! - OTP's `global` with `prevent_overlapping_partitions` disconnects nodes as soon as a
//!   connection is lost; here the drop waits for a stable picture, is chosen by a rule every
//!   node computes alike, and the dropped node is kept away for a fence period.
//! - OTP has no quorum notion; Akka leaves it to the application. Here the quorum state is
//!   first-class and conservative: a node counts only peers it heard from recently. It is a
//!   local judgement with timing margins, not consensus: a node whose process stalls for
//!   longer than `unhealthy_after` heartbeats (a long pause) may act on an old state when it
//!   resumes; write paths that must never diverge also need fencing in the store (the
//!   journal's epochs).
//! - While a partition settles, the younger end of a link that is missing in this node's own
//!   reading may be [`QuorumState::Deciding`] for a moment (it cannot tell yet whether it or
//!   the other end is cut off); a lying peer can cause that too, never a decision.
//! - While a heal settles, two nodes may briefly count sides that overlap (each a side the
//!   strategy keeps, both holding the nodes between them); they are not two sides.
//! - A member that left while a node was cut off stays counted on that node (it never saw
//!   the announcement): tombstones are not taken from other nodes' reports, so that no peer
//!   can shrink the member set another node counts against.
//!
//! One membership per [`Dist`] (it serves rpc functions named `actor_cluster.membership.*`;
//! allow them in `DistConfig::rpc_allow` when allow-lists are on).

mod config;
mod downing;
mod driver;
mod lease;
mod picture;
mod quorum;
mod state;
mod strategy;
mod view;
mod wire;

pub use config::{DownAction, MembershipConfig, Strategy};
pub use downing::DownError;
pub use lease::{Lease, LeaseError, TestLease};
pub use picture::PartitionPicture;
pub use quorum::{NotQuorate, Quorum, QuorumInfo, QuorumState};
pub use view::{
    Decision, Health, MemberEvent, MemberInfo, MemberStatus, MemberView, MembershipStatus, Verdict,
};
pub use wire::{BadReport, Line, Report};

use actor_dist::{Dist, DownReason};
use config::Resolved;
use driver::Input;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use state::{Peer, State};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use wire::{Leave, Pull, BYE_FN, LEAVE_FN, POKE_FN, PULL_FN};

/// Capacity of each event subscription and of the membership task's inbox.
const QUEUE: usize = 1024;

/// Counters of what membership received, refused or did.
#[derive(Debug, Default)]
pub struct MembershipStats {
    /// Valid reports received.
    pub reports: AtomicU64,
    /// Reports refused (malformed, over the bounds, from another node than asked).
    pub reports_refused: AtomicU64,
    /// Heartbeats that failed (timeout, node down).
    pub heartbeats_failed: AtomicU64,
    /// Pokes or leave requests dropped because the inbox was full.
    pub inputs_dropped: AtomicU64,
    /// Events a slow subscriber missed.
    pub events_dropped: AtomicU64,
    /// Nodes disconnected to end an overlapping partition.
    pub fenced: AtomicU64,
    /// Lease requests that failed.
    pub lease_errors: AtomicU64,
}

impl MembershipStats {
    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A hook run before a graceful leave is announced.
pub type LeaveHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) dist: Dist,
    pub(crate) cfg: MembershipConfig,
    pub(crate) r: Resolved,
    pub(crate) me: MemberInfo,
    pub(crate) st: Mutex<State>,
    pub(crate) quorum_tx: watch::Sender<QuorumInfo>,
    subs: Mutex<Vec<mpsc::Sender<MemberEvent>>>,
    pub(crate) stats: MembershipStats,
    pub(crate) inbox: mpsc::Sender<Input>,
    warned: Mutex<(Option<tokio::time::Instant>, u64)>,
    hooks: Mutex<Vec<LeaveHook>>,
}

impl Shared {
    fn publish(&self, events: Vec<MemberEvent>) {
        if events.is_empty() {
            return;
        }
        let mut subs = self.subs.lock();
        for ev in events {
            subs.retain(|tx| match tx.try_send(ev.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.stats.events_dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    /// A refused report: logged at most once a second (with the number suppressed).
    fn warn(&self, peer: &str, what: &str) {
        let now = tokio::time::Instant::now();
        let mut w = self.warned.lock();
        match w.0 {
            Some(t) if now.saturating_duration_since(t) < Duration::from_secs(1) => w.1 += 1,
            _ => {
                tracing::warn!(node = %self.dist.name(), %peer, error = what, suppressed = w.1, "membership: report refused");
                *w = (Some(now), 0);
            }
        }
    }

    fn try_input(&self, i: Input) {
        if self.inbox.try_send(i).is_err() {
            self.stats.inputs_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// This node's membership: its view of the members and their health, the partition picture,
/// split-brain decisions and the quorum state. Cheap to clone.
///
/// ```no_run
/// use actor_cluster::membership::{Membership, MembershipConfig, Strategy};
/// use actor_core::Node;
/// use actor_dist::{Cookie, Dist, DistConfig};
/// # async fn demo() -> std::io::Result<()> {
/// let node = Node::new("a@127.0.0.1");
/// let dist = Dist::start(&node, DistConfig::new(Cookie::new("secret").unwrap())).await?;
/// let m = Membership::start(
///     &dist,
///     MembershipConfig::new().strategy(Strategy::KeepMajority { role: None }),
/// );
/// let quorum = m.quorum();
/// if let Err(e) = quorum.check() {
///     println!("refusing to write: {e}");
/// }
/// println!("{:?}", m.status().picture);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Membership {
    shared: Arc<Shared>,
}

impl Membership {
    /// Starts membership on `dist` (one per node): serves reports to peers, heartbeats every
    /// connected peer, and starts deciding.
    pub fn start(dist: &Dist, cfg: MembershipConfig) -> Membership {
        let r = Resolved::new(&cfg, dist.tick_time());
        let started = cfg.started.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        });
        let me = MemberInfo {
            name: dist.name().to_string(),
            creation: dist.node().creation(),
            started,
            app_version: dist_app_version(dist),
            roles: cfg.roles.clone(),
        };
        let now = tokio::time::Instant::now();
        let mut st = State::new(me.clone(), cfg.min_members, now);
        let first = st.quorum.clone();
        // Subscribed before listing the connected nodes: none is missed in between.
        let events = dist.subscribe();
        for name in dist.nodes() {
            st.peers.insert(name.clone(), Peer::unknown(name, true));
        }
        let (quorum_tx, _) = watch::channel(first);
        let (inbox, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            dist: dist.clone(),
            cfg,
            r,
            me,
            st: Mutex::new(st),
            quorum_tx,
            subs: Mutex::new(Vec::new()),
            stats: MembershipStats::default(),
            inbox,
            warned: Mutex::new((None, 0)),
            hooks: Mutex::new(Vec::new()),
        });
        serve(&shared);
        driver::step(&shared);
        tokio::spawn(driver::run(shared.clone(), rx, events));
        Membership { shared }
    }

    /// The quorum state handle.
    pub fn quorum(&self) -> Quorum {
        Quorum {
            rx: self.shared.quorum_tx.subscribe(),
        }
    }

    /// Shorthand for `quorum().check()`.
    pub fn check(&self) -> Result<(), NotQuorate> {
        self.quorum().check()
    }

    /// A snapshot of the view: members, health, picture, quorum, last decision.
    pub fn status(&self) -> MembershipStatus {
        let now = tokio::time::Instant::now();
        let st = self.shared.st.lock();
        let mut members: Vec<MemberView> = st
            .peers
            .values()
            .map(|p| MemberView {
                info: p.info.clone(),
                status: p.status,
                health: State::health_of(p, &self.shared.r, now),
                connected: p.connected,
            })
            .collect();
        members.push(MemberView {
            info: st.me.clone(),
            status: st.me_status,
            health: Health::Healthy,
            connected: true,
        });
        members.sort_by(|a, b| a.info.age_cmp(&b.info));
        MembershipStatus {
            me: st.me.clone(),
            members,
            picture: st.picture.clone(),
            quorum: st.quorum.state,
            quorum_side: st.quorum.side.clone(),
            decision: st.decision.as_ref().map(|(_, d)| d.clone()),
        }
    }

    /// This node's current reachability report (what peers pull).
    pub fn report(&self) -> Report {
        self.shared.st.lock().report.clone()
    }

    /// Subscribes to membership events (a bounded queue; see
    /// [`MembershipStats::events_dropped`]).
    pub fn subscribe(&self) -> mpsc::Receiver<MemberEvent> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.shared.subs.lock().push(tx);
        rx
    }

    /// The counters.
    pub fn stats(&self) -> &MembershipStats {
        &self.shared.stats
    }

    /// The distribution this membership runs on.
    pub fn dist(&self) -> &Dist {
        &self.shared.dist
    }

    /// Adds a hook run by [`leave`](Membership::leave) before the leave is announced (a
    /// cluster singleton hands over there).
    pub fn on_leave<F>(&self, hook: F)
    where
        F: Fn() -> BoxFuture<'static, ()> + Send + Sync + 'static,
    {
        self.shared.hooks.lock().push(Arc::new(hook));
    }

    /// Leaves the cluster gracefully: runs the leave hooks, announces the leave and waits
    /// (at most `timeout`) until each connected peer has confirmed it and closed its
    /// connection with [`DownReason::Shutdown`]; then shuts this node's distribution down
    /// (and releases the lease of [`Strategy::LeaseMajority`] if this node holds it).
    /// Returns the peers that confirmed. Local actors keep running.
    pub async fn leave(&self, timeout: Duration) -> Vec<String> {
        let sh = &self.shared;
        let hooks: Vec<LeaveHook> = sh.hooks.lock().clone();
        for h in hooks {
            let _ = tokio::time::timeout(timeout, h()).await;
        }
        let _ = sh.inbox.send(Input::Leaving).await;
        let peers = sh.dist.nodes();
        let me = Leave {
            name: sh.me.name.clone(),
            creation: sh.me.creation,
        };
        let asks = peers.iter().map(|p| {
            let dist = sh.dist.clone();
            let me = me.clone();
            async move {
                let ok: Result<bool, _> = dist.call(p, LEAVE_FN, &me, timeout).await;
                (p.clone(), ok == Ok(true))
            }
        });
        let confirmed: Vec<String> = futures::future::join_all(asks)
            .await
            .into_iter()
            .filter_map(|(p, ok)| ok.then_some(p))
            .collect();
        let mut events = sh.dist.subscribe();
        for p in &confirmed {
            sh.dist.cast(p, BYE_FN, &me).await;
        }
        // Each confirmed peer closes its connection once (a peer that has this node as a
        // seed may dial it again at once: wait for the close, not for "not connected").
        let deadline = tokio::time::Instant::now() + timeout;
        let mut open: Vec<&String> = confirmed
            .iter()
            .filter(|p| sh.dist.nodes().contains(p))
            .collect();
        while !open.is_empty() {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(actor_dist::NodeEvent::Down { node, .. })) => open.retain(|p| **p != node),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for p in sh.dist.nodes() {
            sh.dist.disconnect_with(&p, DownReason::Shutdown);
        }
        sh.dist.shutdown();
        if let Strategy::LeaseMajority { lease, .. } = &sh.cfg.strategy {
            let _ = lease.release(&sh.me.name).await;
        }
        confirmed
    }
}

/// The application version this node announces (as the handshake does).
fn dist_app_version(dist: &Dist) -> String {
    dist.app_version().to_string()
}

/// Serves the rpc functions peers call: pull (heartbeat), poke, leave, bye, down.
fn serve(shared: &Arc<Shared>) {
    downing::serve(shared);
    let weak = Arc::downgrade(shared);
    shared.dist.register_rpc(PULL_FN, move |p: Pull| {
        let rep = weak.upgrade().and_then(|s| {
            let st = s.st.lock();
            (p.have != Some(st.report.seq)).then(|| st.report.clone())
        });
        async move { rep }
    });
    let weak = Arc::downgrade(shared);
    shared.dist.register_rpc(POKE_FN, move |from: String| {
        if let Some(s) = weak.upgrade() {
            s.try_input(Input::Poke(from));
        }
        async {}
    });
    let weak = Arc::downgrade(shared);
    shared.dist.register_rpc(LEAVE_FN, move |l: Leave| {
        let (tx, rx) = oneshot::channel();
        if let Some(s) = weak.upgrade() {
            s.try_input(Input::Leave(l, tx));
        }
        async move { rx.await.unwrap_or(false) }
    });
    let weak = Arc::downgrade(shared);
    shared.dist.register_rpc(BYE_FN, move |l: Leave| {
        if let Some(s) = weak.upgrade() {
            s.try_input(Input::Bye(l));
        }
        async {}
    });
}
