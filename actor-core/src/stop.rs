//! Watching exits from outside any actor ([`ExitWatch`], [`Node::wait_exit`],
//! [`Node::spawn_monitor`]) and the orderly node stop ([`Node::shutdown_graceful`], OTP's
//! `init:stop/0`).

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::error::SpawnError;
use crate::exit::ExitReason;
use crate::node::{Node, SpawnOpts};
use crate::pid::Pid;
use crate::process::Process;
use std::sync::Arc;
use std::time::Duration;

/// A future that resolves to a process's exit reason once it has exited and its links and
/// monitors have fired ([`Node::wait_exit`], [`Node::spawn_monitor`]). It keeps the process's
/// small shared cell alive while held, nothing more.
pub struct ExitWatch {
    pub(crate) target: Option<Arc<dyn Process>>,
}

impl std::fmt::Debug for ExitWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.target {
            Some(p) => write!(f, "ExitWatch({})", p.core().pid),
            None => f.write_str("ExitWatch(noproc)"),
        }
    }
}

impl std::future::Future for ExitWatch {
    type Output = ExitReason;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<ExitReason> {
        match &self.target {
            None => std::task::Poll::Ready(ExitReason::NoProc),
            Some(p) => p.core().poll_exited(cx),
        }
    }
}

impl Node {
    /// Waits until the local process `pid` has exited and its links and monitors have fired,
    /// and returns its reason (`noproc` at once if it is not alive). A monitor for code that
    /// is not an actor; it allocates nothing.
    pub fn wait_exit(&self, pid: Pid) -> ExitWatch {
        ExitWatch {
            target: self.lookup(pid),
        }
    }

    /// Spawns `actor` and watches it from code that is not an actor (a driver, a test): the
    /// [`ExitWatch`] is in place before the actor runs, so its reason is never missed, however
    /// soon it exits (OTP `spawn_monitor/1` for a caller outside any process).
    ///
    /// ```
    /// # use actor_core::{Actor, Context, ExitReason, Node};
    /// struct Once;
    /// impl Actor for Once {
    ///     type Msg = ();
    ///     async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
    ///         ctx.stop(ExitReason::error("done at once"));
    ///         Ok(())
    ///     }
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("w@localhost");
    /// let (_once, exit) = node.spawn_monitor(Once).await.unwrap();
    /// assert_eq!(exit.await, ExitReason::error("done at once"));
    /// # });
    /// ```
    pub async fn spawn_monitor<A: Actor>(
        &self,
        actor: A,
    ) -> Result<(ActorRef<A::Msg>, ExitWatch), SpawnError> {
        self.spawn_monitor_opts(actor, SpawnOpts::default()).await
    }

    /// [`spawn_monitor`](Node::spawn_monitor) with options.
    pub async fn spawn_monitor_opts<A: Actor>(
        &self,
        actor: A,
        opts: SpawnOpts,
    ) -> Result<(ActorRef<A::Msg>, ExitWatch), SpawnError> {
        let r = self.spawn_monitored(actor, opts, None).await?;
        let watch = ExitWatch {
            target: r.process(),
        };
        Ok((r, watch))
    }

    /// Stops the node in order (OTP `init:stop/0`): the actors started without a parent
    /// (top-level supervisors and actors) are asked to stop with `shutdown`, one at a time in
    /// reverse start order, each after the messages already queued for it, so their `stopped`
    /// hooks run and supervisors stop their children with each child's shutdown policy. Then
    /// whatever is left is ended with `shutdown`, and distribution stops (peers see the node
    /// go down). `limit` bounds the whole: an actor still running when it is reached is killed.
    ///
    /// Returns the number of processes that had to be killed because the limit was reached
    /// (0 after a clean stop). The node
    /// value stays usable afterwards, for local actors only.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, ExitReason, Node};
    /// # use std::time::Duration;
    /// struct Service;
    /// impl Actor for Service {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    ///     async fn stopped(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
    ///         assert_eq!(*reason, ExitReason::Shutdown);
    ///     }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("s@localhost");
    /// node.spawn(Service).await.unwrap();
    /// assert_eq!(node.shutdown_graceful(Duration::from_secs(5)).await, 0);
    /// assert_eq!(node.process_count(), 0);
    /// # });
    /// ```
    pub async fn shutdown_graceful(&self, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        let mut top: Vec<Arc<dyn Process>> = self
            .inner
            .table
            .snapshot()
            .into_iter()
            .filter(|p| p.core().top_level)
            .collect();
        top.sort_by_key(|p| std::cmp::Reverse(p.core().pid.id));
        for p in top {
            let watch = ExitWatch {
                target: Some(p.clone()),
            };
            p.request_stop(ExitReason::Shutdown);
            if tokio::time::timeout_at(deadline, watch).await.is_err() {
                tracing::warn!(pid = %p.core().pid, ?limit, "node stop: did not stop in time");
                break;
            }
        }
        // What is left: past the limit, killed; otherwise processes whose parent outlived
        // them (spawned with a parent but not linked), ended with `shutdown`.
        let late = tokio::time::Instant::now() >= deadline;
        let reason = if late {
            ExitReason::Killed
        } else {
            ExitReason::Shutdown
        };
        let mut killed = 0;
        let mut watches = Vec::new();
        for p in self.inner.table.snapshot() {
            if p.core().decide_exit(reason.clone(), true).1 && late {
                killed += 1;
            }
            watches.push(ExitWatch { target: Some(p) });
        }
        // Aborted tasks end at their next poll: this wait is short.
        futures::future::join_all(watches).await;
        let dist = self.distribution();
        if let Some(d) = dist {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            d.shutdown(left.max(Duration::from_millis(100))).await;
        }
        killed
    }
}
