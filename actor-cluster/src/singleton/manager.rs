//! One node's singleton manager: computes the host from the membership view, takes the lock
//! (and lease) before starting the instance, stops it (exit awaited) before releasing them.

use super::{Shared, SingletonEvent, SingletonStatus, StopCause};
use crate::locks::{LockError, LockGuard, LockId, Locks};
use actor_core::{Actor, ActorRef, Context, ExitReason, ExitWatch, Message, Pid};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What the manager is asked from outside its loop.
pub(crate) enum Cmd {
    /// This node leaves: hand over (stop, release) and never host again; answered when done.
    Leaving(oneshot::Sender<()>),
    /// Stop managing (same as leaving, then the task ends).
    Shutdown(oneshot::Sender<()>),
}

/// Holds the lock for a running instance; traps exits so that `lock_lost` from the lock
/// layer reaches the manager instead of ending it silently.
struct Guardian {
    lost: mpsc::Sender<ExitReason>,
}

impl Actor for Guardian {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(true);
        Ok(())
    }
    async fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::Normal);
    }
    async fn handle_exit(&mut self, _from: Pid, reason: ExitReason, _: &mut Context<Self>) {
        let _ = self.lost.try_send(reason);
    }
}

/// An instance running here, with what fences it.
struct Running<M> {
    instance: ActorRef<M>,
    exit: ExitWatch,
    guardian: ActorRef<()>,
    guardian_exit: ExitWatch,
    lock: LockGuard,
    leased: bool,
    lease_checked: Instant,
}

pub(crate) struct Manager<A: Actor> {
    shared: Arc<Shared<A::Msg>>,
    locks: Locks,
    factory: Box<dyn Fn() -> A + Send + Sync>,
    running: Option<Running<A::Msg>>,
    host: Option<String>,
    leaving: bool,
    not_before: Option<Instant>,
    started: u64,
}

/// What woke the loop.
enum Wake {
    Cmd(Option<Cmd>),
    Exited(ExitReason),
    Lost(ExitReason),
    Other,
}

impl<A: Actor> Manager<A>
where
    A::Msg: Message,
{
    pub(crate) fn new(
        shared: Arc<Shared<A::Msg>>,
        locks: Locks,
        factory: Box<dyn Fn() -> A + Send + Sync>,
    ) -> Self {
        Manager {
            shared,
            locks,
            factory,
            running: None,
            host: None,
            leaving: false,
            not_before: None,
            started: 0,
        }
    }

    fn me(&self) -> &str {
        self.shared.membership.dist().name()
    }

    fn kind(&self) -> String {
        self.shared.cfg.kind.clone()
    }

    pub(crate) async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let m = self.shared.membership.clone();
        let mut quorum = m.quorum().subscribe();
        let mut events = m.subscribe();
        let (lost_tx, mut lost_rx) = mpsc::channel::<ExitReason>(4);
        let mut tick = tokio::time::interval(self.shared.cfg.recheck);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.step(&lost_tx).await;
            let wake = {
                let exit = async {
                    match self.running.as_mut() {
                        Some(r) => (&mut r.exit).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    c = cmds.recv() => Wake::Cmd(c),
                    r = exit => Wake::Exited(r),
                    Some(r) = lost_rx.recv() => Wake::Lost(r),
                    _ = quorum.changed() => Wake::Other,
                    Some(_) = events.recv() => Wake::Other,
                    _ = tick.tick() => Wake::Other,
                }
            };
            match wake {
                Wake::Cmd(Some(Cmd::Leaving(done))) => {
                    self.leaving = true;
                    self.stop(StopCause::Leaving).await;
                    self.publish_status();
                    let _ = done.send(());
                }
                Wake::Cmd(Some(Cmd::Shutdown(done))) => {
                    self.leaving = true;
                    self.stop(StopCause::Shutdown).await;
                    self.publish_status();
                    let _ = done.send(());
                    return;
                }
                Wake::Cmd(None) => {
                    // Every handle is gone: stop the instance, then end.
                    self.stop(StopCause::Shutdown).await;
                    return;
                }
                Wake::Exited(reason) => self.exited(reason).await,
                Wake::Lost(reason) => {
                    tracing::warn!(node = %self.me(), kind = %self.kind(), ?reason, "singleton: lock lost, stopping the instance");
                    self.stop(StopCause::LockLost).await;
                }
                Wake::Other => {}
            }
        }
    }

    fn publish_status(&self) {
        let st = SingletonStatus {
            host: self.host.clone(),
            local: self.running.as_ref().map(|r| r.instance.pid()),
            started: self.started,
        };
        self.shared.status.send_if_modified(|s| {
            let changed = *s != st;
            *s = st;
            changed
        });
    }

    /// Recomputes the host; starts or stops the instance to match.
    async fn step(&mut self, lost: &mpsc::Sender<ExitReason>) {
        let status = self.shared.membership.status();
        let host = self.shared.cfg.host_in(&status);
        if host != self.host {
            tracing::debug!(node = %self.me(), kind = %self.kind(), from = ?self.host, to = ?host, "singleton: host changed");
            self.shared.publish(SingletonEvent::HostChanged {
                kind: self.kind(),
                from: self.host.clone(),
                to: host.clone(),
            });
            self.host = host.clone();
        }
        let here = !self.leaving && host.as_deref() == Some(self.me());
        match (&self.running, here) {
            (Some(_), false) => {
                let cause = if status.quorum == crate::membership::QuorumState::Quorate {
                    StopCause::HandOver
                } else {
                    StopCause::NotQuorate
                };
                self.stop(cause).await;
            }
            (Some(_), true) => self.renew_lease().await,
            (None, true) => {
                if self.not_before.is_none_or(|t| Instant::now() >= t) {
                    self.try_start(lost).await;
                }
            }
            (None, false) => {}
        }
        self.publish_status();
    }

    async fn renew_lease(&mut self) {
        let (Some(lease), Some(r)) = (self.shared.cfg.lease.clone(), self.running.as_mut()) else {
            return;
        };
        if !r.leased || r.lease_checked.elapsed() < self.shared.cfg.lease_check {
            return;
        }
        r.lease_checked = Instant::now();
        let me = self.me().to_string();
        if lease.acquire(&me).await != Ok(true) {
            tracing::warn!(node = %me, kind = %self.kind(), "singleton: lease lost, stopping the instance");
            self.stop(StopCause::LeaseLost).await;
        }
    }

    /// Takes the lock (one attempt), the lease, then starts the instance.
    async fn try_start(&mut self, lost: &mpsc::Sender<ExitReason>) {
        let cfg = &self.shared.cfg;
        let dist = self.shared.membership.dist().clone();
        let node = dist.node().clone();
        let Ok(guardian) = node.spawn(Guardian { lost: lost.clone() }).await else {
            return;
        };
        let guardian_exit = node.wait_exit(guardian.pid());
        let id = LockId::new(
            cfg.lock_resource(),
            format!("{}#{}", self.me(), node.creation()),
        );
        // Bounded as a whole: whatever a server grants after this gives up is freed when the
        // guardian exits.
        let attempt = self.locks.set_lock(&id, guardian.pid(), cfg.lock_attempt);
        let taken = tokio::time::timeout(cfg.lock_attempt * 2, attempt)
            .await
            .unwrap_or(Err(LockError::Timeout));
        let lock = match taken {
            Ok(g) => g,
            Err(e) => {
                if e != LockError::Timeout {
                    tracing::debug!(node = %self.me(), kind = %self.kind(), error = %e, "singleton: lock not taken");
                }
                guardian.stop(ExitReason::Normal);
                guardian_exit.await;
                return;
            }
        };
        // Still the host after waiting for the lock?
        let status = self.shared.membership.status();
        let still = !self.leaving && cfg.host_in(&status).as_deref() == Some(self.me());
        let mut leased = false;
        let mut ok = still;
        if ok {
            if let Some(lease) = &cfg.lease {
                leased = lease.acquire(self.me()).await == Ok(true);
                ok = leased;
            }
        }
        if !ok {
            drop(lock);
            guardian.stop(ExitReason::Normal);
            guardian_exit.await;
            return;
        }
        let (instance, exit) = match node.spawn_monitor((self.factory)()).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(node = %self.me(), kind = %self.kind(), error = %e, "singleton: the instance did not start");
                self.release(lock, guardian, guardian_exit, leased).await;
                self.not_before = Some(Instant::now() + cfg.restart_delay);
                return;
            }
        };
        let pid = instance.pid();
        if let Err(e) = node.register(cfg.instance_name(), pid) {
            tracing::warn!(node = %self.me(), kind = %self.kind(), error = %e, "singleton: name taken");
        }
        self.started += 1;
        *self.shared.local.lock() = Some(instance.clone());
        self.running = Some(Running {
            instance,
            exit,
            guardian,
            guardian_exit,
            lock,
            leased,
            lease_checked: Instant::now(),
        });
        tracing::info!(node = %self.me(), kind = %self.kind(), %pid, "singleton: started here");
        self.shared.publish(SingletonEvent::Started {
            kind: self.kind(),
            pid,
        });
        self.publish_status();
    }

    /// Releases the lock (the guardian's exit frees it on every node) and the lease.
    async fn release(
        &self,
        lock: LockGuard,
        guardian: ActorRef<()>,
        guardian_exit: ExitWatch,
        leased: bool,
    ) {
        drop(lock);
        guardian.stop(ExitReason::Normal);
        guardian_exit.await;
        if leased {
            if let Some(lease) = &self.shared.cfg.lease {
                let _ = lease.release(self.me()).await;
            }
        }
    }

    /// Stops the instance (orderly, killed after the stop timeout), waits for its exit, then
    /// releases the lock and lease, and tells the subscribers.
    async fn stop(&mut self, cause: StopCause) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        *self.shared.local.lock() = None;
        let pid = r.instance.pid();
        let node = self.shared.membership.dist().node().clone();
        r.instance.stop(ExitReason::Shutdown);
        let reason = match tokio::time::timeout(self.shared.cfg.stop_timeout, &mut r.exit).await {
            Ok(reason) => reason,
            Err(_) => {
                node.exit(pid, ExitReason::Kill);
                (&mut r.exit).await
            }
        };
        self.finish(r, pid, reason, cause).await;
    }

    /// The instance exited on its own: release, and start again after the restart delay.
    async fn exited(&mut self, reason: ExitReason) {
        let Some(r) = self.running.take() else {
            return;
        };
        *self.shared.local.lock() = None;
        let pid = r.instance.pid();
        tracing::warn!(node = %self.me(), kind = %self.kind(), %pid, ?reason, "singleton: the instance exited");
        self.not_before = Some(Instant::now() + self.shared.cfg.restart_delay);
        self.finish(r, pid, reason, StopCause::Exited).await;
    }

    async fn finish(&mut self, r: Running<A::Msg>, pid: Pid, reason: ExitReason, cause: StopCause) {
        self.release(r.lock, r.guardian, r.guardian_exit, r.leased)
            .await;
        tracing::info!(node = %self.me(), kind = %self.kind(), %pid, ?cause, "singleton: stopped here");
        self.shared.publish(SingletonEvent::Stopped {
            kind: self.kind(),
            pid,
            reason,
            cause,
        });
        self.publish_status();
    }
}
