//! A node's governor environment: what a governor needs besides its key and last state
//! (distribution, the registry, the node's entity host, the tenant directory, policies), and
//! the [`Governors`] handle that starts it and calls governors by key.

use super::billing::{self, Billing};
use super::entitlement::{self, Entitlement};
use super::payment::PaymentIntent;
use super::quota::{self, Quota};
use super::{breach_key, events_key, split_key, GovernorError, QuotaBreached, StateChange};
use actor_core::{Actor, ActorRef, Context, Down, ExitReason, Node, Pid, ReplyTo, SpawnError};
use actor_dist::Dist;
use actor_entity::{Entities, Entity};
use actor_registry::{GlobalRegistry, Kind};
use parking_lot::RwLock;
use statem::StatemRef;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The local name of a node's environment server.
pub const ENV_NAME: &str = "governors.env";

/// Which tenants exist. A governor of a tenant not listed answers every request with
/// [`GovernorError::UnknownTenant`].
pub trait Tenants: Send + Sync + 'static {
    /// Whether `tenant` exists.
    fn contains(&self, tenant: &str) -> bool;
}

/// A tenant directory held in memory (fill it the same on every node).
#[derive(Default)]
pub struct StaticTenants(RwLock<BTreeSet<String>>);

impl StaticTenants {
    /// A directory of `tenants`.
    pub fn new<S: Into<String>>(tenants: impl IntoIterator<Item = S>) -> Self {
        StaticTenants(RwLock::new(tenants.into_iter().map(Into::into).collect()))
    }

    /// Adds a tenant.
    pub fn add(&self, tenant: &str) {
        self.0.write().insert(tenant.to_string());
    }
}

impl Tenants for StaticTenants {
    fn contains(&self, tenant: &str) -> bool {
        self.0.read().contains(tenant)
    }
}

/// The policies and services of one node's governors. Give every node the same.
#[derive(Clone)]
pub struct GovernorsConfig {
    /// Which tenants exist.
    pub tenants: Arc<dyn Tenants>,
    /// Entitlement policy.
    pub entitlement: entitlement::Config,
    /// Billing policy and payment services.
    pub billing: billing::Config,
    /// Quota limits and window.
    pub quota: quota::Config,
    /// While a governor waits for a timer of its own (a review window, a grace period, a
    /// backup retry, a quota window with usage), it makes an event this often so that the
    /// entity layer does not passivate it (which would stop the timer until its next use).
    /// Keep it below `EntityConfig::passivate_after`. Default 60 s; `None`: off.
    pub keep_alive: Option<Duration>,
}

impl GovernorsConfig {
    /// Default policies for `tenants`.
    pub fn new(tenants: Arc<dyn Tenants>) -> Self {
        GovernorsConfig {
            tenants,
            entitlement: entitlement::Config::default(),
            billing: billing::Config::default(),
            quota: quota::Config::default(),
            keep_alive: Some(Duration::from_secs(60)),
        }
    }
}

/// Counts of one node's governors.
#[derive(Debug, Default)]
pub struct GovernorStats {
    /// Requests refused with a [`GovernorError`] (bad input, invalid in the state, ...).
    pub refused: AtomicU64,
    /// State changes published.
    pub published: AtomicU64,
}

/// Counts and logs (at debug level) a refused request.
pub(crate) fn refusal(env: &Option<Arc<GovernorEnv>>, kind: &str, key: &str, e: &GovernorError) {
    if let Some(env) = env {
        env.stats.refused.fetch_add(1, Ordering::Relaxed);
    }
    tracing::debug!(kind, key, "governor request refused: {e}");
}

/// What a governor activation on this node reaches: see the [module docs](super).
pub struct GovernorEnv {
    /// This node's distribution (billing's backup rpc).
    pub dist: Dist,
    /// The global registry scope (publication, counters).
    pub global: GlobalRegistry,
    /// This node's entity host.
    pub entities: Entities,
    /// Policies.
    pub cfg: GovernorsConfig,
    /// Counts.
    pub stats: GovernorStats,
}

impl GovernorEnv {
    /// The tenant of `key`, if the key is well formed and the tenant exists.
    pub fn check_tenant(&self, key: &str) -> Result<String, GovernorError> {
        let (tenant, _) = split_key(key)?;
        if !self.cfg.tenants.contains(tenant) {
            return Err(GovernorError::UnknownTenant(tenant.to_string()));
        }
        Ok(tenant.to_string())
    }

    /// Publishes a durable state change to the tenant's subscribers on every node
    /// (best effort, as any message: a subscriber that is gone misses it).
    pub fn publish(&self, change: StateChange) {
        let key = events_key(&change.tenant);
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.global.send(Kind::Property, &key, change) {
            tracing::debug!("publishing a governor state change: {e}");
        }
    }

    /// Publishes a quota breach to the tenant's entitlement and billing governors.
    pub fn publish_breach(&self, breach: &QuotaBreached) {
        for kind in [Entitlement::KIND, Billing::KIND] {
            let key = breach_key(&breach.tenant, kind);
            if let Err(e) = self.global.send(Kind::Property, &key, breach.clone()) {
                tracing::debug!("publishing a quota breach: {e}");
            }
        }
    }

    /// Subscribes the activation `me` of `E` to its tenant's quota breaches: a small local
    /// process holds the property [`breach_key`] and casts `map(breach)` to `me`; it stops
    /// when `me` does.
    pub async fn subscribe_breaches<E: Entity>(
        &self,
        node: &Node,
        tenant: &str,
        me: StatemRef<E>,
        map: fn(QuotaBreached) -> E::Msg,
    ) -> Result<(), ExitReason> {
        let watch = me.pid();
        let fwd = node
            .spawn(Forward::<E> { to: me, watch, map })
            .await
            .map_err(|e| ExitReason::error(format!("breach subscription: {e}")))?;
        self.global
            .registry()
            .register(Kind::Property, breach_key(tenant, E::KIND), fwd.pid(), ())
            .map_err(|e| ExitReason::error(format!("breach subscription: {e}")))
    }
}

/// Forwards quota breaches to one governor activation.
struct Forward<E: Entity> {
    to: StatemRef<E>,
    watch: Pid,
    map: fn(QuotaBreached) -> E::Msg,
}

impl<E: Entity> Actor for Forward<E> {
    type Msg = QuotaBreached;

    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.watch);
        Ok(())
    }

    async fn handle(&mut self, msg: QuotaBreached, _ctx: &mut Context<Self>) {
        let _ = self.to.cast((self.map)(msg));
    }

    async fn handle_down(&mut self, _down: Down, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::Normal);
    }
}

/// The environment server: answers with the node's [`GovernorEnv`].
struct EnvServer(Arc<GovernorEnv>);

impl Actor for EnvServer {
    type Msg = ReplyTo<Arc<GovernorEnv>>;
    async fn handle(&mut self, to: Self::Msg, _ctx: &mut Context<Self>) {
        to.send(self.0.clone());
    }
}

/// The governor environment of `node`, from its [`ENV_NAME`] server (`None` if
/// [`Governors::start`] did not run on this node).
pub async fn env_of(node: &Node) -> Option<Arc<GovernorEnv>> {
    let server: ActorRef<ReplyTo<Arc<GovernorEnv>>> = node.named(ENV_NAME).ok()?;
    server.call(|to| to, Duration::from_secs(5)).await.ok()
}

/// The environment lookup in a governor's `init`: the exit reason if it is missing.
pub(crate) async fn need_env(node: &Node) -> Result<Arc<GovernorEnv>, ExitReason> {
    env_of(node).await.ok_or_else(|| {
        ExitReason::error("governors: Governors::start did not run on this node".to_string())
    })
}

/// One node's governors: start them with [`Governors::start`] on every entity node, then
/// call any governor by key from any node. Cheap to clone.
#[derive(Clone)]
pub struct Governors {
    env: Arc<GovernorEnv>,
}

impl Governors {
    /// Starts the node's governor environment and registers the governor kinds
    /// ([`Entitlement`], [`Billing`], [`Quota`], [`PaymentIntent`]) with `entities`.
    pub async fn start(
        entities: &Entities,
        global: &GlobalRegistry,
        cfg: GovernorsConfig,
    ) -> Result<Governors, SpawnError> {
        let dist = entities.dist().clone();
        dist.register::<StateChange>();
        dist.register::<QuotaBreached>();
        let env = Arc::new(GovernorEnv {
            dist: dist.clone(),
            global: global.clone(),
            entities: entities.clone(),
            cfg,
            stats: GovernorStats::default(),
        });
        let server = dist.node().spawn(EnvServer(env.clone())).await?;
        dist.node()
            .register(ENV_NAME, server.pid())
            .map_err(|e| SpawnError::Init(ExitReason::error(e.to_string())))?;
        entities.register::<Entitlement>().await?;
        entities.register::<Billing>().await?;
        entities.register::<Quota>().await?;
        entities.register::<PaymentIntent>().await?;
        Ok(Governors { env })
    }

    /// The node's environment.
    pub fn env(&self) -> &Arc<GovernorEnv> {
        &self.env
    }

    /// The node's entity host.
    pub fn entities(&self) -> &Entities {
        &self.env.entities
    }

    /// Calls governor `E` with key `key` (`"tenant/id"`) from this node. An unknown tenant or
    /// a malformed key is refused here, without activating anything; a failure to reach the
    /// governor is [`GovernorError::Unavailable`].
    pub async fn call<E, R>(
        &self,
        key: &str,
        cmd: E::Call,
        timeout: Duration,
    ) -> Result<R, GovernorError>
    where
        E: Entity<Reply = Result<R, GovernorError>>,
    {
        if let Err(e) = self.env.check_tenant(key) {
            refusal(&Some(self.env.clone()), E::KIND, key, &e);
            return Err(e);
        }
        match self.env.entities.call::<E>(key, cmd, timeout).await {
            Ok(reply) => reply,
            Err(e) => Err(GovernorError::Unavailable(e.to_string())),
        }
    }

    /// Subscribes `pid` (a local actor taking [`StateChange`]) to `tenant`'s state changes
    /// from every node. The subscription ends when the actor exits.
    pub fn subscribe(&self, tenant: &str, pid: Pid) -> Result<(), actor_registry::RegistryError> {
        self.env
            .global
            .registry()
            .register(Kind::Property, events_key(tenant), pid, ())
    }
}
