//! The global scope: a [`GlobalRegistry`] is this node's replica of a named scope that spans
//! every connected node (gproc's `g` scope, replicated the way syn does it).

use crate::error::{KeySendError, NotSynced, RegistryError};
use crate::key::{Key, Kind, Value};
use crate::registry::{tell_all, tell_holder, Registry};
use crate::sync::{discover_loop, whereis_fn, Replication, Server, SyncMsg};
use actor_core::{ExitReason, NodeId, Pid, ReplyTo, SpawnError};
use actor_dist::{Dist, Message};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One of two holders of a unique key that met after registering it on different nodes:
/// only what never changes after registration, so every node judges the same two facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The holder (its node is `pid.node`).
    pub pid: Pid,
    /// When it registered, as a logical stamp: the value of its node's Lamport clock, which
    /// advances by one on every registration made there and moves past every stamp that
    /// node receives from a peer (`max(local, received) + 1`). So a registration made after
    /// its node learned of another one has the greater stamp: a lower stamp means *logically
    /// earlier* (nothing the other registration's node knew came after it). Two concurrent
    /// registrations (neither node knew of the other's) are ordered by their stamps too, but
    /// that order says nothing about wall time. No wall clock is involved, so a node whose
    /// clock is skewed gains nothing.
    pub registered_at: u64,
}

/// Picks which of two holders of `key` keeps it; must return one of the two pids. It is given
/// the candidates in pid order on every node, so a pure function picks the same winner
/// everywhere (which is what makes the replicas agree). It runs inside the registry's lock:
/// it must not call the registry (that would deadlock). If it panics or names neither
/// candidate, the default decides.
pub type Resolver = Arc<dyn Fn(&Key, &Candidate, &Candidate) -> Pid + Send + Sync>;

/// A name conflict as its loser's node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConflict {
    /// Kind of the key (name or aggregated counter).
    pub kind: Kind,
    /// The key.
    pub key: Key,
    /// The local process that lost the key.
    pub loser: Pid,
    /// The process that kept it (on another node); with `both_lost`, the other holder, which
    /// lost it too.
    pub winner: Pid,
    /// The scope resolves conflicts with [`GlobalConfig::notify_all_name`]: neither holder
    /// kept the name.
    pub both_lost: bool,
}

/// How the loser of a name conflict is told. Either way its entry is gone everywhere.
#[derive(Clone)]
pub enum OnConflict {
    /// An exit signal with this reason (syn's default kills the loser; a loser that traps
    /// exits gets it in `handle_exit` and lives on without the name).
    Exit(ExitReason),
    /// A call on the loser's node, after the registry's lock is released; typically it sends
    /// the loser a message of its own type.
    Notify(Arc<dyn Fn(NameConflict) + Send + Sync>),
}

impl fmt::Debug for OnConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnConflict::Exit(r) => f.debug_tuple("Exit").field(r).finish(),
            OnConflict::Notify(_) => f.write_str("Notify(..)"),
        }
    }
}

/// How a global scope is set up.
#[derive(Clone)]
pub struct GlobalConfig {
    /// The scope's name; replicas of the same name on different nodes form one scope.
    pub scope: String,
    /// Name-conflict resolver; `None` keeps the logically earlier registration (the lower
    /// [`Candidate::registered_at`] Lamport stamp), then the lower pid.
    pub resolver: Option<Resolver>,
    /// How a loser is told; by default an exit with reason `name_conflict`.
    pub on_conflict: OnConflict,
    /// Take part in the scope although this node is hidden (`DistConfig::hidden`); off by
    /// default. A hidden node's replica is otherwise neither discovered by visible nodes nor
    /// accepted by them: it holds only its own node's entries. With this on, it discovers the
    /// visible nodes it is connected to and they accept it as a peer (they still never
    /// discover it themselves). Has no effect on a visible node.
    pub take_part_when_hidden: bool,
    /// Resolve every name conflict by removing the name from both holders, each told on its
    /// own node through [`GlobalConfig::on_conflict`] (OTP's `global:notify_all_name/3`);
    /// the resolver is not asked. Off by default.
    pub notify_all_name: bool,
}

impl GlobalConfig {
    /// A scope named `scope`, with the default resolver and an exit for losers.
    pub fn new(scope: impl Into<String>) -> GlobalConfig {
        GlobalConfig {
            scope: scope.into(),
            resolver: None,
            on_conflict: OnConflict::Exit(ExitReason::error(actor_core::Term::atom(
                "name_conflict",
            ))),
            take_part_when_hidden: false,
            notify_all_name: false,
        }
    }

    /// Uses `f` to resolve name conflicts.
    pub fn resolver(
        mut self,
        f: impl Fn(&Key, &Candidate, &Candidate) -> Pid + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(f));
        self
    }

    /// Tells conflict losers this way.
    pub fn on_conflict(mut self, on: OnConflict) -> Self {
        self.on_conflict = on;
        self
    }

    /// Resolves every name conflict by removing the name from both holders, and telling both
    /// (OTP's `global:notify_all_name/3`): after a heal, nobody holds a contested name until
    /// someone registers it again. Each loser is told as [`GlobalConfig::on_conflict`] says,
    /// with [`NameConflict::both_lost`] set.
    ///
    /// ```
    /// use actor_registry::{GlobalConfig, OnConflict};
    /// use std::sync::Arc;
    /// let cfg = GlobalConfig::new("locks")
    ///     .notify_all_name()
    ///     .on_conflict(OnConflict::Notify(Arc::new(|c| assert!(c.both_lost))));
    /// assert!(cfg.notify_all_name);
    /// ```
    pub fn notify_all_name(mut self) -> Self {
        self.notify_all_name = true;
        self
    }

    /// Takes part in the scope although this node is hidden (see the field of the same name).
    ///
    /// ```
    /// use actor_registry::GlobalConfig;
    /// // An operator tool joining as a hidden node that wants to see the cluster's names.
    /// let cfg = GlobalConfig::new("accounts").take_part_when_hidden(true);
    /// assert!(cfg.take_part_when_hidden);
    /// ```
    pub fn take_part_when_hidden(mut self, on: bool) -> Self {
        self.take_part_when_hidden = on;
        self
    }
}

/// Counters of a global scope's replica: what it refused and what it resolved.
#[derive(Debug, Default)]
pub struct GlobalStats {
    /// Sync messages (or parts) that were invalid: another scope, a change about a process
    /// of another node, a counter that is not an integer. Logged and skipped.
    pub malformed: AtomicU64,
    /// Messages from a server that is not (or no longer) the peer for its node. Skipped.
    pub stale: AtomicU64,
    /// Name conflicts met by this replica.
    pub conflicts: AtomicU64,
    /// Resolver answers that named neither candidate (the default decided).
    pub bad_resolutions: AtomicU64,
    /// Changes that could not be sent to a peer (its connection was going down).
    pub send_failures: AtomicU64,
    /// Published messages delivered here on behalf of another node.
    pub relayed: AtomicU64,
    /// Discovery by hidden nodes that did not opt in, refused here.
    pub hidden_refused: AtomicU64,
    /// Published messages for local holders that could not take them.
    pub undelivered: AtomicU64,
    /// Registration stamps received from peers that were far ahead of this replica's clock
    /// (more than 2^32): each kept its own registration's stamp, but the clock did not
    /// follow it.
    pub skewed: AtomicU64,
}

impl GlobalStats {
    /// A counter's current value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Why [`GlobalRegistry::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The scope's server actor could not be spawned.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// This node runs a replica of the scope already.
    #[error("scope {0:?} is running on this node already")]
    AlreadyStarted(String),
}

/// This node's replica of a global scope. It offers every [`Registry`] operation (through
/// `Deref`), on entries that every connected node sees:
///
/// - **Lookups are local**: `where_`, `lookup_values`, `select`, `members` read this node's
///   replica, with no network round trip.
/// - **Registration returns once visible locally** and is sent to every peer at once;
///   [`GlobalRegistry::register_sync`] also waits until every connected peer has applied it.
/// - Processes register on their own node (the pid must be local), and **entries vanish
///   everywhere** when their process exits or when their node goes down.
/// - A node that joins receives the full state; after a partition heals the replicas
///   converge, and a name held on both sides is resolved the same way everywhere.
/// - [`GlobalRegistry::send`] reaches remote holders: one message per node, which that
///   node's replica hands to its local holders (pub/sub fan-out).
///
/// ```
/// use actor_core::{Actor, Context, Node};
/// use actor_dist::{Cookie, Dist, DistConfig};
/// use actor_registry::{GlobalConfig, GlobalRegistry, Key, Kind};
/// use std::time::Duration;
///
/// struct W;
/// impl Actor for W {
///     type Msg = ();
///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cookie = Cookie::new("secret").unwrap();
/// let a = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(cookie.clone())).await.unwrap();
/// let b = Dist::start(&Node::new("b@127.0.0.1"), DistConfig::new(cookie)).await.unwrap();
/// let ga = GlobalRegistry::start(&a, GlobalConfig::new("accounts")).await.unwrap();
/// let gb = GlobalRegistry::start(&b, GlobalConfig::new("accounts")).await.unwrap();
/// a.connect(b.name(), b.local_addr()).await.unwrap();
///
/// let w = a.node().spawn(W).await.unwrap();
/// ga.register(Kind::Name, ("account", 42), w.pid(), ()).unwrap();
/// // Visible on b once replicated; await_name waits for it.
/// let found = gb.await_name(("account", 42), Duration::from_secs(5)).await.unwrap();
/// assert_eq!(found, w.pid());
/// assert_eq!(gb.where_(&Key::from(("account", 42))), Some(w.pid()));
/// # });
/// ```
#[derive(Clone)]
pub struct GlobalRegistry {
    reg: Registry,
}

impl fmt::Debug for GlobalRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "GlobalRegistry({:?}, {:?})",
            self.scope(),
            self.reg.node()
        )
    }
}

impl std::ops::Deref for GlobalRegistry {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.reg
    }
}

impl GlobalRegistry {
    /// Starts this node's replica of the scope `cfg.scope`: spawns its server actor, makes it
    /// findable by peers, and syncs with every node connected now and later.
    ///
    /// A node holds one replica per scope: starting a scope that is running on this node
    /// already fails with [`StartError::AlreadyStarted`].
    pub async fn start(dist: &Dist, cfg: GlobalConfig) -> Result<GlobalRegistry, StartError> {
        let running: Result<Option<Pid>, _> = dist
            .call(
                dist.name(),
                &whereis_fn(&cfg.scope),
                &(),
                Duration::from_secs(5),
            )
            .await;
        if let Ok(Some(_)) = running {
            return Err(StartError::AlreadyStarted(cfg.scope));
        }
        dist.register::<SyncMsg>();
        let repl = Replication {
            dist: dist.clone(),
            scope: cfg.scope.clone(),
            server: OnceLock::new(),
            resolver: cfg.resolver,
            on_conflict: cfg.on_conflict,
            notify_all_name: cfg.notify_all_name,
            changed: tokio::sync::Notify::new(),
            stats: Arc::new(GlobalStats::default()),
            clock: AtomicU64::new(0),
        };
        let reg = Registry::with_replication(dist.node(), Some(repl));
        let server = dist
            .node()
            .spawn(Server {
                reg: Arc::downgrade(&reg.inner),
            })
            .await?
            .pid();
        let g = reg.inner.global.as_ref().expect("just built");
        let _ = g.server.set(server);
        // Subscribe before listing the connected nodes, so no node falls in between.
        let events = dist.subscribe();
        let weak = Arc::downgrade(&reg.inner);
        let node = dist.node().clone();
        dist.register_rpc(&whereis_fn(&cfg.scope), move |()| {
            let alive = weak.strong_count() > 0 && node.is_alive(server);
            async move { alive.then_some(server) }
        });
        tokio::spawn(discover_loop(
            Arc::downgrade(&reg.inner),
            dist.clone(),
            cfg.scope,
            server,
            cfg.take_part_when_hidden,
            events,
        ));
        Ok(GlobalRegistry { reg })
    }

    fn repl(&self) -> &Replication {
        self.reg.inner.global.as_ref().expect("a global registry")
    }

    /// The scope's name.
    pub fn scope(&self) -> &str {
        &self.repl().scope
    }

    /// The distribution this replica syncs over.
    pub fn dist(&self) -> &Dist {
        &self.repl().dist
    }

    /// The registry (for code written against [`Registry`]).
    pub fn registry(&self) -> &Registry {
        &self.reg
    }

    /// This replica's counters.
    pub fn stats(&self) -> &GlobalStats {
        &self.repl().stats
    }

    /// The nodes whose replicas this one is synced with, ordered.
    pub fn peers(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .reg
            .inner
            .state
            .lock()
            .peers
            .values()
            .map(|p| p.name.clone())
            .collect();
        v.sort();
        v
    }

    /// Waits until this replica has exchanged full state with every connected visible node
    /// (OTP's `global:sync/0`), at most `timeout`: each is a peer, its full state is merged
    /// here, and it has confirmed that it applied everything this replica sent it, ours
    /// included. Nodes that connect meanwhile count too; a node that refused this hidden
    /// replica does not. Fails with [`NotSynced`] naming the nodes still missing.
    ///
    /// ```
    /// # use actor_dist::{Cookie, Dist, DistConfig};
    /// # use actor_core::Node;
    /// # use actor_registry::{GlobalConfig, GlobalRegistry};
    /// # use std::time::Duration;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let cookie = Cookie::new("secret").unwrap();
    /// let a = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(cookie.clone())).await.unwrap();
    /// let b = Dist::start(&Node::new("b@127.0.0.1"), DistConfig::new(cookie)).await.unwrap();
    /// let ga = GlobalRegistry::start(&a, GlobalConfig::new("s")).await.unwrap();
    /// let _gb = GlobalRegistry::start(&b, GlobalConfig::new("s")).await.unwrap();
    /// a.connect(b.name(), b.local_addr()).await.unwrap();
    /// ga.sync(Duration::from_secs(5)).await.unwrap();
    /// assert_eq!(ga.peers(), vec![b.name().to_string()]);
    /// # });
    /// ```
    pub async fn sync(&self, timeout: Duration) -> Result<(), NotSynced> {
        let deadline = tokio::time::Instant::now() + timeout;
        let g = self.repl();
        let from = *g.server.get().expect("server started");
        let mut confirmed: Vec<Pid> = Vec::new();
        loop {
            let changed = g.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // The nodes still to sync with, and the ones ready to be asked to confirm.
            let (missing, ask) = {
                let st = self.reg.inner.state.lock();
                let mut missing = Vec::new();
                let mut ask = Vec::new();
                for name in g.dist.visible_peers() {
                    let id = NodeId::from_name(&name);
                    if st.refused_by.contains(&id) {
                        continue;
                    }
                    match st.peers.get(&id) {
                        Some(p) if confirmed.contains(&p.server) => {}
                        Some(p) if p.merged => {
                            let (ack, rx) = ReplyTo::pair();
                            let msg = SyncMsg::Ops {
                                from,
                                ops: Vec::new(),
                                ack: Some(ack),
                            };
                            if g.send_to(p, msg, "sync confirmation") {
                                ask.push((p.server, rx));
                            }
                            missing.push(name);
                        }
                        _ => missing.push(name),
                    }
                }
                (missing, ask)
            };
            if missing.is_empty() {
                return Ok(());
            }
            // A peer answers after everything sent to it before (our full state included).
            let before = confirmed.len();
            for (server, rx) in ask {
                if let Ok(Ok(Ok(_))) = tokio::time::timeout_at(deadline, rx).await {
                    confirmed.push(server);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let mut nodes: Vec<String> = missing;
                nodes.sort();
                return Err(NotSynced {
                    nodes,
                    after: timeout,
                });
            }
            if confirmed.len() == before {
                // Nothing new: wait for a peer to be added or merged (or retry the
                // confirmations a little later: a peer may not have counted us yet).
                let retry = tokio::time::Instant::now() + Duration::from_millis(100);
                let _ = tokio::time::timeout_at(deadline.min(retry), changed).await;
            }
        }
    }

    /// Registers like [`Registry::register`], then waits until every node connected now has
    /// applied the registration, at most `timeout`. A node that goes down meanwhile no
    /// longer counts. Fails with [`RegistryError::Conflict`] if a peer already holds the
    /// name for another process and the resolver kept that one (this process will then be
    /// told, as configured), and with [`RegistryError::SyncTimeout`] naming the nodes that
    /// did not answer in time (the registration stands, and still propagates).
    pub async fn register_sync(
        &self,
        kind: Kind,
        key: impl Into<Key>,
        pid: Pid,
        value: impl Into<Value>,
        timeout: Duration,
    ) -> Result<(), RegistryError> {
        let key = key.into();
        let value = value.into();
        self.reg.check_pid(pid)?;
        let at = self.reg.stamp();
        let from = *self.repl().server.get().expect("server started");
        let waits = {
            let mut st = self.reg.inner.state.lock();
            self.reg
                .register_locked(&mut st, kind, key.clone(), pid, value, at)?;
            let ops = std::mem::take(&mut st.outbox);
            let mut waits = Vec::with_capacity(st.peers.len());
            for peer in st.peers.values() {
                let (ack, rx) = ReplyTo::pair();
                let msg = SyncMsg::Ops {
                    from,
                    ops: ops.clone(),
                    ack: Some(ack),
                };
                if self.repl().send_to(peer, msg, "registry change") {
                    waits.push((peer.name.clone(), rx));
                }
            }
            waits
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut late = Vec::new();
        for (node, rx) in waits {
            match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(Ok(true))) => {}
                Ok(Ok(Ok(false))) => return Err(RegistryError::Conflict { kind, key, node }),
                // The peer went away before answering: no longer connected, no longer counted.
                Ok(_) => {}
                Err(_) => late.push(node),
            }
        }
        if late.is_empty() {
            Ok(())
        } else {
            Err(RegistryError::SyncTimeout {
                kind,
                key,
                nodes: late,
            })
        }
    }

    /// Sends `msg` to the holder of a unique key, or to every holder of a property or
    /// counter key on every node (pub/sub), and returns how many holders it went to.
    ///
    /// Local holders get it directly. For the holders on another node, the message is
    /// encoded once and sent once to that node's replica, which hands it to its local holders
    /// (so a node with a thousand subscribers costs one network message). Remote holders are
    /// counted as reached when the message is sent; a holder that is gone or takes another
    /// type is skipped there (and counted in that node's [`GlobalStats::undelivered`]).
    ///
    /// `M` must be registered (`Dist::register`) on the receiving nodes. A message sent to a
    /// property is encoded once for all nodes, so it may carry pids and refs but not reply
    /// handles ([`ReplyTo`]); send those to a name.
    pub fn send<M: Message + Clone>(
        &self,
        kind: Kind,
        key: &Key,
        msg: M,
    ) -> Result<usize, KeySendError> {
        let dist = &self.repl().dist;
        let node = self.reg.node();
        if kind.is_unique() {
            let pid = self.reg.unique_holder(kind, key)?;
            tell_holder(dist.actor_ref::<M>(pid)?, pid, msg)?;
            return Ok(1);
        }
        let (local, remote): (Vec<Pid>, Vec<Pid>) = self
            .reg
            .lookup_pids(kind, key)
            .into_iter()
            .partition(|p| node.is_local(*p));
        // Encode first: an unencodable message reaches nobody.
        let payload = match remote.is_empty() {
            true => None,
            false => {
                Some(postcard::to_allocvec(&msg).map_err(|e| KeySendError::Encode(e.to_string()))?)
            }
        };
        let mut n = tell_all(node, &local, msg);
        let Some(mut payload) = payload else {
            return Ok(n);
        };
        let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
        for pid in remote {
            *per_node.entry(pid.node).or_default() += 1;
        }
        let from = *self.repl().server.get().expect("server started");
        let st = self.reg.inner.state.lock();
        let last = per_node.len() - 1;
        for (i, (node, holders)) in per_node.into_iter().enumerate() {
            let Some(peer) = st.peers.get(&node) else {
                continue;
            };
            let payload = match i == last {
                true => std::mem::take(&mut payload),
                false => payload.clone(),
            };
            let msg = SyncMsg::Publish {
                from,
                kind,
                key: key.clone(),
                tag: M::tag(),
                payload,
            };
            if self.repl().send_to(peer, msg, "published message") {
                n += holders;
            }
        }
        Ok(n)
    }
}
