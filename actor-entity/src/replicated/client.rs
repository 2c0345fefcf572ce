//! The client side: replica sets, quorum rounds, recovery, appends with catch-up, and reads.

use super::protocol::{Promise, Refusal, ReplicaMsg};
use super::recovery;
use super::{bounded_insert, ReplicatedLog, SERVER_NAME};
use crate::log::{LogError, Recovered};
use actor_core::{ActorRef, CallError};
use actor_journal::{EntityKey, JournalError, LogPosition, Receipt};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// FNV-1a, then a SplitMix64 finaliser: a hash that every node and every build computes alike.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x1000_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The `r` members with the highest score of (member, key), highest first.
pub(crate) fn rendezvous(members: &[String], key: &EntityKey, r: usize) -> Vec<String> {
    let mut scored: Vec<(u64, &String)> = members
        .iter()
        .map(|m| {
            let mut bytes = Vec::with_capacity(m.len() + key.kind.len() + key.key.len() + 2);
            bytes.extend_from_slice(m.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(key.kind.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(&key.key);
            (hash_bytes(&bytes), m)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(r).map(|(_, m)| m.clone()).collect()
}

pub(super) fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// One replica's answer in a round.
pub(super) enum Answer<T> {
    Ok(T),
    Fenced(u64),
    Diverged(LogPosition),
    Failed,
}

impl<T> From<Result<Result<T, Refusal>, CallError>> for Answer<T> {
    fn from(r: Result<Result<T, Refusal>, CallError>) -> Self {
        match r {
            Ok(Ok(v)) => Answer::Ok(v),
            Ok(Err(Refusal::Fenced { promised })) => Answer::Fenced(promised),
            Ok(Err(Refusal::Diverged { last })) => Answer::Diverged(last),
            Ok(Err(Refusal::Invalid(why))) | Ok(Err(Refusal::Failed(why))) => {
                tracing::debug!(%why, "replica refused");
                Answer::Failed
            }
            Err(e) => {
                tracing::debug!(error = %e, "replica call failed");
                Answer::Failed
            }
        }
    }
}

/// What a new epoch re-proposes: see [`ReplicatedLog::adopt`].
pub(super) struct Adopted {
    pub(super) plan: recovery::Plan,
    /// The position the tail follows.
    pub(super) prev: LogPosition,
    /// The adopted receipts after `prev`, with the new epoch.
    pub(super) tail: Vec<Receipt>,
}

impl ReplicatedLog {
    /// The replica server of `node` (cached).
    async fn server_of(&self, node: &str) -> Option<ActorRef<ReplicaMsg>> {
        if let Some(r) = self.inner.servers.lock().get(node) {
            return Some(r.clone());
        }
        let pid = self.inner.dist.whereis_on(node, SERVER_NAME).await.ok()??;
        let r = self.inner.dist.system_ref::<ReplicaMsg>(pid).ok()?;
        self.inner
            .servers
            .lock()
            .insert(node.to_string(), r.clone());
        Some(r)
    }

    /// Forgets `node`'s server after a failed call (it may have restarted elsewhere).
    fn forget(&self, node: &str) {
        if node != self.inner.dist.name() {
            self.inner.servers.lock().remove(node);
        }
    }

    /// Calls `node`'s replica server, before `deadline`.
    pub(super) async fn ask<T: Send + 'static>(
        &self,
        node: &str,
        deadline: Instant,
        make: impl FnOnce(actor_core::ReplyTo<Result<T, Refusal>>) -> ReplicaMsg,
    ) -> Answer<T> {
        let Some(server) = self.server_of(node).await else {
            return Answer::Failed;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let res = server.call(make, left).await;
        if matches!(
            res,
            Err(CallError::NodeDown(_) | CallError::Exit(_) | CallError::UnknownType(_))
        ) {
            self.forget(node);
        }
        res.into()
    }

    pub(super) fn replica_set(&self, key: &EntityKey) -> Result<Vec<String>, LogError> {
        let set = self.replicas_of(key);
        if set.is_empty() {
            return Err(LogError::NoQuorum { needed: 1, got: 0 });
        }
        Ok(set)
    }

    pub(super) fn no_quorum(&self, needed: usize, got: usize) -> LogError {
        self.inner.stats.no_quorum.fetch_add(1, Ordering::Relaxed);
        LogError::NoQuorum { needed, got }
    }

    fn fenced(&self, key: &EntityKey, epoch: u64, promised: u64) -> LogError {
        self.inner.stats.fenced.fetch_add(1, Ordering::Relaxed);
        let cap = self.inner.config.max_tracked_keys;
        bounded_insert(&mut self.inner.fenced.lock(), cap, key, epoch);
        bounded_insert(&mut self.inner.hints.lock(), cap, key, promised);
        LogError::Fenced { promised }
    }

    /// A back-off before the next prepare round: growing with the attempt, jittered.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let mut x = self.inner.jitter.lock();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let base = 1u64 << attempt.min(6);
        Duration::from_micros(base * 500 + *x % (base * 1000))
    }

    pub(super) async fn activate_key(&self, key: &EntityKey) -> Result<Recovered, LogError> {
        let replicas = self.replica_set(key)?;
        let need = majority(replicas.len());
        let deadline = Instant::now() + self.inner.config.timeout;
        let mut epoch = self.inner.hints.lock().get(key).copied().unwrap_or(0) + 1;
        let mut attempt = 0u32;
        loop {
            let mut round: FuturesUnordered<_> = replicas
                .iter()
                .map(|node| {
                    let key = key.clone();
                    async move {
                        self.ask(node, deadline, |reply| ReplicaMsg::Prepare {
                            key,
                            epoch,
                            reply,
                        })
                        .await
                    }
                })
                .collect();
            let mut promises: Vec<Promise> = Vec::new();
            let mut higher = 0u64;
            let mut refused = 0usize;
            while let Some(answer) = round.next().await {
                match answer {
                    Answer::Ok(p) => promises.push(p),
                    Answer::Fenced(p) => {
                        higher = higher.max(p);
                        refused += 1;
                    }
                    Answer::Diverged(_) | Answer::Failed => refused += 1,
                }
                if promises.len() >= need || refused > replicas.len() - need {
                    break;
                }
            }
            if promises.len() >= need {
                bounded_insert(
                    &mut self.inner.hints.lock(),
                    self.inner.config.max_tracked_keys,
                    key,
                    epoch,
                );
                return self
                    .recover(key, &replicas, epoch, promises, deadline)
                    .await;
            }
            if higher == 0 || Instant::now() >= deadline {
                return Err(self.no_quorum(need, promises.len()));
            }
            // A higher promise: go above it, after a jittered pause.
            self.inner
                .stats
                .prepare_retries
                .fetch_add(1, Ordering::Relaxed);
            epoch = epoch.max(higher) + 1;
            attempt += 1;
            let pause = self.backoff(attempt);
            if Instant::now() + pause >= deadline {
                return Err(self.no_quorum(need, promises.len()));
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Re-proposes the adopted log's tail under `epoch`, then returns what it holds.
    async fn recover(
        &self,
        key: &EntityKey,
        replicas: &[String],
        epoch: u64,
        answers: Vec<Promise>,
        deadline: Instant,
    ) -> Result<Recovered, LogError> {
        let adopted = self.adopt(key, replicas, epoch, &answers, deadline).await?;
        let last = adopted.tail.last().cloned();
        let last_epoch = if last.is_some() {
            epoch
        } else {
            adopted.plan.last.epoch
        };
        let last = last.or_else(|| answers[adopted.plan.source].tail.last().cloned());
        if !adopted.tail.is_empty() {
            self.replicate(key, replicas, epoch, adopted.prev, adopted.tail, deadline)
                .await?;
        }
        self.inner.stats.activations.fetch_add(1, Ordering::Relaxed);
        Ok(Recovered {
            epoch,
            last_seq: adopted.plan.last.seq,
            last_epoch,
            last,
            snapshot: answers[adopted.plan.source].snapshot.clone(),
        })
    }

    /// Phase 1's outcome from a majority's `answers`: the adopted log's tail to re-propose
    /// under `epoch` (receipts re-tagged with it) after `prev` (see [`recovery::plan`]).
    pub(super) async fn adopt(
        &self,
        key: &EntityKey,
        replicas: &[String],
        epoch: u64,
        answers: &[Promise],
        deadline: Instant,
    ) -> Result<Adopted, LogError> {
        let plan = recovery::plan(answers);
        let source = &answers[plan.source];
        let Some(from) = plan.from else {
            return Ok(Adopted {
                plan,
                prev: LogPosition::default(),
                tail: Vec::new(),
            });
        };
        // The adopted receipts from `from.seq` (its own receipt gives the position's epoch)
        // to the end: from the promise's tail, or read from replicas that hold the adopted log.
        let first = from.seq.max(1);
        let mut log: Vec<Receipt> = source
            .tail
            .iter()
            .filter(|r| r.seq >= first)
            .cloned()
            .collect();
        if log.first().map(|r| r.seq) != Some(first) {
            log = self
                .fetch_adopted(key, replicas, source.last, first, deadline)
                .await?;
        }
        let prev = if from.seq == 0 {
            LogPosition { seq: 0, epoch: 0 }
        } else {
            match log.first() {
                Some(r) if r.seq == from.seq => LogPosition {
                    seq: r.seq,
                    epoch: r.epoch,
                },
                _ => from,
            }
        };
        let mut tail: Vec<Receipt> = log.into_iter().filter(|r| r.seq > prev.seq).collect();
        for r in &mut tail {
            r.epoch = epoch;
        }
        self.inner
            .stats
            .reproposed
            .fetch_add(tail.len() as u64, Ordering::Relaxed);
        Ok(Adopted { plan, prev, tail })
    }

    /// Reads the adopted log (ending at `last`) from `first` on, from a replica whose log ends
    /// at the same position (and so holds the same log).
    async fn fetch_adopted(
        &self,
        key: &EntityKey,
        replicas: &[String],
        last: LogPosition,
        first: u64,
        deadline: Instant,
    ) -> Result<Vec<Receipt>, LogError> {
        let want = (last.seq - first + 1) as usize;
        if want > self.inner.config.bounds.max_read {
            return Err(LogError::Journal(JournalError::Invalid(format!(
                "{key}: recovery needs {want} receipts, above the read bound"
            ))));
        }
        for node in replicas {
            let k = key.clone();
            let answer = self
                .ask(node, deadline, |reply| ReplicaMsg::Entries {
                    key: k,
                    after: first - 1,
                    limit: want as u32,
                    reply,
                })
                .await;
            if let Answer::Ok((pos, entries)) = answer {
                if pos == last
                    && entries.len() == want
                    && entries.first().map(|r| r.seq) == Some(first)
                {
                    return Ok(entries);
                }
            }
        }
        Err(self.no_quorum(1, 0))
    }

    pub(super) async fn append_receipt(&self, receipt: Receipt) -> Result<(), LogError> {
        let key = receipt.entity();
        if let Some(&f) = self.inner.fenced.lock().get(&key) {
            if receipt.epoch <= f {
                self.inner.stats.fenced.fetch_add(1, Ordering::Relaxed);
                let promised = self.inner.hints.lock().get(&key).copied().unwrap_or(f + 1);
                return Err(LogError::Fenced { promised });
            }
        }
        let replicas = self.replica_set(&key)?;
        let _permit = self
            .inner
            .appends
            .acquire()
            .await
            .map_err(|_| self.no_quorum(1, 0))?;
        let deadline = Instant::now() + self.inner.config.timeout;
        let prev = LogPosition {
            seq: receipt.seq.saturating_sub(1),
            epoch: if receipt.seq > 1 { receipt.epoch } else { 0 },
        };
        let epoch = receipt.epoch;
        self.replicate(&key, &replicas, epoch, prev, vec![receipt], deadline)
            .await?;
        self.inner.stats.appends.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Phase 2: has `batch` (after `prev`) accepted by a majority of `replicas` under `epoch`,
    /// in chunks of the batch bound. Replicas behind are caught up from one that accepted.
    pub(super) async fn replicate(
        &self,
        key: &EntityKey,
        replicas: &[String],
        epoch: u64,
        mut prev: LogPosition,
        batch: Vec<Receipt>,
        deadline: Instant,
    ) -> Result<(), LogError> {
        let max = self.inner.config.bounds.max_batch.max(1);
        let mut rest = batch;
        loop {
            let chunk: Vec<Receipt> = if rest.len() > max {
                let tail = rest.split_off(max);
                std::mem::replace(&mut rest, tail)
            } else {
                std::mem::take(&mut rest)
            };
            let end = chunk.last().map(|r| LogPosition {
                seq: r.seq,
                epoch: r.epoch,
            });
            self.replicate_chunk(key, replicas, epoch, prev, chunk, deadline)
                .await?;
            match end {
                Some(end) if !rest.is_empty() => prev = end,
                _ => return Ok(()),
            }
        }
    }

    async fn replicate_chunk(
        &self,
        key: &EntityKey,
        replicas: &[String],
        epoch: u64,
        prev: LogPosition,
        chunk: Vec<Receipt>,
        deadline: Instant,
    ) -> Result<(), LogError> {
        let need = majority(replicas.len());
        let (acker_tx, acker_rx) = watch::channel::<Option<String>>(None);
        let end = chunk.last().map_or(prev, |r| LogPosition {
            seq: r.seq,
            epoch: r.epoch,
        });
        let mut round: FuturesUnordered<_> = replicas
            .iter()
            .map(|node| {
                let this = self.clone();
                let (key, node, chunk) = (key.clone(), node.clone(), chunk.clone());
                let (acker_tx, acker_rx) = (acker_tx.clone(), acker_rx.clone());
                async move {
                    this.accept_on(
                        &key, &node, epoch, prev, chunk, end, deadline, acker_tx, acker_rx,
                    )
                    .await
                }
            })
            .collect();
        drop(acker_tx);
        let (mut ok, mut failed) = (0usize, 0usize);
        let outcome = loop {
            let next = tokio::time::timeout_at(deadline, round.next()).await;
            match next {
                Ok(Some(Answer::Ok(()))) => {
                    ok += 1;
                    if ok >= need {
                        break Ok(());
                    }
                }
                Ok(Some(Answer::Fenced(p))) => break Err(self.fenced(key, epoch, p)),
                Ok(Some(_)) => {
                    failed += 1;
                    if failed > replicas.len() - need {
                        break Err(self.no_quorum(need, ok));
                    }
                }
                Ok(None) | Err(_) => break Err(self.no_quorum(need, ok)),
            }
        };
        // The replicas still catching up finish in the background (bounded by the deadline),
        // so that a replica behind gets the log even when the others made the majority.
        if !round.is_empty() && outcome.is_ok() {
            tokio::spawn(async move {
                let _ = tokio::time::timeout_at(deadline, async {
                    while round.next().await.is_some() {}
                })
                .await;
            });
        }
        outcome
    }

    /// Has `node` accept `chunk` after `prev`; on `Diverged`, reads the log up to `end` from a
    /// replica that accepted it and sends it from earlier positions until the logs match.
    #[allow(clippy::too_many_arguments)]
    async fn accept_on(
        &self,
        key: &EntityKey,
        node: &str,
        epoch: u64,
        prev: LogPosition,
        chunk: Vec<Receipt>,
        end: LogPosition,
        deadline: Instant,
        acker_tx: watch::Sender<Option<String>>,
        mut acker_rx: watch::Receiver<Option<String>>,
    ) -> Answer<()> {
        let k = key.clone();
        let first = self
            .ask(node, deadline, |reply| ReplicaMsg::Accept {
                key: k,
                epoch,
                prev,
                receipts: chunk,
                reply,
            })
            .await;
        let behind = match first {
            Answer::Ok(_) => {
                let _ = acker_tx.send(Some(node.to_string()));
                return Answer::Ok(());
            }
            Answer::Diverged(last) => last,
            Answer::Fenced(p) => return Answer::Fenced(p),
            Answer::Failed => return Answer::Failed,
        };
        // Catch-up: wait for a replica that accepted (it holds this epoch's log up to `end`).
        let source = loop {
            if let Some(s) = acker_rx.borrow_and_update().clone() {
                break s;
            }
            match tokio::time::timeout_at(deadline, acker_rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Answer::Failed,
            }
        };
        self.inner.stats.catch_ups.fetch_add(1, Ordering::Relaxed);
        let mut p = behind.seq.min(prev.seq);
        let mut step = 1u64;
        loop {
            let want = (end.seq - p + 1) as usize;
            if want > self.inner.config.bounds.max_read {
                tracing::warn!(%key, node, "replica too far behind to catch up by receipts");
                return Answer::Failed;
            }
            let k = key.clone();
            let read = self
                .ask(&source, deadline, |reply| ReplicaMsg::Entries {
                    key: k,
                    after: p.saturating_sub(1),
                    limit: want as u32,
                    reply,
                })
                .await;
            let Answer::Ok((_, mut log)) = read else {
                return Answer::Failed;
            };
            log.retain(|r| r.seq <= end.seq);
            let at = if p == 0 {
                Some(LogPosition { seq: 0, epoch: 0 })
            } else {
                log.first().filter(|r| r.seq == p).map(|r| LogPosition {
                    seq: r.seq,
                    epoch: r.epoch,
                })
            };
            let Some(at) = at else {
                return Answer::Failed; // the source compacted below `p`: not by receipts
            };
            log.retain(|r| r.seq > p);
            let mut cursor = at;
            let mut diverged = false;
            for piece in log.chunks(self.inner.config.bounds.max_batch.max(1)) {
                let k = key.clone();
                let piece = piece.to_vec();
                let next = piece.last().map_or(cursor, |r| LogPosition {
                    seq: r.seq,
                    epoch: r.epoch,
                });
                match self
                    .ask(node, deadline, |reply| ReplicaMsg::Accept {
                        key: k,
                        epoch,
                        prev: cursor,
                        receipts: piece,
                        reply,
                    })
                    .await
                {
                    Answer::Ok(_) => cursor = next,
                    Answer::Diverged(_) if cursor == at => {
                        diverged = true;
                        break;
                    }
                    Answer::Fenced(e) => return Answer::Fenced(e),
                    _ => return Answer::Failed,
                }
            }
            if !diverged {
                return if cursor == end {
                    Answer::Ok(())
                } else {
                    Answer::Failed
                };
            }
            if p == 0 {
                return Answer::Failed;
            }
            p = p.saturating_sub(step);
            step = step.saturating_mul(2);
        }
    }

    pub(super) async fn read_entries(
        &self,
        key: &EntityKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Receipt>, LogError> {
        let replicas = self.replica_set(key)?;
        let need = majority(replicas.len());
        let deadline = Instant::now() + self.inner.config.timeout;
        let limit = limit.min(self.inner.config.bounds.max_read);
        let mut round: FuturesUnordered<_> = replicas
            .iter()
            .map(|node| {
                let key = key.clone();
                async move {
                    self.ask(node, deadline, |reply| ReplicaMsg::Entries {
                        key,
                        after,
                        limit: limit as u32,
                        reply,
                    })
                    .await
                }
            })
            .collect();
        let mut best: Option<(LogPosition, Vec<Receipt>)> = None;
        let mut got = 0;
        while let Some(answer) = round.next().await {
            if let Answer::Ok((pos, entries)) = answer {
                got += 1;
                let better = best
                    .as_ref()
                    .is_none_or(|(b, _)| (pos.epoch, pos.seq) > (b.epoch, b.seq));
                if better {
                    best = Some((pos, entries));
                }
                if got >= need {
                    break;
                }
            }
        }
        match best {
            Some((_, entries)) if got >= need => Ok(entries),
            _ => Err(self.no_quorum(need, got)),
        }
    }

    pub(super) async fn read_by_tenant(
        &self,
        tenant: &str,
        time: Range<u64>,
        limit: usize,
    ) -> Result<Vec<Receipt>, LogError> {
        let members = self.members();
        let r = self.inner.config.replicas.max(1).min(members.len().max(1));
        // Every receipt a majority accepted is on at least `majority(r)` members: with fewer
        // than that missing, every one is in some answer.
        let may_miss = majority(r) - 1;
        let deadline = Instant::now() + self.inner.config.timeout;
        let limit = limit.min(self.inner.config.bounds.max_read);
        let mut round: FuturesUnordered<_> = members
            .iter()
            .map(|node| {
                let tenant = tenant.to_string();
                let time = time.clone();
                async move {
                    self.ask(node, deadline, |reply| ReplicaMsg::ByTenant {
                        tenant,
                        start: time.start,
                        end: time.end,
                        limit: limit as u32,
                        reply,
                    })
                    .await
                }
            })
            .collect();
        let mut answers = Vec::new();
        let mut missing = 0;
        while let Some(answer) = round.next().await {
            match answer {
                Answer::Ok(list) => answers.push(list),
                _ => missing += 1,
            }
        }
        if missing > may_miss {
            return Err(self.no_quorum(members.len() - may_miss, answers.len()));
        }
        Ok(merge(answers, limit))
    }
}

/// Merges tenant query answers of several nodes: one receipt per id (the highest epoch's
/// copy), a receipt superseded at its position by a higher epoch's dropped, ordered by time
/// then id, at most `limit`.
pub(crate) fn merge(answers: Vec<Vec<Receipt>>, limit: usize) -> Vec<Receipt> {
    let mut by_id: HashMap<u128, Receipt> = HashMap::new();
    for r in answers.into_iter().flatten() {
        match by_id.get(&r.id) {
            Some(held) if held.epoch >= r.epoch => {}
            _ => {
                by_id.insert(r.id, r);
            }
        }
    }
    let mut at: HashMap<(String, Vec<u8>, u64), u64> = HashMap::new();
    for r in by_id.values() {
        let e = at
            .entry((r.kind.clone(), r.key.clone(), r.seq))
            .or_insert(0);
        *e = (*e).max(r.epoch);
    }
    let mut out: Vec<Receipt> = by_id
        .into_values()
        .filter(|r| at.get(&(r.kind.clone(), r.key.clone(), r.seq)) == Some(&r.epoch))
        .collect();
    out.sort_by_key(|r| (r.time, r.id));
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u128, key: &str, seq: u64, epoch: u64, time: u64) -> Receipt {
        Receipt {
            id,
            time,
            tenant: "t".into(),
            kind: "k".into(),
            key: key.as_bytes().to_vec(),
            epoch,
            seq,
            from: String::new(),
            to: String::new(),
            event: vec![],
            metadata: vec![],
            state: vec![],
        }
    }

    #[test]
    fn merge_dedupes_by_id_drops_superseded_and_orders_by_time_then_id() {
        let a = vec![
            r(1, "a", 1, 1, 10),
            r(2, "a", 2, 1, 20),
            r(9, "b", 1, 1, 20),
        ];
        // Node 2: receipt 1 re-proposed under epoch 2, and epoch 2's own receipt at a/2.
        let b = vec![r(1, "a", 1, 2, 10), r(3, "a", 2, 2, 15)];
        let merged = merge(vec![a, b], 10);
        let got: Vec<_> = merged.iter().map(|x| (x.id, x.epoch)).collect();
        assert_eq!(got, vec![(1, 2), (3, 2), (9, 1)]);
        assert_eq!(merge(vec![merged], 2).len(), 2);
    }

    #[test]
    fn rendezvous_is_stable_and_spreads() {
        let members: Vec<String> = (0..5).map(|i| format!("n{i}@h")).collect();
        let k = EntityKey::new("k", "x");
        let set = rendezvous(&members, &k, 3);
        assert_eq!(set.len(), 3);
        let mut reversed = members.clone();
        reversed.reverse();
        assert_eq!(rendezvous(&reversed, &k, 3), set);
        // Every member leads some keys.
        let mut leads = std::collections::HashSet::new();
        for i in 0..200 {
            leads.insert(rendezvous(&members, &EntityKey::new("k", format!("{i}")), 1)[0].clone());
        }
        assert_eq!(leads.len(), 5);
    }

    #[test]
    fn tracked_keys_stay_bounded() {
        let mut map = HashMap::new();
        for i in 0..100 {
            super::super::bounded_insert(&mut map, 10, &EntityKey::new("k", format!("{i}")), i);
        }
        assert_eq!(map.len(), 10);
    }
}
