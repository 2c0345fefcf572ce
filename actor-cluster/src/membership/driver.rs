//! The membership task of one node: heartbeats (report pulls) to every connected peer, node
//! events, pokes, leave announcements and lease answers in; recomputation; then the
//! actions (fences, lease requests, pokes, stopping) and the published events and state.

use super::config::Strategy;
use super::lease::LeaseError;
use super::state::{Action, Peer};
use super::view::{Health, MemberEvent, MemberInfo, MemberStatus};
use super::wire::{DownNotice, Leave, Pull, Report, DOWN_FN, POKE_FN, PULL_FN};
use super::Shared;
use actor_dist::{DownReason, NodeEvent, RpcError};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What the task is told.
pub(crate) enum Input {
    /// A peer's report changed: pull it now.
    Poke(String),
    /// A heartbeat's answer.
    Answer {
        peer: String,
        result: Result<Option<Report>, RpcError>,
    },
    /// A peer says it is leaving; answered once its own report confirms it.
    Leave(Leave, oneshot::Sender<bool>),
    /// A peer that left asks to be disconnected now.
    Bye(Leave),
    /// Who holds the lease, as the lease answered.
    Lease(Result<Option<String>, LeaseError>),
    /// This node is leaving: recompute with `leaving` set.
    Leaving,
    /// An operator downed a node (answered with whether it was applied).
    Down(DownNotice, Option<oneshot::Sender<bool>>),
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut inbox: mpsc::Receiver<Input>,
    mut events: mpsc::Receiver<NodeEvent>,
) {
    let mut beat = tokio::time::interval(shared.r.heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending_leaves: HashMap<String, Vec<(u32, oneshot::Sender<bool>)>> = HashMap::new();
    loop {
        tokio::select! {
            _ = beat.tick() => pull_all(&shared),
            i = inbox.recv() => match i {
                Some(i) => input(&shared, i, &mut pending_leaves),
                None => return,
            },
            ev = events.recv() => match ev {
                Some(ev) => node_event(&shared, ev, &mut pending_leaves),
                // The distribution is gone.
                None => return,
            },
        }
        step(&shared);
        if shared.st.lock().stopped {
            return;
        }
    }
}

/// Recomputes, publishes events and the quorum state, carries out the actions.
pub(crate) fn step(shared: &Arc<Shared>) {
    let now = Instant::now();
    let (actions, events, quorum) = {
        let mut st = shared.st.lock();
        let actions = st.recompute(&shared.cfg, &shared.r, now);
        for a in &actions {
            if let Action::Fence(n) = a {
                st.fenced.insert(n.clone(), now + shared.r.fence);
            }
        }
        (actions, std::mem::take(&mut st.events), st.quorum.clone())
    };
    shared.quorum_tx.send_if_modified(|q| {
        let changed = *q != quorum;
        *q = quorum;
        changed
    });
    shared.publish(events);
    for a in actions {
        match a {
            Action::Fence(n) => {
                shared.stats.fenced.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(node = %shared.dist.name(), peer = %n, "membership: disconnecting to end an overlapping partition");
                shared.dist.disconnect(&n);
            }
            Action::Acquire(owner) => lease_call(shared, Some(owner)),
            Action::Query => lease_call(shared, None),
            Action::Stop => {
                tracing::warn!(node = %shared.dist.name(), "membership: downed, leaving the cluster");
                shared.dist.shutdown();
            }
            Action::Poke => {
                let peers: Vec<String> = {
                    let st = shared.st.lock();
                    st.peers
                        .values()
                        .filter(|p| p.connected)
                        .map(|p| p.info.name.clone())
                        .collect()
                };
                let dist = shared.dist.clone();
                let me = shared.me.name.clone();
                tokio::spawn(async move {
                    for p in peers {
                        dist.cast(&p, POKE_FN, &me).await;
                    }
                });
            }
        }
    }
}

/// Asks the lease for `owner` (when given), then who holds it.
fn lease_call(shared: &Arc<Shared>, owner: Option<String>) {
    let Strategy::LeaseMajority { lease, .. } = &shared.cfg.strategy else {
        return;
    };
    let lease = lease.clone();
    let inbox = shared.inbox.clone();
    tokio::spawn(async move {
        let result = match owner {
            Some(o) => match lease.acquire(&o).await {
                Ok(true) => Ok(Some(o)),
                Ok(false) => lease.holder().await,
                Err(e) => Err(e),
            },
            None => lease.holder().await,
        };
        let _ = inbox.send(Input::Lease(result)).await;
    });
}

/// Sends a heartbeat (a report pull) to every connected peer without one in flight. First
/// reconciles who is connected with the distribution, so a node event missed (a full queue)
/// cannot leave a peer unheard.
fn pull_all(shared: &Arc<Shared>) {
    let connected = shared.dist.nodes();
    let now = Instant::now();
    let names: Vec<String> = {
        let mut st = shared.st.lock();
        for (name, p) in st.peers.iter_mut() {
            p.connected = connected.binary_search(name).is_ok();
        }
        for name in connected {
            let fenced = st.fenced.get(&name).is_some_and(|t| *t > now);
            if !fenced && !st.peers.contains_key(&name) && st.peers.len() < shared.cfg.max_members {
                st.peers.insert(name.clone(), Peer::unknown(name, true));
            }
        }
        st.peers
            .values()
            .filter(|p| p.connected && !p.in_flight)
            .map(|p| p.info.name.clone())
            .collect()
    };
    for n in names {
        pull(shared, &n);
    }
}

/// Sends a heartbeat to `peer` unless one is in flight.
fn pull(shared: &Arc<Shared>, peer: &str) {
    let have = {
        let mut st = shared.st.lock();
        let Some(p) = st.peers.get_mut(peer) else {
            return;
        };
        if p.in_flight || !p.connected {
            return;
        }
        p.in_flight = true;
        p.report.as_ref().map(|r| r.seq)
    };
    let dist = shared.dist.clone();
    let inbox = shared.inbox.clone();
    let peer = peer.to_string();
    let req = Pull {
        from: shared.me.name.clone(),
        have,
    };
    let timeout = shared.r.call_timeout;
    tokio::spawn(async move {
        let result = dist.call(&peer, PULL_FN, &req, timeout).await;
        let _ = inbox.send(Input::Answer { peer, result }).await;
    });
}

fn node_event(
    shared: &Arc<Shared>,
    ev: NodeEvent,
    pending: &mut HashMap<String, Vec<(u32, oneshot::Sender<bool>)>>,
) {
    match ev {
        NodeEvent::Up(info) if !info.hidden => {
            let now = Instant::now();
            {
                let mut st = shared.st.lock();
                if st.fenced.get(&info.name).is_some_and(|t| *t > now) {
                    drop(st);
                    shared.dist.disconnect(&info.name);
                    return;
                }
                if info.name == shared.me.name {
                    return;
                }
                if st.is_tombstoned(&info.name, info.creation) {
                    // Left, removed or downed: a node that comes back as the same incarnation
                    // was downed while away (a left node does not come back); tell it so.
                    drop(st);
                    let dist = shared.dist.clone();
                    let notice = DownNotice {
                        name: info.name.clone(),
                        creation: info.creation,
                        by: shared.me.name.clone(),
                    };
                    tokio::spawn(async move {
                        let timeout = dist.tick_time();
                        let _: Result<bool, _> =
                            dist.call(&notice.name, DOWN_FN, &notice, timeout).await;
                    });
                    return;
                }
                let mut joined = None;
                let p = st.peers.entry(info.name.clone()).or_insert_with(|| {
                    let mi = MemberInfo {
                        name: info.name.clone(),
                        creation: info.creation,
                        started: u64::MAX,
                        app_version: info.app_version.clone(),
                        roles: Vec::new(),
                    };
                    joined = Some(mi.clone());
                    Peer {
                        info: mi,
                        status: MemberStatus::Joining,
                        connected: true,
                        last_answer: None,
                        report: None,
                        in_flight: false,
                        health: Health::Unhealthy,
                    }
                });
                p.connected = true;
                if p.info.creation != info.creation {
                    // A new incarnation: what the old one said no longer holds.
                    p.info.creation = info.creation;
                    p.info.app_version = info.app_version.clone();
                    p.report = None;
                }
                if let Some(mi) = joined {
                    st.events.push(MemberEvent::Joining(mi));
                }
            }
            pull(shared, &info.name);
        }
        NodeEvent::Down { node, reason } => {
            let mut st = shared.st.lock();
            let left = st.tombstones.iter().any(|(n, _)| *n == node);
            if let Some(p) = st.peers.get_mut(&node) {
                p.connected = false;
            }
            let reason = if left { DownReason::Shutdown } else { reason };
            if left || st.peers.contains_key(&node) {
                st.events.push(MemberEvent::Down {
                    node: node.clone(),
                    reason,
                });
            }
            pending.remove(&node);
        }
        _ => {}
    }
}

fn input(
    shared: &Arc<Shared>,
    i: Input,
    pending: &mut HashMap<String, Vec<(u32, oneshot::Sender<bool>)>>,
) {
    match i {
        Input::Poke(from) => pull(shared, &from),
        Input::Answer { peer, result } => answer(shared, peer, result, pending),
        Input::Leave(l, ack) => {
            let known = shared.st.lock().peers.contains_key(&l.name);
            if !known {
                let _ = ack.send(false);
                return;
            }
            pending
                .entry(l.name.clone())
                .or_default()
                .push((l.creation, ack));
            let max_tomb = shared.cfg.max_tombstones;
            confirm_leave(&mut shared.st.lock(), &l.name, pending, max_tomb);
            pull(shared, &l.name);
        }
        Input::Bye(l) => {
            let left = shared.st.lock().is_tombstoned(&l.name, l.creation);
            if left {
                shared.dist.disconnect_with(&l.name, DownReason::Shutdown);
            }
        }
        Input::Lease(result) => {
            let mut st = shared.st.lock();
            st.lease.asking = false;
            match result {
                Ok(holder) => st.lease.holder = Some((holder, Instant::now())),
                Err(e) => {
                    shared.stats.lease_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(node = %shared.dist.name(), error = %e, "membership: lease request failed");
                }
            }
        }
        Input::Leaving => shared.st.lock().leaving = true,
        Input::Down(d, ack) => {
            let ok = super::downing::apply(shared, &d);
            if let Some(ack) = ack {
                let _ = ack.send(ok);
            }
        }
    }
}

fn answer(
    shared: &Arc<Shared>,
    peer: String,
    result: Result<Option<Report>, RpcError>,
    pending: &mut HashMap<String, Vec<(u32, oneshot::Sender<bool>)>>,
) {
    let now = Instant::now();
    let mut st = shared.st.lock();
    let max_tomb = shared.cfg.max_tombstones;
    let Some(p) = st.peers.get_mut(&peer) else {
        return;
    };
    p.in_flight = false;
    let rep = match result {
        Ok(r) => r,
        Err(e) => {
            shared
                .stats
                .heartbeats_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(peer = %peer, error = %e, "membership: heartbeat failed");
            if matches!(e, RpcError::Decode(_)) {
                shared.stats.reports_refused.fetch_add(1, Ordering::Relaxed);
                shared.warn(&peer, &e.to_string());
            }
            return;
        }
    };
    p.last_answer = Some(now);
    let Some(rep) = rep else {
        confirm_leave(&mut st, &peer, pending, max_tomb);
        return;
    };
    if let Err(e) = rep.validate(&peer, shared.cfg.max_members, max_tomb) {
        shared.stats.reports_refused.fetch_add(1, Ordering::Relaxed);
        p.report = None;
        drop(st);
        shared.warn(&peer, &e.to_string());
        return;
    }
    shared.stats.reports.fetch_add(1, Ordering::Relaxed);
    if st.is_tombstoned(&peer, rep.from.creation) {
        // A removed or downed incarnation reconnected: not a member.
        st.peers.remove(&peer);
        return;
    }
    let Some(p) = st.peers.get_mut(&peer) else {
        return;
    };
    if rep.from.creation != p.info.creation && p.info.creation != 0 {
        // Answered by an incarnation other than the one connected: ignore.
        return;
    }
    p.info = rep.from.clone();
    p.report = Some(rep);
    confirm_leave(&mut st, &peer, pending, max_tomb);
}

/// Answers the leave announcements of `peer` once its own report says it is leaving: it is
/// counted out (tombstoned) and told so.
fn confirm_leave(
    st: &mut super::state::State,
    peer: &str,
    pending: &mut HashMap<String, Vec<(u32, oneshot::Sender<bool>)>>,
    max_tomb: usize,
) {
    let Some(p) = st.peers.get(peer) else { return };
    let Some(rep) = p.report.as_ref().filter(|r| r.leaving) else {
        return;
    };
    let Some(waiting) = pending.remove(peer) else {
        return;
    };
    let info = rep.from.clone();
    st.peers.remove(peer);
    st.tombstone(peer, info.creation, max_tomb);
    for (c, ack) in waiting {
        let _ = ack.send(c == info.creation);
    }
    st.events.push(MemberEvent::Left(info));
}
