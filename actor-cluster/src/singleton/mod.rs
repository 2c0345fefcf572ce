//! **Cluster singletons**: one instance of an actor kind on the oldest (or a chosen,
//! role-filtered) member of the *quorate* side, reached from any node through a
//! [`SingletonRef`].
//!
//! # How it works
//!
//! Every node that takes part runs a [`Singleton`] for the kind (with the same
//! [`SingletonConfig`]); it is the node's *manager* (Akka's `ClusterSingletonManager`). Each
//! manager computes the **host** from its own membership view: among the up members of its
//! quorate side ([`QuorumInfo::side`](crate::membership::QuorumInfo)) that have the configured
//! role, the first of [`SingletonConfig::prefer`] if given, else the oldest (smallest start
//! stamp, ties by name). A node that is not quorate computes no host at all.
//!
//! The manager of the host starts the instance only after taking a **global lock**
//! (`$singleton/<kind>`, [`Locks`]) on every connected node, held by a small guardian process
//! of its own, and (when configured) the **lease** ([`SingletonConfig::lease`]). It stops the
//! instance, waits for its exit, and only then releases the lock, as soon as:
//!
//! - it is no longer the host in its own view (a preferred or older node is back: hand-over),
//! - its node is not quorate any more ([`QuorumState::Deciding`](crate::membership::QuorumState)
//!   or `Minority`: a side cut off stops its instance within the bound at which it stops
//!   counting the others, `(degraded_after + 2)` heartbeats),
//! - its node leaves gracefully ([`Membership::leave`] runs the hand-over first: the instance
//!   is stopped and the lock released before the leave is announced),
//! - the lock is lost (two sides both held it and met again: the lock layer keeps one holder
//!   and sends the other the exit `lock_lost`; its manager stops its instance),
//! - the lease cannot be renewed.
//!
//! The lock is the fence that makes the order hold across nodes: a new host's manager waits
//! for the lock, and the lock is free only once the old instance has exited (its guardian
//! goes after it) or its node is down in the new host's eyes. So on a hand-over the old
//! instance's stop completes before the new one starts, and inside a connected cluster two
//! instances never run at once. If the instance exits on its own, it is started again after
//! [`SingletonConfig::restart_delay`] (the lock and lease are taken again).
//!
//! **Partitions.** On a cut, the side that is not quorate stops its instance within
//! `(degraded_after + 2)` heartbeats (it is *deciding* by then); the quorate side's new host can
//! take the lock only once the old host's node is down in its eyes (the net tick time, `T` to
//! `1.25 T`), which is later. After a heal the node that is host in the merged view takes the
//! instance over: the other stops first (the lock again).
//!
//! **Formation.** A node that starts alone is quorate on its own (a side of one, the whole
//! cluster it knows) unless [`MembershipConfig::min_members`](crate::membership::MembershipConfig)
//! says otherwise: nodes started at once would each start an instance before they meet (the
//! lock then fences all but one, with `lock_lost`). Set `min_members` to a majority of the
//! expected cluster size, as Akka's `min-nr-of-members`.
//!
//! **Churn.** A host that is [deciding](crate::membership::QuorumState::Deciding) even for a
//! moment (a partition settling, a flapping link) stops its instance, and starts it again once
//! quorate: stopping at once is what keeps a cut-off host from overlapping with the new one.
//!
//! # The proxy
//!
//! [`SingletonRef`] (from [`Singleton::proxy`]) reaches the current instance from any node:
//! the host as this node sees it, the instance registered there under
//! `actor_cluster.singleton.<kind>`. **During a hand-over calls wait**: [`SingletonRef::tell`],
//! [`SingletonRef::send`] and [`SingletonRef::call`] retry the resolution (10 ms, backing
//! off to 200 ms) for at most [`SingletonConfig::handover_wait`], and at most
//! [`SingletonConfig::max_waiting`] callers of one proxy wait at once (more fail at once with
//! [`SingletonError::Busy`]); nothing is buffered inside the proxy: each waiting caller holds
//! its own message. After the wait, [`SingletonError::NoInstance`]. [`SingletonRef::try_tell`]
//! fails fast instead. A request is retried only when it provably did not reach an instance
//! (`noproc`, no host, not registered): a call whose host went down while it was in flight
//! fails with the call error (it may have been processed).
//!
//! # Events
//!
//! [`Singleton::subscribe`]: [`SingletonEvent::Started`] and [`SingletonEvent::Stopped`] (with
//! a [`StopCause`]) for an instance on this node, [`SingletonEvent::HostChanged`] when the host
//! as this node computes it changes (moved).
//!
//! # Differences from Akka and OTP
//!
//! - Akka's `ClusterSingletonManager` hands over with a message protocol between the old and
//!   the new oldest (`HandOverToMe` / `HandOverDone`) and relies on the split-brain resolver
//!   downing the minority; here the hand-over is fenced by a global lock, and a side that is not
//!   quorate stops its instance itself (a node stays a member while read-only, so it cannot
//!   rely on being removed). Akka's singleton on an unreachable (not yet downed) oldest keeps
//!   running and nobody starts another; here the cut-off side stops at once and the quorate
//!   side starts one once the old host's node is down (no downing needed).
//! - Akka runs the singleton only on the oldest; [`SingletonConfig::prefer`] gives OTP's
//!   distributed-application node list instead (first reachable one wins), and as with OTP's
//!   *takeover* a preferred node coming back takes the instance over (after the current one
//!   stopped; OTP starts the new instance before stopping the old one, this never does).
//! - OTP's *failover* restarts the application on the next node after the host's node is
//!   down for `distribution_timeout`; here the delay is the node-down detection (net tick
//!   time) plus the lock hand-off, and only the quorate side fails over.
//! - Akka's `ClusterSingletonProxy` buffers messages (up to 1000 by default, dropping the
//!   oldest); here callers wait with their own message (bounded time and number of callers)
//!   and get a typed error, nothing is dropped silently.
//! - It is not consensus: a node whose process stalls longer than the heartbeat bounds may
//!   run its instance for a moment after the others moved on (as every lease- or
//!   timeout-based scheme). Work that must never overlap also needs fencing in the store
//!   (the journal's epochs); a [`Lease`] with a real expiry narrows the window.

mod manager;
mod proxy;

pub use proxy::SingletonRef;

use crate::locks::Locks;
use crate::membership::{Lease, Membership, MembershipStatus, QuorumState};
use actor_core::{Actor, ActorRef, CallError, ExitReason, Message, Pid};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Capacity of each event subscription.
const EVENTS: usize = 256;

/// How a singleton kind is placed and handed over. The same on every node of the kind.
#[derive(Clone)]
pub struct SingletonConfig {
    /// The kind's name: the lock is `$singleton/<kind>`, the instance is registered on its
    /// node as `actor_cluster.singleton.<kind>`.
    pub kind: String,
    /// Only members with this role may host it (`None`: every member).
    pub role: Option<String>,
    /// Chosen hosts in order of preference (OTP's distributed-application node list): the
    /// first one on the quorate side hosts it; no other node does. Empty: the oldest.
    pub prefer: Vec<String>,
    /// A lease the host must hold while the instance runs (owner: the node name), renewed
    /// every `lease_check`. Use one lease per kind, not the membership's.
    pub lease: Option<Arc<dyn Lease>>,
    /// How often a running host renews its lease.
    pub lease_check: Duration,
    /// How long a stopping instance gets for its `stopped` hook before it is killed.
    pub stop_timeout: Duration,
    /// Delay before an instance that exited on its own is started again.
    pub restart_delay: Duration,
    /// How long one attempt to take the lock waits before the manager looks at the
    /// membership again.
    pub lock_attempt: Duration,
    /// How often the manager looks at the membership without an event.
    pub recheck: Duration,
    /// How long a proxy call waits for an instance (hand-over, failover).
    pub handover_wait: Duration,
    /// Most callers of one proxy waiting for an instance at once.
    pub max_waiting: usize,
}

impl std::fmt::Debug for SingletonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingletonConfig")
            .field("kind", &self.kind)
            .field("role", &self.role)
            .field("prefer", &self.prefer)
            .field("lease", &self.lease.is_some())
            .field("stop_timeout", &self.stop_timeout)
            .field("handover_wait", &self.handover_wait)
            .finish_non_exhaustive()
    }
}

impl SingletonConfig {
    /// A kind hosted by the oldest member, with the defaults: stop timeout 5 s, restart delay
    /// 500 ms, lock attempts of 250 ms, recheck every 100 ms, proxy wait 10 s for at most 1,024
    /// callers, lease renewal every second.
    pub fn new(kind: impl Into<String>) -> SingletonConfig {
        SingletonConfig {
            kind: kind.into(),
            role: None,
            prefer: Vec::new(),
            lease: None,
            lease_check: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(5),
            restart_delay: Duration::from_millis(500),
            lock_attempt: Duration::from_millis(250),
            recheck: Duration::from_millis(100),
            handover_wait: Duration::from_secs(10),
            max_waiting: 1024,
        }
    }

    /// Only members with `role` host it.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Chosen hosts, in order of preference.
    pub fn prefer<I: IntoIterator<Item = S>, S: Into<String>>(mut self, nodes: I) -> Self {
        self.prefer = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// The lease the host must hold.
    pub fn lease(mut self, lease: Arc<dyn Lease>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How long a proxy call waits for an instance.
    pub fn handover_wait(mut self, d: Duration) -> Self {
        self.handover_wait = d;
        self
    }

    /// How long a stopping instance gets before it is killed.
    pub fn stop_timeout(mut self, d: Duration) -> Self {
        self.stop_timeout = d;
        self
    }

    /// The resource locked while an instance runs.
    pub fn lock_resource(&self) -> String {
        format!("$singleton/{}", self.kind)
    }

    /// The node-local name the instance is registered under on its host.
    pub fn instance_name(&self) -> String {
        format!("actor_cluster.singleton.{}", self.kind)
    }

    /// The host as `status` tells: `None` unless quorate; among the up members of the quorate
    /// side with the role, the first preferred one, else the oldest.
    pub fn host_in(&self, status: &MembershipStatus) -> Option<String> {
        if status.quorum != QuorumState::Quorate {
            return None;
        }
        let eligible: Vec<&str> = status
            .members
            .iter() // oldest first
            .filter(|m| {
                m.status == crate::membership::MemberStatus::Up
                    && status.quorum_side.contains(&m.info.name)
                    && m.info.has_role(self.role.as_deref())
            })
            .map(|m| m.info.name.as_str())
            .collect();
        if self.prefer.is_empty() {
            eligible.first().map(|s| s.to_string())
        } else {
            self.prefer
                .iter()
                .find(|p| eligible.contains(&p.as_str()))
                .cloned()
        }
    }
}

/// Why an instance on this node stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopCause {
    /// Another node is the host now (hand-over).
    HandOver,
    /// This node is not quorate (cut off, deciding, or downed).
    NotQuorate,
    /// This node is leaving the cluster ([`Membership::leave`]).
    Leaving,
    /// The lock was lost when two sides met again (the other side's holder won).
    LockLost,
    /// The lease could not be renewed.
    LeaseLost,
    /// The instance exited on its own (it is started again after the restart delay).
    Exited,
    /// The manager was shut down ([`Singleton::shutdown`]).
    Shutdown,
}

/// What a [`Singleton::subscribe`] subscriber is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SingletonEvent {
    /// The instance started on this node.
    Started {
        /// The kind.
        kind: String,
        /// The instance.
        pid: Pid,
    },
    /// The instance on this node stopped; its exit is complete (and the lock released).
    Stopped {
        /// The kind.
        kind: String,
        /// The instance.
        pid: Pid,
        /// Its exit reason.
        reason: ExitReason,
        /// Why it was stopped.
        cause: StopCause,
    },
    /// The host as this node computes it changed (the instance is moving).
    HostChanged {
        /// The kind.
        kind: String,
        /// The previous host.
        from: Option<String>,
        /// The new host (`None`: this node is not quorate, or no member is eligible).
        to: Option<String>,
    },
}

/// Why a proxy could not reach the instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SingletonError {
    /// No live instance was found within the hand-over wait (no quorate host, or the host has
    /// not started it yet).
    #[error("no instance of singleton {kind} within {waited:?} (host: {host:?})")]
    NoInstance {
        /// The kind.
        kind: String,
        /// How long the caller waited.
        waited: Duration,
        /// The host as this node saw it last.
        host: Option<String>,
    },
    /// Too many callers of this proxy are waiting already.
    #[error("too many callers waiting for singleton {kind}")]
    Busy {
        /// The kind.
        kind: String,
    },
    /// The call reached an instance and failed (timeout, its node went down, ...).
    #[error("call to singleton {kind} failed: {error}")]
    Call {
        /// The kind.
        kind: String,
        /// The error.
        error: CallError,
    },
    /// The message could not be sent (mailbox full, does not encode).
    #[error("send to singleton {kind} failed: {error}")]
    Send {
        /// The kind.
        kind: String,
        /// The error.
        error: String,
    },
}

/// What a caller can see of the manager.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SingletonStatus {
    /// The host as this node computes it.
    pub host: Option<String>,
    /// The instance on this node, if it runs here.
    pub local: Option<Pid>,
    /// Instances started on this node so far.
    pub started: u64,
}

pub(crate) struct Shared<M> {
    pub(crate) cfg: SingletonConfig,
    pub(crate) membership: Membership,
    pub(crate) status: watch::Sender<SingletonStatus>,
    pub(crate) local: Mutex<Option<ActorRef<M>>>,
    subs: Mutex<Vec<mpsc::Sender<SingletonEvent>>>,
    pub(crate) cmds: mpsc::Sender<manager::Cmd>,
}

impl<M> Shared<M> {
    pub(crate) fn publish(&self, ev: SingletonEvent) {
        self.subs.lock().retain(|tx| {
            !matches!(
                tx.try_send(ev.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }
}

/// One node's manager of a singleton kind. Cheap to clone.
///
/// ```no_run
/// use actor_cluster::locks::Locks;
/// use actor_cluster::membership::{Membership, MembershipConfig};
/// use actor_cluster::singleton::{Singleton, SingletonConfig};
/// use actor_core::{Actor, Context, Message, Node, ReplyTo};
/// use actor_dist::{Cookie, Dist, DistConfig};
/// use std::time::Duration;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// enum Scheduler { Next(ReplyTo<u64>) }
/// impl Message for Scheduler { const NAME: &'static str = "demo.Scheduler"; }
///
/// struct Cron { n: u64 }
/// impl Actor for Cron {
///     type Msg = Scheduler;
///     async fn handle(&mut self, Scheduler::Next(r): Scheduler, _: &mut Context<Self>) {
///         self.n += 1;
///         r.send(self.n);
///     }
/// }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c")?)).await?;
/// let m = Membership::start(&dist, MembershipConfig::new());
/// let locks = Locks::start(&dist).await?;
/// let cron = Singleton::start(&m, &locks, SingletonConfig::new("cron"), || Cron { n: 0 }).await;
/// let n = cron.proxy().call(Scheduler::Next, Duration::from_secs(1)).await?;
/// # let _ = n; Ok(()) }
/// ```
pub struct Singleton<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for Singleton<M> {
    fn clone(&self) -> Self {
        Singleton {
            shared: self.shared.clone(),
        }
    }
}

impl<M: Message> Singleton<M> {
    /// Starts this node's manager of `cfg.kind`: `factory` makes the instance when this node
    /// becomes the host. Run it on every node of the kind, after [`Locks::start`]; it adds a
    /// leave hook to `membership` (the hand-over before a graceful leave).
    pub async fn start<A, F>(
        membership: &Membership,
        locks: &Locks,
        cfg: SingletonConfig,
        factory: F,
    ) -> Singleton<M>
    where
        A: Actor<Msg = M>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        membership.dist().register::<M>();
        let (cmds, rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            cfg,
            membership: membership.clone(),
            status: watch::channel(SingletonStatus::default()).0,
            local: Mutex::new(None),
            subs: Mutex::new(Vec::new()),
            cmds,
        });
        let weak = Arc::downgrade(&shared);
        membership.on_leave(move || {
            let weak = weak.clone();
            Box::pin(async move {
                let Some(s) = weak.upgrade() else { return };
                let (tx, rx) = oneshot::channel();
                if s.cmds.send(manager::Cmd::Leaving(tx)).await.is_ok() {
                    let _ = rx.await;
                }
            })
        });
        let mgr = manager::Manager::new(shared.clone(), locks.clone(), Box::new(factory));
        tokio::spawn(mgr.run(rx));
        Singleton { shared }
    }

    /// A handle that reaches the current instance from this node.
    pub fn proxy(&self) -> SingletonRef<M> {
        SingletonRef::new(self.shared.clone())
    }

    /// Subscribes to this node's events for the kind (a bounded queue: a subscriber that
    /// falls 256 events behind misses events).
    pub fn subscribe(&self) -> mpsc::Receiver<SingletonEvent> {
        let (tx, rx) = mpsc::channel(EVENTS);
        self.shared.subs.lock().push(tx);
        rx
    }

    /// The host as this node computes it, and the instance here if it runs here.
    pub fn status(&self) -> SingletonStatus {
        self.shared.status.borrow().clone()
    }

    /// A receiver of every change of [`status`](Singleton::status).
    pub fn watch(&self) -> watch::Receiver<SingletonStatus> {
        self.shared.status.subscribe()
    }

    /// The instance on this node, if it runs here.
    pub fn local(&self) -> Option<ActorRef<M>> {
        self.shared.local.lock().clone()
    }

    /// The configuration.
    pub fn config(&self) -> &SingletonConfig {
        &self.shared.cfg
    }

    /// Hands the instance over now (as a leave does: it is stopped, its exit awaited and the
    /// lock released) and stops managing: this node never hosts the kind again. Returns once
    /// done.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .shared
            .cmds
            .send(manager::Cmd::Shutdown(tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::{
        Health, MemberInfo, MemberStatus, MemberView, PartitionPicture, QuorumState,
    };

    /// n1..n4, n4 the oldest; n1 and n2 have the role "db"; n3 is joining.
    fn status(quorum: QuorumState, side: &[usize]) -> MembershipStatus {
        let info = |i: usize| MemberInfo {
            name: format!("n{i}"),
            creation: 1,
            started: 10 - i as u64,
            app_version: String::new(),
            roles: if i <= 2 { vec!["db".into()] } else { vec![] },
        };
        let mut members: Vec<MemberView> = (1..=4)
            .map(|i| MemberView {
                info: info(i),
                status: if i == 3 {
                    MemberStatus::Joining
                } else {
                    MemberStatus::Up
                },
                health: Health::Healthy,
                connected: true,
            })
            .collect();
        members.sort_by(|a, b| a.info.age_cmp(&b.info));
        MembershipStatus {
            me: info(1),
            members,
            picture: PartitionPicture::default(),
            quorum,
            quorum_side: side.iter().map(|i| format!("n{i}")).collect(),
            decision: None,
        }
    }

    fn host(cfg: &SingletonConfig, q: QuorumState, side: &[usize]) -> Option<String> {
        cfg.host_in(&status(q, side))
    }

    #[test]
    fn the_host_is_the_oldest_up_member_of_the_quorate_side() {
        let c = SingletonConfig::new("k");
        assert_eq!(
            host(&c, QuorumState::Quorate, &[1, 2, 3, 4]),
            Some("n4".into())
        );
        // Not on this node's side: the oldest of the side.
        assert_eq!(
            host(&c, QuorumState::Quorate, &[1, 2, 3]),
            Some("n2".into())
        );
        // n3 is joining: never the host.
        assert_eq!(host(&c, QuorumState::Quorate, &[1, 3]), Some("n1".into()));
        // Not quorate: no host at all.
        assert_eq!(host(&c, QuorumState::Deciding, &[1, 2, 3, 4]), None);
        assert_eq!(host(&c, QuorumState::Minority, &[1, 2, 3, 4]), None);
    }

    #[test]
    fn role_and_preference_filter_the_host() {
        let db = SingletonConfig::new("k").role("db");
        assert_eq!(
            host(&db, QuorumState::Quorate, &[1, 2, 3, 4]),
            Some("n2".into())
        );
        assert_eq!(host(&db, QuorumState::Quorate, &[3, 4]), None);
        let pref = SingletonConfig::new("k").prefer(["n1", "n4"]);
        assert_eq!(
            host(&pref, QuorumState::Quorate, &[1, 2, 4]),
            Some("n1".into())
        );
        assert_eq!(
            host(&pref, QuorumState::Quorate, &[2, 4]),
            Some("n4".into())
        );
        // Only listed nodes host it (OTP's distributed application node list).
        assert_eq!(host(&pref, QuorumState::Quorate, &[2, 3]), None);
    }
}
