//! Leader election on a global lock, as the seed architecture's `:global` election: every
//! candidate queues for one lock; the holder is the leader; when it exits or its node goes
//! down, the next candidate in the queue becomes leader.

use super::{LockError, LockGuard, LockId, Locks};
use actor_core::Pid;
use std::time::Duration;

/// How long a candidate waits for leadership: for as long as it lives (in practice).
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// This candidate's leadership of a group, from [`Locks::elect`]. Dropping it (or
/// [`resign`](Leadership::resign)) hands leadership to the next candidate; so does the
/// candidate's exit. After a healed partition, a leader that loses gets the exit signal
/// `lock_lost`.
#[derive(Debug)]
pub struct Leadership {
    guard: LockGuard,
    group: String,
}

impl Leadership {
    /// The group led.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Keeps leadership for as long as the candidate lives.
    pub fn keep(self) {
        self.guard.keep();
    }

    /// Gives leadership up: the next candidate takes it.
    pub fn resign(self) {
        self.guard.release();
    }
}

fn resource(group: &str) -> String {
    format!("$leader/{group}")
}

impl Locks {
    /// Waits until `candidate` leads `group` (every candidate of the group calls this; one
    /// at a time leads). Returns an error only if a lock server refuses or fails.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node};
    /// # use actor_dist::{Cookie, Dist, DistConfig};
    /// # use actor_cluster::locks::Locks;
    /// # struct Worker;
    /// # impl Actor for Worker {
    /// #     type Msg = ();
    /// #     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// # }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap())).await.unwrap();
    /// let locks = Locks::start(&dist).await.unwrap();
    /// let me = dist.node().spawn(Worker).await.unwrap().pid();
    /// let lead = locks.elect("billing-cron", me).await.unwrap();
    /// assert_eq!(locks.leader("billing-cron").await, Some(me));
    /// lead.resign();
    /// # });
    /// ```
    pub async fn elect(&self, group: &str, candidate: Pid) -> Result<Leadership, LockError> {
        let id = LockId::new(resource(group), format!("{candidate:?}"));
        let guard = self.set_lock(&id, candidate, FOREVER).await?;
        Ok(Leadership {
            guard,
            group: group.to_string(),
        })
    }

    /// The leader of `group` as this node knows it.
    pub async fn leader(&self, group: &str) -> Option<Pid> {
        self.holders(&resource(group))
            .await
            .and_then(|(_, hs)| hs.first().copied())
    }
}
