//! [`Entities`]: one node's entity host. It knows the kinds registered here, starts
//! activations under a supervisor per kind, names them cluster-wide, passivates idle ones, and
//! answers other nodes' activation requests.

use crate::entity::Entity;
use crate::error::EntityError;
use crate::error::Refusal;
use crate::journaler::{Ids, Journaler};
pub(crate) use crate::live::Clock;
use crate::live::{EntityStats, Live, LiveEntry};
use crate::log::{EntityLog, Recovered};
use crate::placement::{LeastLoaded, Placement};
use actor_core::supervisor::{
    child_opts, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec, Restart, Started,
    SupervisorError,
};
use actor_core::{ExitReason, Pid, SpawnError};
use actor_dist::Dist;
use actor_journal::EntityKey;
use actor_registry::{GlobalRegistry, Key, KeyPart, Kind, Value};
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use statem::{Statem, StatemMsg};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The rpc every entity host serves: activate `(kind, key)` here.
pub(crate) const ACTIVATE: &str = "$entity.activate";
/// The rpc every entity host serves: as the key's coordinator, place and activate it.
pub(crate) const PLACE: &str = "$entity.place";

/// The arguments of [`PLACE`]: kind, key, the node to move to, the requesting node.
type PlaceArgs = (String, String, Option<String>, String);

/// How one node hosts entities.
#[derive(Clone)]
pub struct EntityConfig {
    /// Where new activations go (default [`LeastLoaded`]).
    pub placement: Arc<dyn Placement>,
    /// Stop an activation after this long without an event (default 5 minutes; `None`:
    /// never). The next use activates it again from the log.
    pub passivate_after: Option<Duration>,
    /// How long an activation may take, log recovery and naming included (default 10 s).
    pub activation_timeout: Duration,
    /// How many times a request that provably did not reach a live activation is sent again
    /// (default 5).
    pub retries: u32,
    /// Moving activations from crowded hosts to emptier ones, e.g. after a node joins
    /// (default on: every 5 s, at most 16 moves; `None`: off).
    pub rebalance: Option<crate::rebalance::Rebalance>,
    /// This node's quorum state, from the cluster's membership
    /// ([`Membership::quorum`](actor_cluster::membership::Membership::quorum)). When this
    /// node is not on a quorate side, activations here are refused and writes of the
    /// activations here are handled per [`minority_writes`](EntityConfig::minority_writes);
    /// reads are served. A refused write is undone (the machine is rebuilt from its last
    /// durable state and keeps running); a cast that would write is dropped, counted in
    /// [`EntityStats::refused`]. The membership's state is `Deciding` until it has settled:
    /// a host with a quorum source activates nothing before its node is quorate. `None`
    /// (default): no check; the log's own quorum still fences a minority (its writes fail
    /// with [`LogError::NoQuorum`](crate::log::LogError::NoQuorum)).
    pub quorum: Option<actor_cluster::membership::Quorum>,
    /// What a write refused on the minority side becomes for its caller on this node
    /// (default [`MinorityWrites::Refuse`](crate::MinorityWrites::Refuse)).
    pub minority_writes: crate::minority::MinorityWrites,
    /// How many resolved activations (kind, key) this node's callers keep, so that a warm
    /// call by key skips the registry (default 65,536; 0: no cache). An entry goes when its
    /// activation exits here, its node goes down, or a call through it fails; when full, an
    /// arbitrary entry makes room.
    pub ref_cache: usize,
}

/// The default of [`EntityConfig::ref_cache`].
pub(crate) const DEFAULT_REF_CACHE: usize = 65_536;

impl Default for EntityConfig {
    fn default() -> Self {
        EntityConfig {
            placement: Arc::new(LeastLoaded),
            passivate_after: Some(Duration::from_secs(300)),
            activation_timeout: Duration::from_secs(10),
            retries: 5,
            rebalance: Some(crate::rebalance::Rebalance::default()),
            quorum: None,
            minority_writes: crate::minority::MinorityWrites::default(),
            ref_cache: DEFAULT_REF_CACHE,
        }
    }
}

impl std::fmt::Debug for EntityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityConfig")
            .field("passivate_after", &self.passivate_after)
            .field("activation_timeout", &self.activation_timeout)
            .field("retries", &self.retries)
            .field("quorum", &self.quorum.as_ref().map(|q| q.state()))
            .field("minority_writes", &self.minority_writes)
            .field("ref_cache", &self.ref_cache)
            .finish()
    }
}

/// Starting activations of one kind on this node.
pub(crate) trait KindOps: Send + Sync {
    fn start(&self, key: String) -> BoxFuture<'_, Result<Pid, EntityError>>;
    /// Asks the activation `pid` (on any node) to stop after its queued requests.
    fn stop(&self, dist: &Dist, pid: Pid) -> bool;
    fn terminate(&self, pid: Pid) -> BoxFuture<'_, ()>;
}

struct KindHost<E: Entity> {
    /// Started with the key and what was read from the log for it.
    sup: DynamicSupervisorRef<(String, Recovered)>,
    log: Arc<dyn EntityLog>,
    /// The cluster's quorum state, when configured: no activation outside a quorate side.
    quorum: Option<actor_cluster::membership::Quorum>,
    _e: std::marker::PhantomData<fn() -> E>,
}

impl<E: Entity> KindOps for KindHost<E> {
    fn start(&self, key: String) -> BoxFuture<'_, Result<Pid, EntityError>> {
        Box::pin(async move {
            // The last state is read here (log round trips; no write: the epoch is taken at
            // the first write, see `log`), not in the supervisor's start function: the
            // supervisor starts its children one at a time, and a failover reactivating many
            // keys at once would wait for each one's log in turn.
            let ekey = EntityKey {
                kind: E::KIND.to_string(),
                key: key.as_bytes().to_vec(),
            };
            // On the minority side nothing activates: no second writer, and a typed refusal.
            if let Some(Err(nq)) = self.quorum.as_ref().map(|q| q.check()) {
                return Err(Refusal::not_quorate(&nq).into_error(E::KIND, &key));
            }
            let rec = self
                .log
                .load(&ekey)
                .await
                .map_err(|e| Refusal::log(&e).into_error(E::KIND, &key))?;
            match self.sup.start_child((key.clone(), rec)).await {
                Ok(Started::Pid(pid)) => Ok(pid),
                Ok(other) => Err(activation_err(E::KIND, &key, format!("{other:?}"))),
                Err(SupervisorError::StartFailed {
                    reason: SpawnError::Init(reason),
                    ..
                }) if Refusal::from_reason(&reason).is_some() => Err(Refusal::from_reason(&reason)
                    .expect("checked")
                    .into_error(E::KIND, &key)),
                Err(e) => Err(activation_err(E::KIND, &key, e.to_string())),
            }
        })
    }

    fn stop(&self, dist: &Dist, pid: Pid) -> bool {
        dist.actor_ref::<StatemMsg<E>>(pid)
            .map(|r| r.stop(ExitReason::Shutdown))
            .unwrap_or(false)
    }

    fn terminate(&self, pid: Pid) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.sup.terminate_child(pid).await;
        })
    }
}

pub(crate) fn activation_err(kind: &str, key: &str, reason: String) -> EntityError {
    EntityError::Activation {
        kind: kind.to_string(),
        key: key.to_string(),
        reason,
    }
}

/// The registry key an activation is named under: `("entity", kind, key)`.
pub fn directory_key(kind: &str, key: &str) -> Key {
    Key::from(vec![
        KeyPart::from("entity"),
        KeyPart::from(kind),
        KeyPart::from(key),
    ])
}

/// A key's turn at its coordinator.
pub(crate) type Gate = Arc<tokio::sync::Mutex<()>>;

/// One node's entity host. Cheap to clone.
///
/// Start one on every node that runs entities, with the same [`EntityLog`] kind and the same
/// kinds registered ([`Entities::register`]).
#[derive(Clone)]
pub struct Entities {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) dist: Dist,
    pub(crate) global: GlobalRegistry,
    pub(crate) log: Arc<dyn EntityLog>,
    pub(crate) cfg: EntityConfig,
    pub(crate) kinds: RwLock<HashMap<&'static str, Arc<dyn KindOps>>>,
    pub(crate) ids: Arc<Ids>,
    pub(crate) clock: Clock,
    pub(crate) live: Arc<Live>,
    /// Placements in progress here as the keys' coordinator, per (kind, key): later requests
    /// for a key wait for the first.
    pub(crate) activating: Mutex<HashMap<(String, String), Gate>>,
    /// Placements this node made per node, with their time: in flight until a load report
    /// newer than them shows them.
    pub(crate) placed: Mutex<HashMap<String, VecDeque<u64>>>,
    /// Set by [`Entities::leave`]: no new activations here.
    pub(crate) leaving: AtomicBool,
    /// Writes of callers here waiting for the quorum ([`MinorityWrites::Queue`](
    /// crate::MinorityWrites::Queue)).
    pub(crate) queue: crate::minority::WriteQueue,
}

impl Entities {
    /// Starts this node's host on `dist`, naming activations in `global` (a scope every
    /// entity node shares) and writing receipts to `log`.
    pub async fn start(
        dist: &Dist,
        global: &GlobalRegistry,
        log: Arc<dyn EntityLog>,
        cfg: EntityConfig,
    ) -> Entities {
        let me = dist.node().pid();
        let ref_cache = cfg.ref_cache;
        let inner = Arc::new(Inner {
            dist: dist.clone(),
            global: global.clone(),
            log,
            cfg,
            kinds: RwLock::new(HashMap::new()),
            ids: Arc::new(Ids::new(me.node.0, me.creation)),
            clock: Clock(tokio::time::Instant::now()),
            live: Arc::new(Live {
                refs: crate::cache::RefCache::new(ref_cache),
                ..Live::default()
            }),
            activating: Mutex::new(HashMap::new()),
            placed: Mutex::new(HashMap::new()),
            leaving: AtomicBool::new(false),
            queue: crate::minority::WriteQueue::default(),
        });
        let weak = Arc::downgrade(&inner);
        dist.register_rpc(
            ACTIVATE,
            move |(kind, key, stale): (String, String, Option<Pid>)| {
                let weak = weak.clone();
                async move {
                    let Some(inner) = weak.upgrade() else {
                        return Err(Refusal::Other("entity host stopped".to_string()));
                    };
                    Entities { inner }
                        .activate_here(&kind, &key, stale)
                        .await
                        .map_err(|e| Refusal::of(&e, ""))
                }
            },
        );
        let weak = Arc::downgrade(&inner);
        dist.register_rpc(PLACE, move |(kind, key, to, origin): PlaceArgs| {
            let weak = weak.clone();
            async move {
                let Some(inner) = weak.upgrade() else {
                    return Err(Refusal::Other("entity host stopped".to_string()));
                };
                Entities { inner }
                    .place_here(&kind, &key, to.as_deref(), &origin)
                    .await
                    .map_err(|e| Refusal::of(&e, ""))
            }
        });
        tokio::spawn(forget_down_nodes(Arc::downgrade(&inner), dist.subscribe()));
        let live = inner.live.clone();
        dist.register_rpc(crate::rebalance::LIVE, move |()| {
            let n = live.entries.lock().len() as u64;
            async move { n }
        });
        if let Some(r) = inner.cfg.rebalance {
            tokio::spawn(crate::rebalance::rebalancing(Arc::downgrade(&inner), r));
        }
        if let Some(idle) = inner.cfg.passivate_after {
            tokio::spawn(passivation(Arc::downgrade(&inner), idle));
        }
        Entities { inner }
    }

    /// The host's counts.
    pub fn stats(&self) -> &EntityStats {
        &self.inner.live.stats
    }

    pub(crate) fn kind_ops(&self, kind: &str) -> Result<Arc<dyn KindOps>, EntityError> {
        self.inner
            .kinds
            .read()
            .get(kind)
            .cloned()
            .ok_or_else(|| EntityError::UnknownKind(kind.to_string()))
    }

    /// Activations running on this node.
    pub fn live(&self) -> usize {
        self.inner.live.entries.lock().len()
    }

    /// Activations being started on this node now (their bookkeeping; 0 when idle).
    pub fn activating(&self) -> usize {
        self.inner.activating.lock().len()
    }

    /// The node's distribution.
    pub fn dist(&self) -> &Dist {
        &self.inner.dist
    }

    /// Registers the entity kind `E` on this node: its messages cross nodes, and activations
    /// of it may run here (under a supervisor of the kind). Register every kind on every
    /// entity node.
    pub async fn register<E: Entity>(&self) -> Result<(), SpawnError> {
        self.inner.dist.register::<StatemMsg<E>>();
        let env = ActivationEnv {
            log: self.inner.log.clone(),
            ids: self.inner.ids.clone(),
            clock: self.inner.clock,
            live: Arc::downgrade(&self.inner.live),
            idle_ms: self.inner.cfg.passivate_after.map(|d| d.as_millis() as u64),
            quorum: self.inner.cfg.quorum.clone(),
        };
        let spec = DynamicSupervisorSpec::from_fn(move |node, sup, (key, rec)| {
            Box::pin(start_activation::<E>(node, sup, key, rec, env.clone()))
                as BoxFuture<'static, Result<Started, SpawnError>>
        })
        // An activation that crashes is activated again by its next use, from the log.
        .restart(Restart::Temporary)
        .intensity(1000, Duration::from_secs(1));
        let sup = DynamicSupervisor::start(self.inner.dist.node(), spec).await?;
        self.inner.kinds.write().insert(
            E::KIND,
            Arc::new(KindHost::<E> {
                sup,
                log: self.inner.log.clone(),
                quorum: self.inner.cfg.quorum.clone(),
                _e: std::marker::PhantomData,
            }),
        );
        Ok(())
    }

    /// Activates `kind`/`key` on this node, unless an activation is already named somewhere:
    /// then that one's pid. Only the key's coordinator asks (see `place_here`), one request
    /// at a time per key.
    ///
    /// `stale`: an activation that was just stopped (a move), whose name this node's replica
    /// may still list for a moment: wait until it is gone rather than answer with it.
    pub(crate) async fn activate_here(
        &self,
        kind: &str,
        key: &str,
        stale: Option<Pid>,
    ) -> Result<Pid, EntityError> {
        let ops = self
            .inner
            .kinds
            .read()
            .get(kind)
            .cloned()
            .ok_or_else(|| EntityError::UnknownKind(kind.to_string()))?;
        let dir = directory_key(kind, key);
        let deadline = tokio::time::Instant::now() + self.inner.cfg.activation_timeout;
        loop {
            match self.named(&dir) {
                Some(pid) if Some(pid) == stale && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Some(pid) => {
                    self.inner
                        .live
                        .stats
                        .duplicates
                        .fetch_add(1, Ordering::Relaxed);
                    return Ok(pid);
                }
                None => break,
            }
        }
        if self.inner.leaving.load(Ordering::Relaxed) {
            return Err(activation_err(kind, key, "this node is leaving".into()));
        }
        // On the minority side the key may be active on the other side: no second writer.
        self.check_quorum(kind, key)?;
        self.start_named(&*ops, kind, key, dir).await
    }

    /// The live holder of an entity's name, as this node's replica knows it. A local holder
    /// that has exited is not returned, nor a holder on a node this node is not connected to:
    /// its name is stale (the replica purges it when the node-down is processed), and a
    /// request to it could not be sent.
    pub(crate) fn named(&self, dir: &Key) -> Option<Pid> {
        let pid = self.inner.global.where_(dir)?;
        let node = self.inner.dist.node();
        if pid.node == node.pid().node {
            return node.is_alive(pid).then_some(pid);
        }
        self.inner.dist.is_up(pid.node).then_some(pid)
    }

    async fn start_named(
        &self,
        ops: &dyn KindOps,
        kind: &str,
        key: &str,
        dir: Key,
    ) -> Result<Pid, EntityError> {
        let pid = tokio::time::timeout(self.inner.cfg.activation_timeout, ops.start(key.into()))
            .await
            .map_err(|_| activation_err(kind, key, "timed out".into()))??;
        // Named here at once; the other nodes learn it as it propagates. No waiting for
        // every node: the key's coordinator (the only place that activates it) waits until
        // it lists the name (`place_here`), and a node that does not list it yet asks the
        // coordinator.
        let registered = self
            .inner
            .global
            .register(Kind::Name, dir.clone(), pid, Value::None);
        match registered {
            Ok(()) => {
                // Named: from now on idle time counts.
                if let Some(e) = self.inner.live.entries.lock().get(&pid) {
                    e.activity
                        .store(self.inner.clock.now_ms(), Ordering::Relaxed);
                    e.named.store(true, Ordering::Relaxed);
                }
                Ok(pid)
            }
            Err(e) => {
                // Another activation took the name first: ours stops before it wrote anything
                // (it has handled no event), and the caller uses the holder.
                ops.terminate(pid).await;
                self.inner
                    .live
                    .stats
                    .duplicates
                    .fetch_add(1, Ordering::Relaxed);
                match self.inner.global.where_(&dir) {
                    Some(holder) => Ok(holder),
                    None => Err(activation_err(kind, key, e.to_string())),
                }
            }
        }
    }
}

/// What every activation of a host shares.
#[derive(Clone)]
struct ActivationEnv {
    log: Arc<dyn EntityLog>,
    ids: Arc<Ids>,
    clock: Clock,
    live: Weak<Live>,
    idle_ms: Option<u64>,
    quorum: Option<actor_cluster::membership::Quorum>,
}

/// The start function of an activation, given what the log holds for its key (and the epoch,
/// if the log took one already; otherwise the first write takes it): rebuild the machine from
/// the last durable state, start it.
async fn start_activation<E: Entity>(
    node: actor_core::Node,
    sup: Pid,
    key: String,
    rec: Recovered,
    env: ActivationEnv,
) -> Result<Started, SpawnError> {
    let ActivationEnv {
        log,
        ids,
        clock,
        live,
        idle_ms,
        quorum,
    } = env;
    let fail = |why: String| SpawnError::Init(ExitReason::error(why));
    let last_bytes = rec.state().map(<[u8]>::to_vec).unwrap_or_default();
    let last: Option<(E::State, E::Data)> = match rec.state() {
        None => None,
        Some(b) => Some(postcard::from_bytes(b).map_err(|e| {
            fail(format!(
                "the last state of {}/{key} does not decode: {e}",
                E::KIND
            ))
        })?),
    };
    let activity = Arc::new(AtomicU64::new(clock.now_ms()));
    let passivable = Arc::new(AtomicBool::new(true));
    let journaler = Journaler {
        durable: rec.state().is_some(),
        quorum,
        stats: live.clone(),
        log,
        ids,
        kind: E::KIND,
        key: key.clone(),
        epoch: rec.epoch,
        read: rec.position(),
        seq: rec.last_seq,
        last: last_bytes,
        buf: Vec::new(),
        activity: activity.clone(),
        passivable: passivable.clone(),
        idle_ms,
        clock,
    };
    let machine = E::activate(&key, last);
    let r = node
        .spawn_opts(
            Statem::persisted(machine, Box::new(journaler)),
            child_opts(sup),
        )
        .await?;
    let pid = r.pid();
    if let Some(live) = live.upgrade() {
        live.stats.activations.fetch_add(1, Ordering::Relaxed);
        live.entries.lock().insert(
            pid,
            LiveEntry {
                kind: E::KIND,
                key,
                activity,
                passivable,
                named: AtomicBool::new(false),
                check: {
                    let r = r.clone();
                    Box::new(move || {
                        let _ = r.tell(StatemMsg::check());
                    })
                },
                stop: Box::new(move |reason| {
                    r.stop(reason);
                }),
            },
        );
        if !node.on_exit(pid, live.clone()) {
            live.entries.lock().remove(&pid);
        }
    }
    Ok(Started::Pid(pid))
}

/// Drops the cached references to activations on nodes that go down.
async fn forget_down_nodes(
    inner: Weak<Inner>,
    mut events: tokio::sync::mpsc::Receiver<actor_dist::NodeEvent>,
) {
    while let Some(ev) = events.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        if let actor_dist::NodeEvent::Down { node, .. } = ev {
            inner
                .live
                .refs
                .purge_node(actor_core::NodeId::from_name(&node));
        }
    }
}

/// Stops activations idle for `idle`, checking a few times per `idle`.
async fn passivation(inner: Weak<Inner>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let now = inner.clock.now_ms();
        inner.live.passivate_idle(now, idle.as_millis() as u64);
    }
}
