//! Multi-node helpers: nodes with distribution and membership on 127.0.0.1 in this process,
//! every link through its own [`LinkProxy`] (the lower-numbered node dials the higher one
//! through it, as a seed, so a link comes back by itself after a heal), a sampler that checks
//! no two sides are quorate at once, and polling with a deadline.
#![allow(dead_code)]

pub mod procs;
pub mod proxy;

use actor_cluster::membership::{
    Membership, MembershipConfig, MembershipStatus, QuorumState, Verdict,
};
use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use parking_lot::Mutex;
use proxy::LinkProxy;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The net tick time of test nodes.
pub const TICK: Duration = Duration::from_millis(500);
/// Longest wait for anything in these tests.
pub const T: Duration = Duration::from_secs(15);

pub fn name(i: usize) -> String {
    format!("n{i}@127.0.0.1")
}

/// Distribution settings: quick ticks, quick reconnects, no connection but the seeds'.
pub fn dist_config() -> DistConfig {
    let mut cfg = DistConfig::new(Cookie::new("membership-test").unwrap());
    cfg.tick_time = TICK;
    cfg.setup_timeout = Duration::from_millis(500);
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    cfg.transitive = false;
    cfg.auto_connect = false;
    cfg
}

/// Membership settings for tests: start stamps by number (n1 is the oldest).
pub fn member_config(i: usize) -> MembershipConfig {
    MembershipConfig::new().started(i as u64).roles(["test"])
}

pub struct Member {
    pub i: usize,
    pub dist: Dist,
    pub m: Membership,
}

impl Member {
    pub fn name(&self) -> String {
        name(self.i)
    }
}

pub struct Cluster {
    pub members: Vec<Member>,
    /// `links[(i, j)]` with `i < j`: the proxy `i` dials `j` through.
    pub links: BTreeMap<(usize, usize), LinkProxy>,
}

impl Cluster {
    /// `n` nodes `n1..=n{n}`, fully meshed through proxies, each with membership configured by
    /// `cfg(i)`; returns once every node counts all `n` as up and is quorate.
    pub async fn start(n: usize, cfg: impl Fn(usize) -> MembershipConfig) -> Cluster {
        Self::start_with(n, cfg, |_| dist_config()).await
    }

    pub async fn start_with(
        n: usize,
        cfg: impl Fn(usize) -> MembershipConfig,
        dcfg: impl Fn(usize) -> DistConfig,
    ) -> Cluster {
        let mut links = BTreeMap::new();
        for i in 1..=n {
            for j in i + 1..=n {
                links.insert((i, j), LinkProxy::start().await);
            }
        }
        let mut members = Vec::new();
        for i in 1..=n {
            let mut dc = dcfg(i);
            for j in i + 1..=n {
                dc = dc.seed(name(j), links[&(i, j)].addr);
            }
            let node = Node::new(name(i));
            let dist = Dist::start(&node, dc).await.unwrap();
            for k in 1..i {
                links[&(k, i)].set_target(dist.local_addr());
            }
            let m = Membership::start(&dist, cfg(i));
            members.push(Member { i, dist, m });
        }
        let c = Cluster { members, links };
        c.wait_whole().await;
        c
    }

    pub fn m(&self, i: usize) -> &Member {
        &self.members[i - 1]
    }

    pub fn link(&self, a: usize, b: usize) -> &LinkProxy {
        &self.links[&(a.min(b), a.max(b))]
    }

    /// Silently cuts every link between `a` and `b`.
    pub fn cut(&self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.link(x, y).cut();
            }
        }
    }

    pub fn heal_all(&self) {
        for l in self.links.values() {
            l.heal();
        }
    }

    /// Waits until every node counts every node up, sees one whole side and is quorate.
    pub async fn wait_whole(&self) {
        let n = self.members.len();
        for m in &self.members {
            eventually(&format!("{} whole", m.name()), || {
                let s = m.m.status();
                s.up().len() == n
                    && s.picture.is_whole()
                    && s.picture.side.len() == n
                    && s.quorum == QuorumState::Quorate
            })
            .await;
        }
    }

    /// Waits until each node of `side` has decided `verdict` with exactly `side` as its side.
    pub async fn wait_decided(&self, side: &[usize], verdict: Verdict) {
        let names: Vec<String> = side.iter().map(|&i| name(i)).collect();
        for &i in side {
            let m = self.m(i);
            let deadline = Instant::now() + T;
            loop {
                let s = m.m.status();
                if s.decision
                    .as_ref()
                    .is_some_and(|d| d.verdict == verdict && d.side == names)
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not decide {verdict:?} for {names:?}: {s:#?}",
                    m.name()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    pub fn statuses(&self) -> Vec<MembershipStatus> {
        self.members.iter().map(|m| m.m.status()).collect()
    }

    /// Samples every node every 5 ms until dropped, recording every moment at which two
    /// quorate nodes see sides with no member in common: two sides quorate at once.
    pub fn sampler(&self) -> Sampler {
        let ms: Vec<Membership> = self.members.iter().map(|m| m.m.clone()).collect();
        let bad = Arc::new(Mutex::new(Vec::new()));
        let samples = Arc::new(Mutex::new(0u64));
        let (b, s) = (bad.clone(), samples.clone());
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(5));
            loop {
                every.tick().await;
                let st: Vec<MembershipStatus> = ms.iter().map(|m| m.status()).collect();
                *s.lock() += 1;
                for x in &st {
                    if x.quorum != QuorumState::Quorate {
                        continue;
                    }
                    for y in &st {
                        // Two quorate nodes that count each other out are still one side
                        // while their sides overlap (during a heal, {1,2,3,4} and {1,2,3,5}
                        // are two views of one majority: any write quorum of one meets the
                        // other). Two sides with no member in common are a split brain.
                        if y.quorum == QuorumState::Quorate
                            && !x.quorum_side.contains(&y.me.name)
                            && !y.quorum_side.contains(&x.me.name)
                            && !x.quorum_side.iter().any(|n| y.quorum_side.contains(n))
                        {
                            b.lock().push(format!(
                                "{} quorate with side {:?}, {} quorate with side {:?}",
                                x.me.name, x.quorum_side, y.me.name, y.quorum_side
                            ));
                        }
                    }
                }
            }
        });
        Sampler { bad, samples, task }
    }
}

pub struct Sampler {
    bad: Arc<Mutex<Vec<String>>>,
    samples: Arc<Mutex<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Stops sampling; panics if two sides were ever quorate at once.
    pub fn assert_never_two_sides(self) {
        self.task.abort();
        let bad = self.bad.lock();
        assert!(*self.samples.lock() > 10, "the sampler ran");
        assert!(
            bad.is_empty(),
            "two sides quorate at once: {:?}",
            &bad[..bad.len().min(5)]
        );
    }
}

/// Polls `cond` until it holds, at most `T`.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !cond() {
        assert!(Instant::now() < deadline, "not reached in {T:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `cond` until it holds and returns how long it took (at most `T`).
pub async fn time_until(what: &str, cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    eventually(what, cond).await;
    t0.elapsed()
}
