//! One node's lock table: who holds each resource, who waits for it, in order. Pure state;
//! the server actor applies it and sends what it returns.

use super::protocol::{Grant, HeldEntry};
use actor_core::{NodeId, Pid, ReplyTo};
use std::collections::{HashMap, VecDeque};

/// A request queued behind the current holders.
#[derive(Debug)]
pub(crate) struct Waiter {
    requester: String,
    holder: Pid,
    /// The attempt that queued it (see [`Table::release`]).
    tag: u64,
    reply: ReplyTo<Grant>,
}

/// One resource: its requester, the processes holding it for that requester, the queue.
#[derive(Debug, Default)]
struct Entry {
    requester: String,
    holders: Vec<Pid>,
    /// The latest attempt each holder was granted by (a holder recorded from a peer's table
    /// has none: any release of it applies).
    tags: HashMap<Pid, u64>,
    waiters: VecDeque<Waiter>,
}

/// Replies to send once the table changed: the waiters that now hold their lock.
pub(crate) type Grants = Vec<ReplyTo<Grant>>;

/// The table's bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) max_resources: usize,
    pub(crate) max_waiters: usize,
    pub(crate) max_name: usize,
}

/// The lock table of one node.
#[derive(Debug)]
pub(crate) struct Table {
    entries: HashMap<String, Entry>,
    /// For each process in the table (holding or waiting): the resources it is in.
    by_pid: HashMap<Pid, Vec<String>>,
    bounds: Bounds,
}

impl Table {
    pub(crate) fn new(bounds: Bounds) -> Table {
        Table {
            entries: HashMap::new(),
            by_pid: HashMap::new(),
            bounds,
        }
    }

    /// Whether `pid` holds or waits for anything here.
    pub(crate) fn tracks(&self, pid: Pid) -> bool {
        self.by_pid.contains_key(&pid)
    }

    /// Resources with a holder or a waiter.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Processes holding or waiting.
    #[cfg(test)]
    pub(crate) fn pids(&self) -> usize {
        self.by_pid.len()
    }

    fn track(&mut self, pid: Pid, resource: &str) {
        let rs = self.by_pid.entry(pid).or_default();
        if !rs.iter().any(|r| r == resource) {
            rs.push(resource.to_string());
        }
    }

    fn untrack(&mut self, pid: Pid, resource: &str) {
        if let Some(rs) = self.by_pid.get_mut(&pid) {
            rs.retain(|r| r != resource);
            if rs.is_empty() {
                self.by_pid.remove(&pid);
            }
        }
    }

    /// A request: the answer now, or `None` if it was queued (answered by a later grant).
    pub(crate) fn acquire(
        &mut self,
        resource: String,
        requester: String,
        holder: Pid,
        tag: u64,
        wait: bool,
        reply: ReplyTo<Grant>,
    ) -> Option<(ReplyTo<Grant>, Grant)> {
        let b = self.bounds;
        if resource.len() > b.max_name || requester.len() > b.max_name {
            return Some((reply, Grant::Refused));
        }
        if !self.entries.contains_key(&resource) && self.entries.len() >= b.max_resources {
            return Some((reply, Grant::Refused));
        }
        let e = self.entries.entry(resource.clone()).or_default();
        let free = e.holders.is_empty() && e.waiters.is_empty();
        if free || (!e.holders.is_empty() && e.requester == requester) {
            e.requester = requester;
            if !e.holders.contains(&holder) {
                e.holders.push(holder);
            }
            e.tags.insert(holder, tag);
            self.track(holder, &resource);
            return Some((reply, Grant::Granted));
        }
        if !wait {
            return Some((reply, Grant::Busy));
        }
        if e.waiters.len() >= b.max_waiters {
            return Some((reply, Grant::Refused));
        }
        e.waiters.push_back(Waiter {
            requester,
            holder,
            tag,
            reply,
        });
        self.track(holder, &resource);
        None
    }

    /// `holder` lets go of `resource` (or stops waiting): the waiters that now hold it.
    ///
    /// With `Some(tag)`, only what the attempt `tag` took or queued is let go: a release that
    /// reaches this node after the same holder's next attempt (releases and requests take
    /// different paths) does not undo that attempt. `None` lets go of everything (the holder
    /// exited, `del_lock`, a stale holder after a partition).
    pub(crate) fn release(&mut self, resource: &str, holder: Pid, tag: Option<u64>) -> Grants {
        let Some(e) = self.entries.get_mut(resource) else {
            return Vec::new();
        };
        let matches = |t: Option<&u64>| match (tag, t) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a == *b,
        };
        if e.holders.contains(&holder) && matches(e.tags.get(&holder)) {
            e.holders.retain(|h| *h != holder);
            e.tags.remove(&holder);
        }
        // A waiter that gave up: its reply handle is dropped (its caller is gone).
        e.waiters
            .retain(|w| !(w.holder == holder && matches(Some(&w.tag))));
        let still = e.holders.contains(&holder) || e.waiters.iter().any(|w| w.holder == holder);
        if !still {
            self.untrack(holder, resource);
        }
        self.promote(resource)
    }

    /// When nobody holds `resource`: the first waiter and those of its requester hold it.
    fn promote(&mut self, resource: &str) -> Grants {
        let Some(e) = self.entries.get_mut(resource) else {
            return Vec::new();
        };
        let mut grants = Vec::new();
        if e.holders.is_empty() {
            e.tags.clear();
            if let Some(first) = e.waiters.pop_front() {
                e.requester = first.requester;
                e.holders.push(first.holder);
                e.tags.insert(first.holder, first.tag);
                grants.push(first.reply);
                let req = e.requester.clone();
                let mut rest = VecDeque::with_capacity(e.waiters.len());
                for w in e.waiters.drain(..) {
                    if w.requester == req {
                        if !e.holders.contains(&w.holder) {
                            e.holders.push(w.holder);
                        }
                        e.tags.insert(w.holder, w.tag);
                        grants.push(w.reply);
                    } else {
                        rest.push_back(w);
                    }
                }
                e.waiters = rest;
            }
        }
        if e.holders.is_empty() && e.waiters.is_empty() {
            self.entries.remove(resource);
        }
        grants
    }

    /// `pid` exited (or its node went down): everything it held or waited for is released.
    pub(crate) fn down(&mut self, pid: Pid) -> Grants {
        let Some(rs) = self.by_pid.get(&pid).cloned() else {
            return Vec::new();
        };
        let mut grants = Vec::new();
        for r in rs {
            grants.extend(self.release(&r, pid, None));
        }
        self.by_pid.remove(&pid);
        grants
    }

    /// Requester and holders of `resource`.
    pub(crate) fn holders(&self, resource: &str) -> Option<(String, Vec<Pid>)> {
        self.entries
            .get(resource)
            .filter(|e| !e.holders.is_empty())
            .map(|e| (e.requester.clone(), e.holders.clone()))
    }

    /// The locks held by processes of `node`, as sent to a peer after a reconnect.
    pub(crate) fn held_by(&self, node: NodeId) -> Vec<HeldEntry> {
        self.entries
            .iter()
            .filter_map(|(r, e)| {
                let hs: Vec<Pid> = e
                    .holders
                    .iter()
                    .copied()
                    .filter(|h| h.node == node)
                    .collect();
                (!hs.is_empty()).then(|| (r.clone(), e.requester.clone(), hs))
            })
            .collect()
    }

    /// Merges the table of a peer on node `from` after the two met again (a partition
    /// healed). The peer speaks only for its own processes:
    ///
    /// - a holder of `from` recorded here from an earlier exchange that the peer no longer
    ///   lists is stale (its release was lost in the partition): dropped. A holder granted
    ///   here by a request is not (the peer's table may have been taken before the request
    ///   went out; a request's holder is freed by its release or when its node is lost);
    /// - a lock the peer's processes hold is recorded here too, unless another requester holds
    ///   it here: then the lower requester (by name) keeps it, on both nodes alike; unless the
    ///   peer's holders wait for it here (a request in progress, granted in turn).
    ///
    /// Returns the grants to send and the holders that lost their lock (to be told).
    pub(crate) fn merge(&mut self, from: NodeId, theirs: Vec<HeldEntry>) -> (Grants, Vec<Pid>) {
        let mut grants = Vec::new();
        let mut losers = Vec::new();
        let claimed: HashMap<&str, &HeldEntry> = theirs.iter().map(|e| (e.0.as_str(), e)).collect();
        // Stale holders of `from`.
        let stale: Vec<(String, Pid)> = self
            .entries
            .iter()
            .flat_map(|(r, e)| {
                e.holders
                    .iter()
                    .filter(|h| h.node == from)
                    // Granted here by a request: freed by its release or its node's loss;
                    // the peer's table may predate a request still on its way.
                    .filter(|h| !e.tags.contains_key(h))
                    .filter(|h| {
                        !claimed
                            .get(r.as_str())
                            .is_some_and(|c| c.1 == e.requester && c.2.contains(h))
                    })
                    .map(move |h| (r.clone(), *h))
            })
            .collect();
        for (r, h) in stale {
            grants.extend(self.release(&r, h, None));
        }
        for (resource, requester, holders) in theirs {
            let holders: Vec<Pid> = holders.into_iter().filter(|h| h.node == from).collect();
            if holders.is_empty() || resource.len() > self.bounds.max_name {
                continue;
            }
            let ours = self.holders(&resource);
            match ours {
                None => {
                    if !self.entries.contains_key(&resource)
                        && self.entries.len() >= self.bounds.max_resources
                    {
                        continue;
                    }
                    let e = self.entries.entry(resource.clone()).or_default();
                    e.requester = requester;
                    e.holders = holders.clone();
                    for h in holders {
                        self.track(h, &resource);
                    }
                }
                Some((req, _)) if req == requester => {
                    for h in holders {
                        let e = self.entries.get_mut(&resource).expect("held");
                        if !e.holders.contains(&h) {
                            e.holders.push(h);
                        }
                        self.track(h, &resource);
                    }
                }
                // Their holders are queued here for it: a request on its way through the
                // nodes (taken on the peer, which sorts first, and waiting here in order), not
                // a lock granted on both sides of a partition. It is granted here in turn.
                Some(_)
                    if self.entries.get(&resource).is_some_and(|e| {
                        e.waiters
                            .iter()
                            .any(|w| w.requester == requester && holders.contains(&w.holder))
                    }) => {}
                Some((req, ours)) => {
                    if requester < req {
                        // Theirs wins: ours lose the lock on every node.
                        losers.extend(ours.iter().copied());
                        for h in &ours {
                            self.untrack(*h, &resource);
                        }
                        let e = self.entries.get_mut(&resource).expect("held");
                        e.requester = requester;
                        e.tags.clear();
                        e.holders = holders.clone();
                        for h in holders {
                            self.track(h, &resource);
                        }
                    } else {
                        losers.extend(holders);
                    }
                }
            }
        }
        (grants, losers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actor_core::ReplyTo;

    fn pid(node: u64, id: u64) -> Pid {
        Pid {
            node: NodeId(node),
            id,
            creation: 1,
        }
    }

    fn table() -> Table {
        Table::new(Bounds {
            max_resources: 4,
            max_waiters: 2,
            max_name: 16,
        })
    }

    /// An acquire whose answer (now or later) can be read.
    fn acquire(
        t: &mut Table,
        r: &str,
        req: &str,
        h: Pid,
    ) -> (
        Option<Grant>,
        tokio::sync::oneshot::Receiver<Result<Grant, actor_core::ExitReason>>,
    ) {
        let (reply, rx) = ReplyTo::pair();
        let now = t
            .acquire(r.into(), req.into(), h, 0, true, reply)
            .map(|(reply, g)| {
                reply.send(g);
                g
            });
        (now, rx)
    }

    #[test]
    fn one_requester_at_a_time_in_arrival_order() {
        let mut t = table();
        let (a, b, c) = (pid(1, 1), pid(2, 1), pid(3, 1));
        assert_eq!(acquire(&mut t, "r", "A", a).0, Some(Grant::Granted));
        let (now_b, mut rx_b) = acquire(&mut t, "r", "B", b);
        let (now_c, mut rx_c) = acquire(&mut t, "r", "C", c);
        assert_eq!((now_b, now_c), (None, None));
        for g in t.release("r", a, None) {
            g.send(Grant::Granted);
        }
        assert_eq!(rx_b.try_recv().unwrap(), Ok(Grant::Granted));
        assert!(rx_c.try_recv().is_err(), "C still waits");
        assert_eq!(t.holders("r"), Some(("B".into(), vec![b])));
        for g in t.down(b) {
            g.send(Grant::Granted);
        }
        assert_eq!(rx_c.try_recv().unwrap(), Ok(Grant::Granted));
        for g in t.release("r", c, None) {
            g.send(Grant::Granted);
        }
        assert_eq!((t.len(), t.pids()), (0, 0), "nothing left behind");
    }

    #[test]
    fn holders_of_one_requester_share_the_lock() {
        let mut t = table();
        assert_eq!(acquire(&mut t, "r", "A", pid(1, 1)).0, Some(Grant::Granted));
        assert_eq!(acquire(&mut t, "r", "A", pid(1, 2)).0, Some(Grant::Granted));
        assert_eq!(t.holders("r").unwrap().1.len(), 2);
        assert!(t.release("r", pid(1, 1), None).is_empty());
        assert!(t.holders("r").is_some(), "the other holder keeps it");
    }

    #[test]
    fn limits_refuse_instead_of_growing() {
        let mut t = table();
        for i in 0..4 {
            assert_eq!(
                acquire(&mut t, &format!("r{i}"), "A", pid(1, 1)).0,
                Some(Grant::Granted)
            );
        }
        assert_eq!(
            acquire(&mut t, "r9", "A", pid(1, 1)).0,
            Some(Grant::Refused)
        );
        assert_eq!(acquire(&mut t, "r0", "B", pid(2, 1)).0, None);
        assert_eq!(acquire(&mut t, "r0", "C", pid(2, 2)).0, None);
        assert_eq!(
            acquire(&mut t, "r0", "D", pid(2, 3)).0,
            Some(Grant::Refused)
        );
        let long = "x".repeat(17);
        assert_eq!(
            acquire(&mut t, &long, "A", pid(1, 1)).0,
            Some(Grant::Refused)
        );
        // A waiter that gives up leaves the queue.
        t.release("r0", pid(2, 1), None);
        t.release("r0", pid(2, 2), None);
        assert!(!t.tracks(pid(2, 1)) && !t.tracks(pid(2, 2)));
    }

    #[test]
    fn merge_drops_stale_holders_and_settles_conflicts_alike_on_both_sides() {
        // Node 1's process held "s" (node 2 learnt it from node 1's table); its release was
        // lost on node 2's table.
        let mut t2 = table();
        t2.merge(NodeId(1), vec![("s".into(), "A".into(), vec![pid(1, 1)])]);
        assert!(t2.holders("s").is_some());
        // A request of node 1's granted here, newer than node 1's table: not stale.
        acquire(&mut t2, "n", "A", pid(1, 2));
        // During the partition, both sides elected: "B" on node 1, "C" on node 2.
        let mut t1 = table();
        acquire(&mut t1, "l", "B", pid(1, 5));
        acquire(&mut t2, "l", "C", pid(2, 5));
        let from1 = t1.held_by(NodeId(1));
        let from2 = t2.held_by(NodeId(2));
        let (_, lost_on_2) = t2.merge(NodeId(1), from1);
        let (_, lost_on_1) = t1.merge(NodeId(2), from2);
        assert!(t2.holders("s").is_none(), "stale holder dropped");
        assert!(t2.holders("n").is_some(), "a granted request is not stale");
        assert_eq!(lost_on_2, vec![pid(2, 5)]);
        assert_eq!(lost_on_1, vec![pid(2, 5)], "both sides pick the same loser");
        assert_eq!(t1.holders("l"), Some(("B".into(), vec![pid(1, 5)])));
        assert_eq!(t2.holders("l"), Some(("B".into(), vec![pid(1, 5)])));
    }

    #[test]
    fn a_peer_speaks_only_for_its_own_processes() {
        let mut t = table();
        let (_, lost) = t.merge(NodeId(1), vec![("r".into(), "X".into(), vec![pid(3, 1)])]);
        assert!(lost.is_empty());
        assert!(
            t.holders("r").is_none(),
            "a claim about node 3 from node 1 is ignored"
        );
    }

    #[test]
    fn a_late_release_of_an_earlier_attempt_does_not_undo_the_next_one() {
        let mut t = table();
        let (a, b) = (pid(1, 1), pid(2, 1));
        let grant = |t: &mut Table, req: &str, h: Pid, tag: u64| {
            let (reply, rx) = ReplyTo::pair();
            let now = t.acquire("r".into(), req.into(), h, tag, true, reply);
            (
                now.map(|(r, g)| {
                    r.send(g);
                    g
                }),
                rx,
            )
        };
        // Attempt 1 of `a` holds, `b` queues, attempt 2 of `a` queues behind `b`.
        assert_eq!(grant(&mut t, "A", a, 1).0, Some(Grant::Granted));
        let (_, mut rx_b) = grant(&mut t, "B", b, 7);
        for g in t.release("r", a, Some(1)) {
            g.send(Grant::Granted);
        }
        assert_eq!(rx_b.try_recv().unwrap(), Ok(Grant::Granted));
        let (now, mut rx_a2) = grant(&mut t, "A", a, 2);
        assert_eq!(now, None);
        // A duplicate (late) release of attempt 1 leaves attempt 2 queued.
        t.release("r", a, Some(1));
        for g in t.release("r", b, Some(7)) {
            g.send(Grant::Granted);
        }
        assert_eq!(rx_a2.try_recv().unwrap(), Ok(Grant::Granted));
        // A late release of attempt 1 does not free what attempt 2 holds.
        t.release("r", a, Some(1));
        assert_eq!(t.holders("r"), Some(("A".into(), vec![a])));
        t.release("r", a, Some(2));
        assert_eq!((t.len(), t.pids()), (0, 0));
    }

    #[test]
    fn a_request_in_progress_is_not_a_partition_conflict() {
        let mut t = table();
        // "B" holds here; "A" (node 1) took the lock on node 1 and waits here for "B".
        acquire(&mut t, "l", "B", pid(2, 5));
        let (now, mut rx) = acquire(&mut t, "l", "A", pid(1, 1));
        assert_eq!(now, None);
        let (_, lost) = t.merge(NodeId(1), vec![("l".into(), "A".into(), vec![pid(1, 1)])]);
        assert!(lost.is_empty(), "nobody loses a lock to a queued request");
        assert_eq!(t.holders("l"), Some(("B".into(), vec![pid(2, 5)])));
        for g in t.release("l", pid(2, 5), None) {
            g.send(Grant::Granted);
        }
        assert_eq!(rx.try_recv().unwrap(), Ok(Grant::Granted));
    }
}
