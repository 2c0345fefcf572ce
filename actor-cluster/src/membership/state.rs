//! The membership state of one node and its recomputation: health from heartbeats, members
//! joining and becoming up, the partition picture, the quorum state, and decisions on a
//! stable picture. No I/O here: the driver feeds inputs and carries out the [`Action`]s.

use super::config::{DownAction, Resolved, Strategy};
use super::picture::{Graph, PartitionPicture, Says};
use super::quorum::{QuorumInfo, QuorumState};
use super::strategy::{evaluate, Outcome};
use super::view::{Decision, Health, MemberEvent, MemberInfo, MemberStatus, Verdict};
use super::wire::{Line, Report};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
#[cfg(test)]
use std::time::Duration;
use tokio::time::Instant;

/// A known node other than this one.
#[derive(Debug)]
pub(crate) struct Peer {
    pub info: MemberInfo,
    pub status: MemberStatus,
    pub connected: bool,
    /// When it last answered a heartbeat.
    pub last_answer: Option<Instant>,
    /// Its last valid report.
    pub report: Option<Report>,
    /// A heartbeat to it is in flight.
    pub in_flight: bool,
    /// Health as last reported in events.
    pub health: Health,
}

impl Peer {
    /// A node known only by name so far (its report will say who it is).
    pub(crate) fn unknown(name: String, connected: bool) -> Peer {
        Peer {
            info: MemberInfo {
                name,
                creation: 0,
                started: u64::MAX,
                app_version: String::new(),
                roles: Vec::new(),
            },
            status: MemberStatus::Joining,
            connected,
            last_answer: None,
            report: None,
            in_flight: false,
            health: Health::Unhealthy,
        }
    }
}

/// The lease of [`Strategy::LeaseMajority`] as this node knows it.
#[derive(Debug, Default)]
pub(crate) struct LeaseState {
    /// The owner this node's side would ask for, and since when.
    pub wanted: Option<(String, Instant)>,
    /// Who holds the lease, as last learnt from the lease itself, and when.
    pub holder: Option<(Option<String>, Instant)>,
    /// A request is in flight.
    pub asking: bool,
}

/// What the driver must do after a recomputation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Disconnect and keep away until the fence expires.
    Fence(String),
    /// Ask the lease for `owner` (then learn who holds it).
    Acquire(String),
    /// Learn who holds the lease.
    Query,
    /// Shut distribution down: this node was downed with `DownAction::Stop`.
    Stop,
    /// The report changed: tell the peers to pull it.
    Poke,
}

/// Everything behind the membership lock.
pub(crate) struct State {
    pub me: MemberInfo,
    pub me_status: MemberStatus,
    pub peers: BTreeMap<String, Peer>,
    /// Left or removed incarnations, oldest first (bounded).
    pub tombstones: VecDeque<(String, u32)>,
    pub report: Report,
    /// The picture everyone computes alike (strict reading of the reports).
    pub picture: PartitionPicture,
    pub changed_at: Instant,
    /// Since when the picture has kept changing without a decision.
    pub unstable_since: Option<Instant>,
    /// The last decision and the picture it was taken on.
    pub decision: Option<(PartitionPicture, Decision)>,
    /// Every side was downed for instability, until a decision on a stable picture.
    pub down_all: bool,
    pub fenced: HashMap<String, Instant>,
    pub lease: LeaseState,
    pub quorum: QuorumInfo,
    pub leaving: bool,
    pub stopped: bool,
    /// An operator downed this node ([`Membership::down`](super::Membership::down)).
    pub operator_downed: bool,
    /// Events to publish, in order.
    pub events: Vec<MemberEvent>,
}

impl State {
    pub(crate) fn new(me: MemberInfo, min_members: usize, now: Instant) -> State {
        let me_status = if min_members <= 1 {
            MemberStatus::Up
        } else {
            MemberStatus::Joining
        };
        let report = Report {
            from: me.clone(),
            seq: 1,
            leaving: false,
            members: Vec::new(),
            tombstones: Vec::new(),
        };
        State {
            me_status,
            peers: BTreeMap::new(),
            tombstones: VecDeque::new(),
            report,
            picture: PartitionPicture {
                components: vec![vec![me.name.clone()]],
                side: vec![me.name.clone()],
                ..Default::default()
            },
            changed_at: now,
            unstable_since: None,
            decision: None,
            down_all: false,
            fenced: HashMap::new(),
            lease: LeaseState::default(),
            quorum: QuorumInfo {
                state: QuorumState::Deciding,
                side: vec![me.name.clone()],
                members: 0,
            },
            leaving: false,
            stopped: false,
            operator_downed: false,
            events: Vec::new(),
            me,
        }
    }

    pub(crate) fn is_tombstoned(&self, name: &str, creation: u32) -> bool {
        self.tombstones
            .iter()
            .any(|(n, c)| n == name && *c == creation)
    }

    pub(crate) fn tombstone(&mut self, name: &str, creation: u32, max: usize) {
        if !self.is_tombstoned(name, creation) {
            self.tombstones.push_back((name.to_string(), creation));
            while self.tombstones.len() > max {
                self.tombstones.pop_front();
            }
        }
    }

    /// A peer's health from the age of its last answer: `missed` heartbeats are those that
    /// should have been answered by now, beyond the one that may be in flight.
    pub(crate) fn health_of(p: &Peer, r: &Resolved, now: Instant) -> Health {
        let Some(last) = p.last_answer else {
            return Health::Unhealthy;
        };
        let missed = (now
            .saturating_duration_since(last)
            .saturating_sub(r.heartbeat))
        .as_nanos()
            / r.heartbeat.as_nanos().max(1);
        if missed >= r.unhealthy_after as u128 {
            Health::Unhealthy
        } else if missed >= r.degraded_after as u128 || !p.connected {
            Health::Degraded
        } else {
            Health::Healthy
        }
    }

    /// The up members (this node included when up), sorted by name.
    pub(crate) fn up_members(&self) -> Vec<MemberInfo> {
        let mut v: Vec<MemberInfo> = self
            .peers
            .values()
            .filter(|p| p.status == MemberStatus::Up)
            .map(|p| p.info.clone())
            .collect();
        if self.me_status == MemberStatus::Up {
            v.push(self.me.clone());
        }
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Adds the members peers know and this node does not (as joining), and makes every
    /// joining node up once all known nodes reach each other and know each other.
    fn converge(&mut self, r: &Resolved, min_members: usize, max_members: usize, now: Instant) {
        let mut seen: Vec<MemberInfo> = Vec::new();
        for p in self.peers.values() {
            if Self::health_of(p, r, now) != Health::Healthy {
                continue;
            }
            if let Some(rep) = &p.report {
                for l in &rep.members {
                    if l.info.name != self.me.name
                        && !self.peers.contains_key(&l.info.name)
                        && !self.is_tombstoned(&l.info.name, l.info.creation)
                    {
                        seen.push(l.info.clone());
                    }
                }
            }
        }
        for info in seen {
            if !self.peers.contains_key(&info.name) && self.peers.len() < max_members {
                self.events.push(MemberEvent::Joining(info.clone()));
                self.peers.insert(
                    info.name.clone(),
                    Peer {
                        info,
                        status: MemberStatus::Joining,
                        connected: false,
                        last_answer: None,
                        report: None,
                        in_flight: false,
                        health: Health::Unhealthy,
                    },
                );
            }
        }
        let joining = self.me_status == MemberStatus::Joining
            || self
                .peers
                .values()
                .any(|p| p.status == MemberStatus::Joining);
        if !joining || self.peers.len() + 1 < min_members {
            return;
        }
        let names: BTreeSet<&str> = self
            .peers
            .keys()
            .map(String::as_str)
            .chain([self.me.name.as_str()])
            .collect();
        let converged = self.peers.values().all(|p| {
            p.connected
                && Self::health_of(p, r, now) == Health::Healthy
                && p.report.as_ref().is_some_and(|rep| {
                    let listed: BTreeSet<&str> =
                        rep.members.iter().map(|l| l.info.name.as_str()).collect();
                    rep.members.iter().all(|l| l.health == Health::Healthy)
                        && listed.len() + 1 == names.len()
                        && listed.iter().all(|n| names.contains(n))
                })
        });
        if !converged {
            return;
        }
        if self.me_status == MemberStatus::Joining {
            self.me_status = MemberStatus::Up;
            self.events.push(MemberEvent::Up(self.me.clone()));
        }
        for p in self.peers.values_mut() {
            if p.status == MemberStatus::Joining {
                p.status = MemberStatus::Up;
                self.events.push(MemberEvent::Up(p.info.clone()));
            }
        }
    }

    /// The reachability graph over the up members. `pessimistic`: this node's own links
    /// count only when healthy and connected, and the links of nodes it fenced off are gone
    /// (how it judges its own side); otherwise its links read as everyone else's (how it
    /// judges the others).
    fn graph(&self, r: &Resolved, now: Instant, up: &[MemberInfo], pessimistic: bool) -> Graph {
        let mut nodes: Vec<(String, u64)> =
            up.iter().map(|m| (m.name.clone(), m.started)).collect();
        nodes.push((self.me.name.clone(), self.me.started));
        let read = |h: Health| match h {
            Health::Healthy => Says::Reach,
            Health::Degraded => Says::Doubt,
            Health::Unhealthy => Says::Miss,
        };
        Graph::build(&nodes, |x, y| {
            // Judging its own side, a node counts the nodes it fenced off as gone: its side
            // decided so, and their links will be reported missing soon.
            if pessimistic && (self.fenced.contains_key(x) || self.fenced.contains_key(y)) {
                return Some(Says::Miss);
            }
            if x == self.me.name {
                let p = self.peers.get(y)?;
                let h = Self::health_of(p, r, now);
                if pessimistic {
                    return Some(if h == Health::Healthy && p.connected {
                        Says::Reach
                    } else {
                        Says::Miss
                    });
                }
                return Some(read(h));
            }
            let p = self.peers.get(x)?;
            if Self::health_of(p, r, now) != Health::Healthy {
                // A peer this node does not hear from: its last report still tells how the
                // far side was linked, but nothing about this node or the nodes it hears
                // from (those links are judged by fresher statements).
                let heard = |n: &str| {
                    n == self.me.name
                        || self
                            .peers
                            .get(n)
                            .is_some_and(|q| Self::health_of(q, r, now) == Health::Healthy)
                };
                if heard(y) {
                    return None;
                }
            }
            let line = p.report.as_ref()?.line(y)?;
            Some(read(line.health))
        })
    }

    /// This node's report as it stands.
    fn build_report(&self, r: &Resolved, now: Instant) -> Report {
        Report {
            from: self.me.clone(),
            seq: self.report.seq,
            leaving: self.leaving,
            members: self
                .peers
                .values()
                // A peer is listed once its own report said who it is.
                .filter(|p| p.status == MemberStatus::Up || p.info.started != u64::MAX)
                .map(|p| Line {
                    info: p.info.clone(),
                    up: p.status == MemberStatus::Up,
                    health: Self::health_of(p, r, now),
                })
                .collect(),
            tombstones: self.tombstones.iter().cloned().collect(),
        }
    }

    /// Recomputes everything from the inputs so far; returns what the driver must do.
    pub(crate) fn recompute(
        &mut self,
        cfg: &super::MembershipConfig,
        r: &Resolved,
        now: Instant,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for p in self.peers.values_mut() {
            let h = Self::health_of(p, r, now);
            if h != p.health {
                p.health = h;
                self.events.push(MemberEvent::Health {
                    node: p.info.name.clone(),
                    health: h,
                });
            }
        }
        self.fenced.retain(|_, until| *until > now);
        self.converge(r, cfg.min_members, cfg.max_members, now);

        let mut report = self.build_report(r, now);
        if report != self.report {
            report.seq += 1;
            self.report = report;
            actions.push(Action::Poke);
        }

        let up = self.up_members();
        let strict = self.graph(r, now, &up, false).picture(&self.me.name, true);
        let mine = self.graph(r, now, &up, true).picture(&self.me.name, false);
        if strict != self.picture {
            self.picture = strict.clone();
            self.changed_at = now;
            self.unstable_since.get_or_insert(now);
            self.events.push(MemberEvent::Picture(strict.clone()));
        }

        // Provisional: may this node count itself on a quorate side now? When it hears from
        // every up member, its side is all of them, whatever third parties (perhaps with stale
        // reports) say about each other; otherwise the side of its own reading.
        let me_up = self.me_status == MemberStatus::Up;
        let hears_all = up.iter().all(|m| {
            m.name == self.me.name
                || self
                    .peers
                    .get(&m.name)
                    .is_some_and(|p| p.connected && Self::health_of(p, r, now) == Health::Healthy)
        });
        let mut mine = mine;
        if hears_all {
            mine.side = up.iter().map(|m| m.name.clone()).collect();
            mine.dropped.clear();
        }
        let side: BTreeSet<String> = mine.side.iter().cloned().collect();
        let outcome = if !me_up || mine.is_dropped(&self.me.name) || up.len() < cfg.min_members {
            Outcome::Down
        } else {
            evaluate(&cfg.strategy, &side, &up)
        };
        // And the shared picture must agree: a node coming back from a partition is not
        // quorate before the others' reports count it in again.
        let strict_side: BTreeSet<String> = strict.side.iter().cloned().collect();
        let shared_ok = !strict.is_dropped(&self.me.name)
            && evaluate(&cfg.strategy, &strict_side, &up) != Outcome::Down;
        let quorate_now = shared_ok
            && match &outcome {
                Outcome::Keep => true,
                Outcome::Down => false,
                Outcome::Lease { owner, majority } => {
                    self.want_lease(cfg, r, owner, *majority, &side, now, &mut actions)
                }
            };
        if matches!(outcome, Outcome::Keep) {
            self.lease.wanted = None;
        }

        // A decision once the picture is stable.
        let stable = now.saturating_duration_since(self.changed_at) >= r.stable_after;
        let decided_now = self
            .decision
            .as_ref()
            .is_some_and(|(p, d)| *p == self.picture && !d.unstable);
        if stable
            && !decided_now
            && me_up
            && !self.stopped
            && !self.leaving
            && !self.operator_downed
        {
            self.decide(cfg, &up, &mut actions);
        } else if !stable && !self.down_all {
            if let (Some(since), Some(extra)) = (self.unstable_since, r.down_all_after) {
                if now.saturating_duration_since(since) >= r.stable_after + extra {
                    self.down_all = true;
                    let d = Decision {
                        side: self.picture.side.clone(),
                        dropped: self.picture.dropped.clone(),
                        members: up.len(),
                        verdict: Verdict::Down,
                        unstable: true,
                    };
                    self.events.push(MemberEvent::Decided(d.clone()));
                    self.decision = Some((self.picture.clone(), d));
                    if cfg.down_action == DownAction::Stop {
                        self.stopped = true;
                        self.events.push(MemberEvent::Downed);
                        actions.push(Action::Stop);
                    }
                }
            }
        }

        let decided_down = self
            .decision
            .as_ref()
            .is_some_and(|(p, d)| d.verdict == Verdict::Down && (*p == self.picture || d.unstable));
        let state = if self.stopped || self.leaving || self.down_all || self.operator_downed {
            QuorumState::Minority
        } else if quorate_now {
            QuorumState::Quorate
        } else if decided_down {
            QuorumState::Minority
        } else {
            QuorumState::Deciding
        };
        let info = QuorumInfo {
            state,
            side: mine.side.clone(),
            members: up.len(),
        };
        if info.state != self.quorum.state {
            self.events.push(MemberEvent::Quorum(state));
        }
        self.quorum = info;
        actions
    }

    /// Whether the lease holder is on this side (asking for the lease when allowed, and
    /// learning who holds it at every heartbeat).
    #[allow(clippy::too_many_arguments)]
    fn want_lease(
        &mut self,
        cfg: &super::MembershipConfig,
        r: &Resolved,
        owner: &str,
        majority: bool,
        side: &BTreeSet<String>,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Strategy::LeaseMajority { minority_delay, .. } = &cfg.strategy else {
            return false;
        };
        let since = match &self.lease.wanted {
            Some((o, since)) if o == owner => *since,
            _ => {
                self.lease.wanted = Some((owner.to_string(), now));
                now
            }
        };
        let fresh = self.lease.holder.as_ref().filter(|(_, at)| {
            now.saturating_duration_since(*at) < r.heartbeat * (r.degraded_after + 1)
        });
        let ours = fresh.is_some_and(|(h, _)| h.as_ref().is_some_and(|h| side.contains(h)));
        let stale = self
            .lease
            .holder
            .as_ref()
            .is_none_or(|(_, at)| now.saturating_duration_since(*at) >= r.heartbeat);
        if stale && !self.lease.asking {
            self.lease.asking = true;
            let free = fresh.is_some_and(|(h, _)| h.is_none()) || self.lease.holder.is_none();
            let may_ask = majority || now.saturating_duration_since(since) >= *minority_delay;
            actions.push(if may_ask && free {
                Action::Acquire(owner.to_string())
            } else {
                Action::Query
            });
        }
        ours
    }

    /// The decision on the stable picture: the verdict, fences for the dropped, removal of
    /// the losers (with `DownAction::Stop`), stopping (when downed with it).
    fn decide(
        &mut self,
        cfg: &super::MembershipConfig,
        up: &[MemberInfo],
        actions: &mut Vec<Action>,
    ) {
        let p = self.picture.clone();
        let me = self.me.name.clone();
        let dropped = p.is_dropped(&me);
        let side: BTreeSet<String> = p.side.iter().cloned().collect();
        let verdict = if dropped {
            Verdict::Down
        } else {
            match evaluate(&cfg.strategy, &side, up) {
                Outcome::Keep => Verdict::Keep,
                Outcome::Down => Verdict::Down,
                Outcome::Lease { .. } => {
                    let holder = self.lease.holder.as_ref().and_then(|(h, _)| h.as_ref());
                    if holder.is_some_and(|h| side.contains(h)) {
                        Verdict::Keep
                    } else {
                        Verdict::Down
                    }
                }
            }
        };
        // With the manual strategy a side that is not whole waits for an operator: no verdict.
        // The picture is stable all the same: not a flapping one.
        if matches!(cfg.strategy, Strategy::Manual) && verdict == Verdict::Down && !dropped {
            self.unstable_since = None;
            return;
        }
        // Overlapping partitions end as clean components: the side drops the dropped; a
        // dropped node leaves the rest of its component.
        let component: Vec<String> = p
            .components
            .iter()
            .find(|c| c.contains(&me))
            .cloned()
            .unwrap_or_default();
        let mut away: Vec<String> = if dropped {
            component.iter().filter(|n| **n != me).cloned().collect()
        } else {
            p.dropped.clone()
        };
        // A node of another component still connected (it says it reaches nobody here, or
        // nobody here reaches it, yet a connection is up) is disconnected too.
        for m in up {
            let connected = self.peers.get(&m.name).is_some_and(|q| q.connected);
            if connected && !component.contains(&m.name) && !away.contains(&m.name) {
                away.push(m.name.clone());
            }
        }
        for n in away {
            self.events.push(MemberEvent::Fenced(n.clone()));
            actions.push(Action::Fence(n));
        }
        if verdict == Verdict::Keep && cfg.down_action == DownAction::Stop {
            let losers: Vec<MemberInfo> = up
                .iter()
                .filter(|m| !side.contains(&m.name))
                .cloned()
                .collect();
            for m in losers {
                self.peers.remove(&m.name);
                self.tombstone(&m.name, m.creation, cfg.max_tombstones);
                self.events.push(MemberEvent::Removed(m));
            }
        }
        let d = Decision {
            side: p.side.clone(),
            dropped: p.dropped.clone(),
            members: up.len(),
            verdict,
            unstable: false,
        };
        self.down_all = false;
        self.unstable_since = None;
        self.events.push(MemberEvent::Decided(d.clone()));
        self.decision = Some((p, d));
        if verdict == Verdict::Down && cfg.down_action == DownAction::Stop {
            self.stopped = true;
            self.events.push(MemberEvent::Downed);
            actions.push(Action::Stop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> MemberInfo {
        MemberInfo {
            name: "a@h".into(),
            creation: 1,
            started: 1,
            app_version: String::new(),
            roles: Vec::new(),
        }
    }

    #[test]
    fn tombstones_are_bounded_and_forget_the_oldest() {
        let mut st = State::new(me(), 1, Instant::now());
        for i in 0..10u32 {
            st.tombstone(&format!("n{i}@h"), i, 4);
            st.tombstone(&format!("n{i}@h"), i, 4); // twice: kept once
        }
        assert_eq!(st.tombstones.len(), 4);
        assert!(st.is_tombstoned("n9@h", 9));
        assert!(!st.is_tombstoned("n0@h", 0));
    }

    #[tokio::test(start_paused = true)]
    async fn health_follows_missed_heartbeats() {
        let r = Resolved::new(
            &super::super::MembershipConfig::new(),
            Duration::from_millis(800),
        );
        let mut p = Peer::unknown("b@h".into(), true);
        assert_eq!(State::health_of(&p, &r, Instant::now()), Health::Unhealthy);
        p.last_answer = Some(Instant::now());
        let at = |ms: u64| State::health_of(&p, &r, Instant::now() + Duration::from_millis(ms));
        // heartbeat 100 ms: degraded after 1 missed, unhealthy after 5 (beyond the one in flight).
        assert_eq!(at(150), Health::Healthy);
        assert_eq!(at(200), Health::Degraded);
        assert_eq!(at(599), Health::Degraded);
        assert_eq!(at(600), Health::Unhealthy);
    }
}
