//! The node side: [`Ops`], the rpc functions a node serves to operators, and its health.

use crate::protocol::*;
use actor_cluster::locks::Locks;
use actor_core::supervisor::{DynamicSupervisorRef, Started};
use actor_core::{ExitReason, NodeId, Pid};
use actor_dist::Dist;
use actor_entity::Entities;
use actor_journal::JournalStore;
use actor_registry::{GlobalRegistry, Key, KeyPart, Kind, Pat, Pattern, Value};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Where a membership layer reports quorum. actor-cluster's
/// [`Quorum`](actor_cluster::membership::Quorum) is one ([`OpsBuilder::membership`]); without
/// a source, health counts expected peers instead.
pub trait QuorumSource: Send + Sync + 'static {
    /// The quorum state now.
    fn quorum(&self) -> QuorumState;
}

/// The membership's quorum: quorate, deciding or minority, with this node's side counted
/// against the up members.
impl QuorumSource for actor_cluster::membership::Quorum {
    fn quorum(&self) -> QuorumState {
        let i = self.info();
        QuorumState {
            quorate: i.state == actor_cluster::membership::QuorumState::Quorate,
            phase: i.state.into(),
            reachable: i.side.len(),
            members: i.members,
        }
    }
}

type StartFn = Arc<dyn Fn(String) -> BoxFuture<'static, Result<Option<Pid>, String>> + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) dist: Dist,
    pub(crate) registries: Vec<GlobalRegistry>,
    pub(crate) entities: Option<Entities>,
    pub(crate) locks: Option<Locks>,
    pub(crate) journal: Option<Arc<dyn JournalStore>>,
    pub(crate) quorum: Option<Arc<dyn QuorumSource>>,
    pub(crate) expected_peers: usize,
    supervisors: HashMap<String, StartFn>,
    started: tokio::time::Instant,
}

/// Operator support on one node: the `$ops.*` rpc functions `actorctl` calls, health and
/// readiness, and (with [`Ops::serve`]) the metrics and probe listener. Cheap to clone.
///
/// ```
/// use actor_core::Node;
/// use actor_dist::{Cookie, Dist, DistConfig};
/// use actor_ops::Ops;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
///     .await
///     .unwrap();
/// let ops = Ops::builder(&dist).expected_peers(0).install();
/// assert!(ops.health().healthy);
/// assert_eq!(ops.report().name, "a@127.0.0.1");
/// # });
/// ```
#[derive(Clone)]
pub struct Ops {
    pub(crate) inner: Arc<Inner>,
}

/// Builds [`Ops`]: what the node shows operators.
pub struct OpsBuilder {
    inner: Inner,
}

impl Ops {
    /// Starts describing what `dist`'s node shows operators.
    pub fn builder(dist: &Dist) -> OpsBuilder {
        OpsBuilder {
            inner: Inner {
                dist: dist.clone(),
                registries: Vec::new(),
                entities: None,
                locks: None,
                journal: None,
                quorum: None,
                expected_peers: 0,
                supervisors: HashMap::new(),
                started: tokio::time::Instant::now(),
            },
        }
    }
}

impl OpsBuilder {
    /// Shows this global registry scope (`names`, `groups`; readiness waits for its sync).
    pub fn registry(mut self, reg: &GlobalRegistry) -> Self {
        self.inner.registries.push(reg.clone());
        self
    }

    /// Shows this entity host (`state <kind> <key>`, entity metrics).
    pub fn entities(mut self, e: &Entities) -> Self {
        self.inner.entities = Some(e.clone());
        self
    }

    /// Counts this node's global locks in the metrics.
    pub fn locks(mut self, l: &Locks) -> Self {
        self.inner.locks = Some(l.clone());
        self
    }

    /// Counts this journal's commits in the metrics.
    pub fn journal(mut self, j: Arc<dyn JournalStore>) -> Self {
        self.inner.journal = Some(j);
        self
    }

    /// Health follows this quorum state (a membership layer's) instead of counting peers.
    pub fn quorum(mut self, q: Arc<dyn QuorumSource>) -> Self {
        self.inner.quorum = Some(q);
        self
    }

    /// Health follows this membership's quorum: `/health` answers 503 while the node is in a
    /// minority or deciding (a partition settling), and `actorctl nodes` and the live view
    /// show the phase. Same as `quorum(Arc::new(m.quorum()))`.
    pub fn membership(self, m: &actor_cluster::membership::Membership) -> Self {
        self.quorum(Arc::new(m.quorum()))
    }

    /// How many other nodes this node expects in its cluster (default 0: none). Without a
    /// [`quorum`](OpsBuilder::quorum) source, the node is healthy while it sees a majority of
    /// the expected cluster (itself included), so a node cut off from its peers answers 503.
    pub fn expected_peers(mut self, n: usize) -> Self {
        self.inner.expected_peers = n;
        self
    }

    /// Lets operators start children of `sup` under the name `name` (`actorctl start-child
    /// NAME JSON`), the arguments given as JSON. Only supervisors exposed here can be used.
    pub fn supervisor<Args>(mut self, name: &str, sup: DynamicSupervisorRef<Args>) -> Self
    where
        Args: DeserializeOwned + Clone + Send + 'static,
    {
        let f: StartFn = Arc::new(move |json: String| {
            let sup = sup.clone();
            Box::pin(async move {
                let args: Args =
                    serde_json::from_str(&json).map_err(|e| format!("bad arguments: {e}"))?;
                match sup.start_child(args).await {
                    Ok(Started::Pid(p)) => Ok(Some(p)),
                    Ok(Started::Ignore) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            })
        });
        self.inner.supervisors.insert(name.to_string(), f);
        self
    }

    /// Registers the `$ops.*` rpc functions on the node and returns the handle.
    pub fn install(self) -> Ops {
        let ops = Ops {
            inner: Arc::new(self.inner),
        };
        ops.register_rpcs();
        ops
    }
}

/// Reads a key pattern written as parts joined by `/`: `*` matches one part, a trailing `**`
/// any number, a part that parses as an integer is an integer.
pub fn parse_pattern(text: &str) -> Pattern {
    if text.is_empty() || text == "**" {
        return Pattern::all();
    }
    let parts: Vec<&str> = text.split('/').collect();
    let n = parts.len();
    let pats = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| match p {
            "**" if i + 1 == n => Pat::Rest,
            "*" => Pat::Any,
            p => Pat::Is(match p.parse::<i64>() {
                Ok(i) => KeyPart::Int(i),
                Err(_) => KeyPart::Str(p.to_string()),
            }),
        })
        .collect();
    Pattern::new(pats)
}

/// A key shown as its parts joined by `/`.
pub fn show_key(key: &Key) -> String {
    key.parts()
        .iter()
        .map(|p| match p {
            KeyPart::Int(i) => i.to_string(),
            KeyPart::Str(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn show_value(v: &Value) -> String {
    match v {
        Value::None => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Name => "name",
        Kind::Property => "property",
        Kind::Counter => "counter",
        Kind::AggregatedCounter => "aggregated",
    }
}

fn parse_kind(k: &str) -> Option<Kind> {
    Some(match k {
        "name" | "n" => Kind::Name,
        "property" | "p" => Kind::Property,
        "counter" | "c" => Kind::Counter,
        "aggregated" | "a" => Kind::AggregatedCounter,
        _ => return None,
    })
}

const DESCRIBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The most rows one answer carries (`names`, `ps`), so an answer stays far below a frame's
/// size limit whatever the registry or process table holds.
pub const MAX_ROWS: usize = 10_000;

impl Ops {
    /// The node's distribution.
    pub fn dist(&self) -> &Dist {
        &self.inner.dist
    }

    /// The name of the node `id` if it is this node or a connected one.
    pub(crate) fn node_name(&self, id: NodeId) -> String {
        let d = &self.inner.dist;
        std::iter::once(d.name().to_string())
            .chain(d.nodes_connected())
            .find(|n| NodeId::from_name(n) == id)
            .unwrap_or_else(|| format!("{id}"))
    }

    /// Health and readiness now (what `/health` and `/ready` answer).
    pub fn health(&self) -> Health {
        let i = &self.inner;
        let visible = i.dist.nodes();
        let (healthy, mut reason, quorum) = match &i.quorum {
            Some(q) => {
                let q = q.quorum();
                let why = format!(
                    "{} of {} members on this side: {}",
                    q.reachable,
                    q.members,
                    q.phase.as_str()
                );
                (q.quorate, why, Some(q))
            }
            None => {
                let cluster = i.expected_peers + 1;
                let seen = visible.len() + 1;
                let ok = i.expected_peers == 0 || seen * 2 > cluster;
                let why = if i.expected_peers == 0 {
                    "no peers expected".to_string()
                } else {
                    format!(
                        "sees {} of {} expected peers{}",
                        visible.len(),
                        i.expected_peers,
                        if ok { "" } else { ": minority" }
                    )
                };
                (ok, why, None)
            }
        };
        let mut unsynced = Vec::new();
        for r in &i.registries {
            let peers = r.peers();
            if visible.iter().any(|n| !peers.contains(n)) {
                unsynced.push(r.scope().to_string());
            }
        }
        let ready = healthy && unsynced.is_empty();
        if healthy && !unsynced.is_empty() {
            reason = format!("{reason}; registry not synced: {}", unsynced.join(", "));
        }
        Health {
            healthy,
            ready,
            reason,
            quorum,
        }
    }

    /// This node's report (`actorctl nodes`).
    pub fn report(&self) -> NodeReport {
        let d = &self.inner.dist;
        let load = d.local_load();
        NodeReport {
            name: d.name().to_string(),
            creation: d.node().creation(),
            listen: d.local_addr(),
            app_version: d.app_version().to_string(),
            uptime_ms: self.inner.started.elapsed().as_millis() as u64,
            processes: load.actors,
            backlog: load.backlog,
            memory: load.memory,
            visible: d.nodes(),
            hidden: d.nodes_hidden(),
            health: self.health(),
            traffic: d.traffic(),
        }
    }

    /// This node's report and every visible node's (asked by this node), in name order.
    pub async fn cluster(&self) -> Vec<(String, Result<NodeReport, String>)> {
        let d = &self.inner.dist;
        let me = self.report();
        let others = d.nodes();
        let asks = others.iter().map(|n| async move {
            let r = d
                .call::<_, Option<NodeReport>>(n, INFO, &(), DESCRIBE_TIMEOUT * 4)
                .await;
            let r = match r {
                Ok(Some(rep)) => Ok(rep),
                Ok(None) => Err("stopping".to_string()),
                Err(e) => Err(e.to_string()),
            };
            (n.clone(), r)
        });
        let mut all = futures::future::join_all(asks).await;
        all.push((me.name.clone(), Ok(me)));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Registry entries of `kind` (all kinds if `None`) matching `pattern`, every scope.
    /// At most `limit` rows (and never more than [`MAX_ROWS`]).
    pub fn names(
        &self,
        kind: Option<&str>,
        pattern: &str,
        limit: usize,
    ) -> Result<Vec<NameRow>, String> {
        let limit = limit.min(MAX_ROWS);
        let kinds: Vec<Kind> = match kind {
            None => vec![
                Kind::Name,
                Kind::Property,
                Kind::Counter,
                Kind::AggregatedCounter,
            ],
            Some(k) => vec![parse_kind(k).ok_or_else(|| format!("unknown kind {k:?}"))?],
        };
        let pat = parse_pattern(pattern);
        let mut rows = Vec::new();
        for r in &self.inner.registries {
            for k in &kinds {
                for e in r.select(*k, &pat) {
                    if rows.len() >= limit {
                        return Ok(rows);
                    }
                    rows.push(NameRow {
                        scope: r.scope().to_string(),
                        kind: kind_name(e.kind).to_string(),
                        key: show_key(&e.key),
                        pid: e.pid,
                        node: self.node_name(e.pid.node),
                        value: show_value(&e.value),
                    });
                }
            }
        }
        Ok(rows)
    }

    /// Every process group of every scope, with its members.
    pub fn groups(&self) -> Vec<GroupRow> {
        let mut rows = Vec::new();
        for r in &self.inner.registries {
            for g in r.which_groups() {
                let mut members = r.members(&g);
                members.sort();
                rows.push(GroupRow {
                    scope: r.scope().to_string(),
                    group: show_key(&g),
                    members,
                });
            }
        }
        rows
    }

    /// This node's processes, the longest mailboxes first.
    pub async fn processes(&self, q: PsQuery) -> Vec<ProcessRow> {
        let node = self.inner.dist.node();
        let mut infos = node.process_infos();
        infos.sort_by(|a, b| {
            b.message_queue_len
                .cmp(&a.message_queue_len)
                .then(a.pid.cmp(&b.pid))
        });
        infos.truncate(q.limit.min(MAX_ROWS));
        let wait = Duration::from_millis(q.describe_ms.min(5_000));
        let states: Vec<_> = if q.describe_ms == 0 {
            infos.iter().map(|_| None).collect()
        } else {
            futures::future::join_all(
                infos
                    .iter()
                    .map(|i| async move { node.describe(i.pid, wait).await.ok() }),
            )
            .await
        };
        infos
            .into_iter()
            .zip(states)
            .map(|(info, state)| ProcessRow { info, state })
            .collect()
    }

    /// An entity's current state (asked of its activation, wherever it runs) and its last
    /// `receipts` receipts.
    pub async fn entity_state(
        &self,
        kind: &str,
        key: &str,
        receipts: usize,
    ) -> Result<StateReport, String> {
        let ent = self
            .inner
            .entities
            .as_ref()
            .ok_or("this node hosts no entities")?;
        let pid = ent.whereis(kind, key);
        let mut state = None;
        if let Some(pid) = pid {
            let d = &self.inner.dist;
            state = if d.node().is_local(pid) {
                d.node().describe(pid, DESCRIBE_TIMEOUT).await.ok()
            } else {
                let owner = self.node_name(pid.node);
                d.call::<_, Result<actor_core::ActorState, String>>(
                    &owner,
                    DESCRIBE,
                    &pid,
                    DESCRIBE_TIMEOUT * 2,
                )
                .await
                .ok()
                .and_then(Result::ok)
            };
        }
        let last_seq = last_seq(ent, kind, key).await?;
        let after = last_seq.saturating_sub(receipts as u64);
        let rows = ent
            .receipts(kind, key, after, receipts)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| ReceiptRow {
                seq: r.seq,
                epoch: r.epoch,
                time: r.time,
                from: r.from,
                to: r.to,
                metadata: r.metadata,
            })
            .collect();
        Ok(StateReport {
            kind: kind.to_string(),
            key: key.to_string(),
            pid,
            node: pid.map(|p| self.node_name(p.node)),
            state,
            last_seq,
            receipts: rows,
        })
    }

    fn register_rpcs(&self) {
        let d = &self.inner.dist;
        let weak = Arc::downgrade(&self.inner);
        let up = move || weak.upgrade().map(|inner| Ops { inner });
        let u = up.clone();
        d.register_rpc(INFO, move |()| {
            let ops = u();
            async move { ops.map(|o| o.report()) }
        });
        let u = up.clone();
        d.register_rpc(CLUSTER, move |()| {
            let ops = u();
            async move {
                match ops {
                    Some(o) => o.cluster().await,
                    None => Vec::new(),
                }
            }
        });
        let u = up.clone();
        d.register_rpc(
            NAMES,
            move |(kind, pat, limit): (Option<String>, String, u32)| {
                let ops = u();
                async move {
                    ops.ok_or("stopped".to_string())?
                        .names(kind.as_deref(), &pat, limit as usize)
                }
            },
        );
        let u = up.clone();
        d.register_rpc(GROUPS, move |()| {
            let ops = u();
            async move { ops.map(|o| o.groups()).unwrap_or_default() }
        });
        let u = up.clone();
        d.register_rpc(PROCESSES, move |q: PsQuery| {
            let ops = u();
            async move {
                match ops {
                    Some(o) => o.processes(q).await,
                    None => Vec::new(),
                }
            }
        });
        let u = up.clone();
        d.register_rpc(DESCRIBE, move |pid: Pid| {
            let ops = u();
            async move {
                let o = ops.ok_or("stopped".to_string())?;
                o.inner
                    .dist
                    .node()
                    .describe(pid, DESCRIBE_TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())
            }
        });
        let u = up.clone();
        d.register_rpc(STATE, move |(kind, key, n): (String, String, u32)| {
            let ops = u();
            async move {
                ops.ok_or("stopped".to_string())?
                    .entity_state(&kind, &key, n.min(1000) as usize)
                    .await
            }
        });
        let u = up.clone();
        d.register_rpc(STOP, move |(pid, kill): (Pid, bool)| {
            let ops = u();
            async move {
                let o = ops.ok_or("stopped".to_string())?;
                let node = o.inner.dist.node();
                if !node.is_alive(pid) {
                    return Err(format!("{pid} is not a live process of {}", node.name()));
                }
                tracing::warn!(%pid, kill, "stopped by an operator");
                if kill {
                    node.exit(pid, ExitReason::Kill);
                } else {
                    node.stop(pid, ExitReason::Shutdown);
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), node.wait_exit(pid)).await;
                if node.is_alive(pid) {
                    Err(format!("{pid} has not exited after 5 s"))
                } else {
                    Ok(())
                }
            }
        });
        let u = up;
        d.register_rpc(START_CHILD, move |(sup, json): (String, String)| {
            let ops = u();
            async move {
                let o = ops.ok_or("stopped".to_string())?;
                let f = o
                    .inner
                    .supervisors
                    .get(&sup)
                    .cloned()
                    .ok_or_else(|| format!("no supervisor {sup:?} is exposed on this node"))?;
                tracing::warn!(supervisor = %sup, "child started by an operator");
                f(json).await
            }
        });
    }
}

/// The last sequence number of an entity's log, found with O(log n) reads of one receipt
/// each: `entries(after = x)` is non-empty exactly when `x < last_seq`.
async fn last_seq(ent: &Entities, kind: &str, key: &str) -> Result<u64, String> {
    let exists_after = |x: u64| async move {
        ent.receipts(kind, key, x, 1)
            .await
            .map(|v| !v.is_empty())
            .map_err(|e| e.to_string())
    };
    if !exists_after(0).await? {
        return Ok(0);
    }
    // Grow until a bound with nothing after it, then bisect: lo < last <= hi.
    let (mut lo, mut hi) = (0u64, 1u64);
    while exists_after(hi).await? {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists_after(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}
