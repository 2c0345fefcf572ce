//! Reaching entities by key from any node: [`Entities::call`], [`Entities::cast`],
//! [`Entities::get_or_activate`]; and moving them: [`Entities::migrate`], [`Entities::leave`].

use crate::entity::Entity;
use crate::error::EntityError;
use crate::error::Refusal;
use crate::host::{activation_err, directory_key, Entities, ACTIVATE, PLACE};
use crate::placement::stable_hash;
use crate::placement::Candidate;
use crate::MinorityWrites;
use actor_core::{CallError, ExitReason, Pid, Term};
use actor_dist::RpcError;
use statem::{StatemMsg, StatemRef};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How long a load report is taken to lag behind placements (the report interval, with room).
const IN_FLIGHT_MS: u64 = 2_000;

/// Whether a failed call provably did not reach a live activation, so that sending it again
/// cannot apply it twice: the activation was gone, or stopped (passivation, hand-off) or was
/// fenced before it handled the request (a fenced transition is never durable).
fn retryable(e: &CallError) -> bool {
    match e {
        CallError::Exit(ExitReason::NoProc) | CallError::Exit(ExitReason::Shutdown) => true,
        CallError::Exit(ExitReason::ShutdownWith(t)) => *t == Term::atom("fenced"),
        _ => false,
    }
}

/// The error of a call that reached (or tried to reach) an activation: a refusal the
/// activation sent back as an exit reason is typed again here.
fn call_error(kind: &str, key: &str, error: CallError) -> EntityError {
    if let CallError::Exit(reason) = &error {
        if let Some(r) = Refusal::from_reason(reason) {
            return r.into_error(kind, key);
        }
        if *reason == crate::journaler::fenced() {
            return EntityError::Fenced {
                kind: kind.to_string(),
                key: key.to_string(),
            };
        }
    }
    EntityError::Call {
        kind: kind.to_string(),
        key: key.to_string(),
        error,
    }
}

impl Entities {
    /// Calls entity `E` with key `key` from any node (activating it first if needed, where
    /// placement says), and waits for its reply, at most `timeout` per attempt. A change is
    /// replied to only once its receipt is durable.
    ///
    /// Besides the call's own failures ([`EntityError::Call`]): a write refused on the
    /// minority side is [`EntityError::NotQuorate`] (not applied; with
    /// [`MinorityWrites::Queue`](crate::MinorityWrites::Queue) it waits for the quorum
    /// instead, or fails with [`EntityError::QueueFull`] / [`EntityError::QueueTimeout`],
    /// not applied either); a receipt log that failed is [`EntityError::Log`]; an activation
    /// fenced by a newer one that could not be reached is [`EntityError::Fenced`].
    pub async fn call<E: Entity>(
        &self,
        key: &str,
        request: E::Call,
        timeout: Duration,
    ) -> Result<E::Reply, EntityError> {
        // The request is owned by each future that sends it (cloned per attempt), never
        // borrowed across an await: `E::Call` need not be `Sync`. Only a configuration that
        // queues refused writes keeps a copy for the replay.
        if matches!(self.inner.cfg.minority_writes, MinorityWrites::Refuse) {
            return self.call_once::<E>(key, request, timeout).await;
        }
        match self.call_once::<E>(key, request.clone(), timeout).await {
            Err(e @ EntityError::NotQuorate { .. }) => {
                self.queue_or_refuse(e, move || {
                    self.call_once::<E>(key, request.clone(), timeout)
                })
                .await
            }
            other => other,
        }
    }

    /// One call, sent again while it provably did not reach a live activation.
    async fn call_once<E: Entity>(
        &self,
        key: &str,
        request: E::Call,
        timeout: Duration,
    ) -> Result<E::Reply, EntityError> {
        let mut attempt = 0;
        loop {
            let r = self.get_or_activate::<E>(key).await?;
            match r.call(request.clone(), timeout).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    // Whatever failed, the next attempt resolves the key again.
                    self.inner.live.refs.evict(E::KIND, key, Some(r.pid()));
                    if retryable(&e) && attempt < self.inner.cfg.retries {
                        attempt += 1;
                        self.backoff(attempt).await;
                    } else {
                        return Err(call_error(E::KIND, key, e));
                    }
                }
            }
        }
    }

    /// Casts to entity `E` with key `key` (activating it first if needed).
    pub async fn cast<E: Entity>(&self, key: &str, msg: E::Msg) -> Result<(), EntityError> {
        let r = self.get_or_activate::<E>(key).await?;
        r.cast(msg)
            .inspect_err(|_| self.inner.live.refs.evict(E::KIND, key, Some(r.pid())))
            .map_err(|e| EntityError::Call {
                kind: E::KIND.to_string(),
                key: key.to_string(),
                error: match e {
                    actor_core::SendError::NoProc(_) => CallError::Exit(ExitReason::NoProc),
                    actor_core::SendError::Full(_) => CallError::Full,
                    other => CallError::Encode(other.to_string()),
                },
            })
    }

    /// The activation of `E`/`key`: the one named in the cluster, or a new one on the node
    /// placement chooses.
    ///
    /// The reference is cached on this node (see [`EntityConfig::ref_cache`](
    /// crate::EntityConfig::ref_cache)): later uses of the key skip the registry.
    pub async fn get_or_activate<E: Entity>(&self, key: &str) -> Result<StatemRef<E>, EntityError> {
        if let Some(r) = self.cached::<E>(key) {
            return Ok(r);
        }
        let pid = self.locate(E::KIND, key).await?;
        let r = StatemRef::from(
            self.inner
                .dist
                .actor_ref::<StatemMsg<E>>(pid)
                .map_err(|e| activation_err(E::KIND, key, e.to_string()))?,
        );
        self.inner.live.refs.insert(E::KIND, key, pid, r.clone());
        Ok(r)
    }

    /// The cached reference of `E`/`key`, unless its node is not connected (then the entry
    /// goes, and the key is resolved again, as `named` does).
    fn cached<E: Entity>(&self, key: &str) -> Option<StatemRef<E>> {
        let refs = &self.inner.live.refs;
        let (pid, r) = refs.get::<StatemRef<E>>(E::KIND, key)?;
        let dist = &self.inner.dist;
        if pid.node != dist.node().id() && !dist.is_up(pid.node) {
            refs.evict(E::KIND, key, Some(pid));
            return None;
        }
        Some(r)
    }

    /// Resolved activations cached on this node ([`EntityConfig::ref_cache`](
    /// crate::EntityConfig::ref_cache)).
    pub fn cached_refs(&self) -> usize {
        self.inner.live.refs.len()
    }

    /// The pid of the activation of `kind`/`key` if one is named now (no activation).
    pub fn whereis(&self, kind: &str, key: &str) -> Option<Pid> {
        self.named(&directory_key(kind, key))
    }

    async fn backoff(&self, attempt: u32) {
        tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(8))).await;
    }

    /// The candidates for a new activation: this node (unless leaving) and the connected
    /// visible nodes, with their loads and this node's placements in flight.
    fn candidates(&self, exclude: &[String], origin: &str) -> Vec<Candidate> {
        let dist = &self.inner.dist;
        let loads = dist.loads();
        let now = self.inner.clock.now_ms();
        let mut placed = self.inner.placed.lock();
        placed.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.saturating_sub(*t) > IN_FLIGHT_MS)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let mut out = Vec::new();
        let me = dist.name().to_string();
        if !self.inner.leaving.load(Ordering::Relaxed) && !exclude.contains(&me) {
            out.push(Candidate {
                in_flight: placed.get(&me).map_or(0, |t| t.len() as u64),
                // As old as the peers' reports (a fresh one walks every process here).
                load: dist.reported_load(),
                local: me == origin,
                node: me,
            });
        }
        for n in dist.nodes() {
            if exclude.contains(&n) {
                continue;
            }
            // No report yet (a node that just joined): it runs little.
            let load = loads.get(&n).copied().unwrap_or_default();
            out.push(Candidate {
                in_flight: placed.get(&n).map_or(0, |t| t.len() as u64),
                load,
                local: n == origin,
                node: n,
            });
        }
        out
    }

    /// Finds or activates `kind`/`key`. A key's activations are decided by one node, its
    /// **coordinator** (rendezvous hashing of the key over this node and the connected visible
    /// ones, so every node that sees the same members asks the same one): concurrent first
    /// uses from several nodes make one activation, not several that fence each other.
    pub(crate) async fn locate(&self, kind: &str, key: &str) -> Result<Pid, EntityError> {
        if let Some(pid) = self.named(&directory_key(kind, key)) {
            return Ok(pid);
        }
        // Not active on this side: on the minority side it is not activated here.
        self.check_quorum(kind, key)?;
        self.via_coordinator(kind, key, None).await
    }

    /// Asks the key's coordinator to place (or, with `to`, move) the activation.
    async fn via_coordinator(
        &self,
        kind: &str,
        key: &str,
        to: Option<&str>,
    ) -> Result<Pid, EntityError> {
        let coordinator = self.coordinator(kind, key);
        if coordinator != self.inner.dist.name() {
            let args = (
                kind.to_string(),
                key.to_string(),
                to.map(str::to_string),
                self.inner.dist.name().to_string(),
            );
            let res: Result<Result<Pid, Refusal>, RpcError> = self
                .inner
                .dist
                .call(
                    &coordinator,
                    PLACE,
                    &args,
                    self.inner.cfg.activation_timeout * 2,
                )
                .await;
            match res {
                Ok(Ok(pid)) => return Ok(pid),
                Ok(Err(why)) => return Err(remote_refusal(&coordinator, why, kind, key)),
                // The coordinator is gone or runs no entity host: decide here.
                Err(e) => {
                    tracing::debug!(%coordinator, kind, key, error = %e, "coordinator unreachable; placing here")
                }
            }
        }
        let me = self.inner.dist.name().to_string();
        self.place_here(kind, key, to, &me).await
    }

    /// The node that decides `kind`/`key`'s activations.
    fn coordinator(&self, kind: &str, key: &str) -> String {
        let dist = &self.inner.dist;
        let mut nodes = dist.nodes();
        nodes.push(dist.name().to_string());
        nodes
            .into_iter()
            .max_by_key(|n| {
                (
                    stable_hash(&[kind.as_bytes(), key.as_bytes(), n.as_bytes()]),
                    n.clone(),
                )
            })
            .expect("this node is a member")
    }

    /// As the key's coordinator: places and activates `kind`/`key` (or moves it to `to`), one
    /// request at a time per key (later ones find the first one's activation). `origin`: the
    /// node the request came from (the candidate placement sees as local).
    pub(crate) async fn place_here(
        &self,
        kind: &str,
        key: &str,
        to: Option<&str>,
        origin: &str,
    ) -> Result<Pid, EntityError> {
        let slot = (kind.to_string(), key.to_string());
        let gate = self
            .inner
            .activating
            .lock()
            .entry(slot.clone())
            .or_default()
            .clone();
        let result = {
            let _turn = gate.lock().await;
            let named = self.named(&directory_key(kind, key));
            let placed = match (named, to) {
                (Some(pid), None) => Ok(pid),
                (None, None) => self.place_and_activate(kind, key, origin).await,
                (Some(pid), Some(to)) if pid.node == actor_core::NodeId::from_name(to) => Ok(pid),
                (old, Some(to)) => {
                    if let Some(old) = old {
                        let ops = self.kind_ops(kind)?;
                        self.stop_and_wait(&*ops, old).await;
                    }
                    self.activate_at(to, kind, key, old).await
                }
            };
            // The host names its activation without waiting for every node; this turn holds
            // until this node (the key's coordinator) lists it, so that the next request for
            // the key here finds it rather than activating another one.
            if let Ok(pid) = placed {
                self.await_named(&directory_key(kind, key), pid, named)
                    .await;
            }
            placed
        };
        let mut activating = self.inner.activating.lock();
        if Arc::strong_count(&gate) <= 2 {
            activating.remove(&slot);
        }
        result
    }

    /// Waits until this node's replica of the names lists `pid` under `dir`, at most the
    /// activation timeout. Stops waiting when another holder than `old` (the activation a
    /// move replaced) is listed (a conflict the registry resolves), or `pid` is gone.
    async fn await_named(&self, dir: &actor_registry::Key, pid: Pid, old: Option<Pid>) {
        let deadline = tokio::time::Instant::now() + self.inner.cfg.activation_timeout;
        let node = self.inner.dist.node();
        loop {
            let holder = self.inner.global.where_(dir);
            if holder == Some(pid) || holder.is_some_and(|h| Some(h) != old) {
                return;
            }
            let gone = if pid.node == node.pid().node {
                !node.is_alive(pid)
            } else {
                !self.inner.dist.is_up(pid.node)
            };
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if gone || left.is_zero() {
                return;
            }
            match holder {
                // Nothing listed yet: woken by the registration.
                None => {
                    let _ = self.inner.global.await_name(dir.clone(), left).await;
                }
                // The replaced activation is still listed: its removal comes soon.
                Some(_) => tokio::time::sleep(Duration::from_millis(1).min(left)).await,
            }
        }
    }

    async fn place_and_activate(
        &self,
        kind: &str,
        key: &str,
        origin: &str,
    ) -> Result<Pid, EntityError> {
        let mut refused: Vec<String> = Vec::new();
        let mut last_err = None;
        for _ in 0..4 {
            let cands = self.candidates(&refused, origin);
            let Some(node) = self.inner.cfg.placement.place(kind, key, &cands) else {
                break;
            };
            if !cands.iter().any(|c| c.node == node) {
                return Err(activation_err(
                    kind,
                    key,
                    format!("placement chose {node}, not a candidate"),
                ));
            }
            let now = self.inner.clock.now_ms();
            self.inner
                .placed
                .lock()
                .entry(node.clone())
                .or_default()
                .push_back(now);
            let res = self.activate_at(&node, kind, key, None).await;
            match res {
                Ok(pid) => return Ok(pid),
                Err(e) => {
                    tracing::debug!(%node, kind, key, error = %e, "activation refused; placing elsewhere");
                    refused.push(node);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| EntityError::NoNode {
            kind: kind.to_string(),
            key: key.to_string(),
        }))
    }

    async fn activate_on(
        &self,
        node: &str,
        kind: &str,
        key: &str,
        stale: Option<Pid>,
    ) -> Result<Pid, EntityError> {
        let args = (kind.to_string(), key.to_string(), stale);
        let res: Result<Result<Pid, Refusal>, RpcError> = self
            .inner
            .dist
            .call(node, ACTIVATE, &args, self.inner.cfg.activation_timeout)
            .await;
        match res {
            Ok(Ok(pid)) => Ok(pid),
            Ok(Err(why)) => Err(remote_refusal(node, why, kind, key)),
            Err(e) => Err(activation_err(kind, key, format!("{node}: {e}"))),
        }
    }

    /// Stops the activation of `kind`/`key` if it runs on this node, after the requests
    /// already in its mailbox (the next use activates it again, from the log). `false` if it
    /// does not run here.
    pub fn passivate(&self, kind: &str, key: &str) -> bool {
        let Some(pid) = self.inner.live.find(kind, key) else {
            return false;
        };
        let entries = self.inner.live.entries.lock();
        match entries.get(&pid) {
            Some(e) => {
                (e.stop)(ExitReason::Shutdown);
                true
            }
            None => false,
        }
    }

    /// Moves the activation of `E`/`key` to `node` (the seed's session migration): the
    /// current activation stops after the requests already queued; the new one on `node`
    /// takes a higher epoch and starts from the last durable state. Requests that arrive
    /// meanwhile are sent again to the new activation. Returns its pid.
    pub async fn migrate<E: Entity>(&self, key: &str, node: &str) -> Result<Pid, EntityError> {
        self.move_to(E::KIND, key, node).await
    }

    pub(crate) async fn move_to(
        &self,
        kind: &str,
        key: &str,
        node: &str,
    ) -> Result<Pid, EntityError> {
        self.via_coordinator(kind, key, Some(node)).await
    }

    async fn activate_at(
        &self,
        node: &str,
        kind: &str,
        key: &str,
        stale: Option<Pid>,
    ) -> Result<Pid, EntityError> {
        if node == self.inner.dist.name() {
            self.activate_here(kind, key, stale).await
        } else {
            self.activate_on(node, kind, key, stale).await
        }
    }

    /// Asks `pid` (an activation anywhere) to stop after its queued requests, and waits until
    /// it is gone.
    async fn stop_and_wait(&self, ops: &dyn crate::host::KindOps, pid: Pid) {
        let dist = &self.inner.dist;
        let Ok((_, exited)) = dist.node().spawn_monitor(Watcher(pid)).await else {
            return;
        };
        if ops.stop(dist, pid) {
            exited.await;
        }
    }

    /// Graceful leave: no new activations here, and every activation of this node stops after
    /// its queued requests; each is activated again on another node (chosen by placement,
    /// from its last durable state) before this returns. Requests in flight are sent again
    /// to the new activations, not failed.
    pub async fn leave(&self) {
        self.inner.leaving.store(true, Ordering::SeqCst);
        let running: Vec<(Pid, &'static str, String)> = self
            .inner
            .live
            .entries
            .lock()
            .iter()
            .map(|(p, e)| (*p, e.kind, e.key.clone()))
            .collect();
        for (pid, _, _) in &running {
            let exited = self.inner.dist.node().wait_exit(*pid);
            if let Some(e) = self.inner.live.entries.lock().get(pid) {
                (e.stop)(ExitReason::Shutdown);
            }
            exited.await;
        }
        for (_, kind, key) in running {
            if let Err(e) = self.locate(kind, &key).await {
                tracing::warn!(kind, key, error = %e, "hand-off: no other node took the entity");
            }
        }
    }
}

/// The error another node's host answered an activation request with.
fn remote_refusal(node: &str, why: Refusal, kind: &str, key: &str) -> EntityError {
    match why {
        Refusal::Other(why) => activation_err(kind, key, format!("{node}: {why}")),
        typed => typed.into_error(kind, key),
    }
}

/// Watches one process from outside any actor: exits (normally) when it does.
struct Watcher(Pid);

impl actor_core::Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut actor_core::Context<Self>) -> Result<(), ExitReason> {
        ctx.monitor(self.0);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut actor_core::Context<Self>) {}
    async fn handle_down(&mut self, _: actor_core::Down, ctx: &mut actor_core::Context<Self>) {
        ctx.stop(ExitReason::Normal);
    }
}
