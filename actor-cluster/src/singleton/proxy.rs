//! [`SingletonRef`]: reaching the current instance from any node (Akka's
//! `ClusterSingletonProxy`), waiting a bounded time during a hand-over.

use super::{Shared, SingletonError};
use actor_core::{ActorRef, CallError, Message, ReplyTo, SendError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// First pause between two resolutions while waiting; doubled up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// The host and instance last resolved.
type Cached<M> = Option<(String, ActorRef<M>)>;

/// A handle to the current instance of a singleton kind, usable from any node that runs a
/// [`Singleton`](super::Singleton) of the kind. Cheap to clone (clones share the cache and
/// the bound on waiting callers). See the [module docs](super) for what waits and what fails.
pub struct SingletonRef<M> {
    shared: Arc<Shared<M>>,
    cached: Arc<Mutex<Cached<M>>>,
    waiting: Arc<Semaphore>,
}

impl<M> Clone for SingletonRef<M> {
    fn clone(&self) -> Self {
        SingletonRef {
            shared: self.shared.clone(),
            cached: self.cached.clone(),
            waiting: self.waiting.clone(),
        }
    }
}

impl<M> std::fmt::Debug for SingletonRef<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SingletonRef({})", self.shared.cfg.kind)
    }
}

/// Why one resolution found nothing.
enum Miss {
    /// No host, or the host has no instance registered: wait and try again.
    Retry,
}

impl<M: Message> SingletonRef<M> {
    pub(crate) fn new(shared: Arc<Shared<M>>) -> Self {
        let max = shared.cfg.max_waiting.max(1);
        SingletonRef {
            shared,
            cached: Arc::new(Mutex::new(None)),
            waiting: Arc::new(Semaphore::new(max)),
        }
    }

    fn kind(&self) -> String {
        self.shared.cfg.kind.clone()
    }

    fn host(&self) -> Option<String> {
        self.shared.status.borrow().host.clone()
    }

    /// The instance now, from the cache while the host is unchanged; `None` if none is known.
    async fn resolve(&self) -> Result<ActorRef<M>, Miss> {
        let host = self.host().ok_or(Miss::Retry)?;
        if let Some((h, r)) = self.cached.lock().clone() {
            if h == host && (!r.is_local() || r.is_alive()) {
                return Ok(r);
            }
        }
        let dist = self.shared.membership.dist();
        let r = if host == dist.name() {
            self.shared.local.lock().clone().ok_or(Miss::Retry)?
        } else {
            let pid = dist
                .whereis_on(&host, &self.shared.cfg.instance_name())
                .await
                .ok()
                .flatten()
                .ok_or(Miss::Retry)?;
            dist.actor_ref::<M>(pid).map_err(|_| Miss::Retry)?
        };
        *self.cached.lock() = Some((host, r.clone()));
        Ok(r)
    }

    fn forget(&self, r: &ActorRef<M>) {
        let mut c = self.cached.lock();
        if c.as_ref().is_some_and(|(_, x)| x.pid() == r.pid()) {
            *c = None;
        }
    }

    /// Waits (bounded) until an instance resolves.
    async fn instance(
        &self,
        deadline: Instant,
        t0: Instant,
    ) -> Result<ActorRef<M>, SingletonError> {
        if let Ok(r) = self.resolve().await {
            return Ok(r);
        }
        let _permit = self
            .waiting
            .try_acquire()
            .map_err(|_| SingletonError::Busy { kind: self.kind() })?;
        let mut pause = FIRST_PAUSE;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(SingletonError::NoInstance {
                    kind: self.kind(),
                    waited: now - t0,
                    host: self.host(),
                });
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_PAUSE);
            if let Ok(r) = self.resolve().await {
                return Ok(r);
            }
        }
    }

    /// Sends `msg` to the instance without waiting: fails at once with
    /// [`SingletonError::NoInstance`] when no instance is known right now (during a hand-over).
    pub fn try_tell(&self, msg: M) -> Result<(), SingletonError> {
        let host = self.host();
        let cached = self.cached.lock().clone();
        let r = match cached {
            Some((h, r)) if Some(&h) == host.as_ref() => r,
            _ if host.as_deref() == Some(self.shared.membership.dist().name()) => {
                match self.shared.local.lock().clone() {
                    Some(r) => r,
                    None => {
                        return Err(SingletonError::NoInstance {
                            kind: self.kind(),
                            waited: Duration::ZERO,
                            host,
                        })
                    }
                }
            }
            _ => {
                return Err(SingletonError::NoInstance {
                    kind: self.kind(),
                    waited: Duration::ZERO,
                    host,
                })
            }
        };
        r.tell(msg).map_err(|e| self.send_err(e))
    }

    fn send_err(&self, e: SendError<M>) -> SingletonError {
        SingletonError::Send {
            kind: self.kind(),
            error: e.to_string(),
        }
    }

    /// Sends `msg` to the instance, waiting up to the hand-over wait for one to exist. A
    /// message to an instance found gone (`noproc`) is sent again to the next one.
    pub async fn tell(&self, msg: M) -> Result<(), SingletonError> {
        let t0 = Instant::now();
        let deadline = t0 + self.shared.cfg.handover_wait;
        let mut msg = msg;
        loop {
            let r = self.instance(deadline, t0).await?;
            match r.tell(msg) {
                Ok(()) => return Ok(()),
                Err(SendError::NoProc(m)) => {
                    self.forget(&r);
                    msg = m;
                }
                Err(e) => return Err(self.send_err(e)),
            }
        }
    }

    /// Like [`tell`](SingletonRef::tell), waiting for room when the instance's mailbox is
    /// bounded and full (or the connection's outbound buffer is).
    pub async fn send(&self, msg: M) -> Result<(), SingletonError> {
        let t0 = Instant::now();
        let deadline = t0 + self.shared.cfg.handover_wait;
        let mut msg = msg;
        loop {
            let r = self.instance(deadline, t0).await?;
            match r.send(msg).await {
                Ok(()) => return Ok(()),
                Err(SendError::NoProc(m)) => {
                    self.forget(&r);
                    msg = m;
                }
                Err(e) => return Err(self.send_err(e)),
            }
        }
    }

    /// Calls the instance: waits up to the hand-over wait for one, then up to `timeout` for
    /// the answer. Retried on the next instance only when the one called did not exist
    /// (`noproc`); a node-down or a timeout is returned.
    pub async fn call<R: Send + 'static>(
        &self,
        make: impl Fn(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, SingletonError> {
        let t0 = Instant::now();
        let deadline = t0 + self.shared.cfg.handover_wait;
        loop {
            let r = self.instance(deadline, t0).await?;
            match r.call(&make, timeout).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_noproc() => self.forget(&r),
                Err(error) => {
                    if matches!(error, CallError::NodeDown(_)) {
                        self.forget(&r);
                    }
                    return Err(SingletonError::Call {
                        kind: self.kind(),
                        error,
                    });
                }
            }
        }
    }
}
