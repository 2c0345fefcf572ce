//! The lock server of one node: applies requests to the node's [`Table`], monitors every
//! process in it, and merges tables with a peer after a reconnect.

use super::protocol::{Grant, LockMsg};
use super::table::{Grants, Table};
use super::LockStats;
use actor_core::{Actor, Context, Down, ExitReason, MonitorRef, Pid};
use actor_dist::Dist;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The lock server actor.
pub(crate) struct Server {
    pub(crate) table: Table,
    pub(crate) monitors: HashMap<Pid, MonitorRef>,
    pub(crate) dist: Dist,
    pub(crate) stats: Arc<LockStats>,
}

impl Server {
    /// Monitors `pid` if the table now tracks it, demonitors it if not.
    fn watch(&mut self, pid: Pid, ctx: &mut Context<Self>) {
        let tracked = self.table.tracks(pid);
        match (tracked, self.monitors.contains_key(&pid)) {
            (true, false) => {
                let m = ctx.monitor(pid);
                self.monitors.insert(pid, m);
            }
            (false, true) => {
                if let Some(m) = self.monitors.remove(&pid) {
                    ctx.demonitor(m);
                }
            }
            _ => {}
        }
        self.publish();
    }

    fn publish(&self) {
        self.stats
            .resources
            .store(self.table.len() as u64, Ordering::Relaxed);
        self.stats
            .monitors
            .store(self.monitors.len() as u64, Ordering::Relaxed);
    }

    fn grant(&self, grants: Grants) {
        for g in grants {
            self.stats.granted.fetch_add(1, Ordering::Relaxed);
            g.send(Grant::Granted);
        }
    }
}

impl Actor for Server {
    type Msg = LockMsg;

    async fn handle(&mut self, msg: LockMsg, ctx: &mut Context<Self>) {
        match msg {
            LockMsg::Acquire {
                resource,
                requester,
                holder,
                tag,
                wait,
                reply,
            } => {
                if let Some((reply, g)) = self
                    .table
                    .acquire(resource, requester, holder, tag, wait, reply)
                {
                    match g {
                        Grant::Granted => self.stats.granted.fetch_add(1, Ordering::Relaxed),
                        Grant::Busy => self.stats.busy.fetch_add(1, Ordering::Relaxed),
                        Grant::Refused => self.stats.refused.fetch_add(1, Ordering::Relaxed),
                    };
                    reply.send(g);
                }
                self.watch(holder, ctx);
            }
            LockMsg::Release {
                resource,
                holder,
                tag,
            } => {
                let grants = self.table.release(&resource, holder, tag);
                self.grant(grants);
                self.watch(holder, ctx);
            }
            LockMsg::ReleaseAll {
                resource,
                holder,
                tag,
                peers,
            } => {
                for p in peers {
                    // A node that is not up is not dialled: its server frees the holder's
                    // locks when it loses the holder's node.
                    if p.node == ctx.pid().node || !self.dist.is_up(p.node) {
                        continue;
                    }
                    if let Ok(r) = self.dist.system_ref::<LockMsg>(p) {
                        let _ = r.tell(LockMsg::Release {
                            resource: resource.clone(),
                            holder,
                            tag,
                        });
                    }
                }
                let grants = self.table.release(&resource, holder, tag);
                self.grant(grants);
                self.watch(holder, ctx);
            }
            LockMsg::Holders { resource, reply } => {
                reply.send(self.table.holders(&resource));
            }
            LockMsg::SyncWith { peer } => {
                let entries = self.table.held_by(ctx.pid().node);
                if let Ok(r) = self.dist.system_ref::<LockMsg>(peer) {
                    let _ = r.tell(LockMsg::Held {
                        from: ctx.pid(),
                        entries,
                    });
                }
            }
            LockMsg::Held { from, entries } => {
                if from.node == ctx.pid().node {
                    return;
                }
                let touched: Vec<Pid> = entries.iter().flat_map(|e| e.2.clone()).collect();
                let before: Vec<Pid> = self.monitors.keys().copied().collect();
                let (grants, losers) = self.table.merge(from.node, entries);
                self.grant(grants);
                for l in losers {
                    self.stats.lost.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(holder = ?l, "a lock held on both sides of a partition: the holder loses it");
                    ctx.exit(l, ExitReason::error("lock_lost"));
                }
                for p in touched.into_iter().chain(before) {
                    self.watch(p, ctx);
                }
            }
        }
    }

    async fn handle_down(&mut self, d: Down, _ctx: &mut Context<Self>) {
        self.monitors.remove(&d.pid);
        let grants = self.table.down(d.pid);
        self.grant(grants);
        self.publish();
    }
}
