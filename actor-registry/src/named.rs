//! Calling an actor by its name: [`NamedRef<M>`], OTP's `{via, Module, Name}`.
//!
//! A `NamedRef` holds a key, not a pid. Every use resolves the key in the registry (one shard
//! read), so it keeps working across restarts of the holder: when a supervisor restarts the
//! child and the child registers the name again, the next call reaches the new one. The typed
//! reference to the current holder is cached and reused while the name still points at the same
//! pid, so a call by name costs one lookup more than a call by reference.

use crate::key::Key;
use crate::registry::Registry;
use actor_core::{
    Actor, ActorRef, CallError, Context, MonitorRef, Pid, RefError, ReplyTo, SendError,
};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

type Resolve<M> = dyn Fn(Pid) -> Result<ActorRef<M>, RefError> + Send + Sync;

/// A typed handle to whoever holds a unique name: resolved at each use, cached while the
/// holder stays the same. Cheap to clone (clones share the cache).
///
/// ```
/// use actor_core::{Actor, Context, ExitReason, Node, ReplyTo};
/// use actor_registry::{Kind, NamedError, Registry};
/// use std::time::Duration;
///
/// struct Account(u64);
/// enum Msg { Balance(ReplyTo<u64>) }
/// impl Actor for Account {
///     type Msg = Msg;
///     async fn handle(&mut self, Msg::Balance(r): Msg, _: &mut Context<Self>) { r.send(self.0); }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let node = Node::new("via@localhost");
/// let reg = Registry::new(&node);
/// let billing = reg.via::<Msg>(("account", 7));
/// let t = Duration::from_secs(1);
/// // No holder yet: the call fails at once, naming the key.
/// assert!(matches!(billing.call(Msg::Balance, t).await, Err(NamedError::NotRegistered(_))));
///
/// let a = node.spawn(Account(10)).await.unwrap();
/// reg.register(Kind::Name, ("account", 7), a.pid(), ()).unwrap();
/// assert_eq!(billing.call(Msg::Balance, t).await, Ok(10));
///
/// // The holder is replaced: the same handle reaches the new one.
/// a.stop(ExitReason::Normal);
/// node.wait_exit(a.pid()).await;
/// let b = node.spawn(Account(20)).await.unwrap();
/// reg.register(Kind::Name, ("account", 7), b.pid(), ()).unwrap();
/// assert_eq!(billing.call(Msg::Balance, t).await, Ok(20));
/// # });
/// ```
pub struct NamedRef<M> {
    inner: Arc<Shared<M>>,
}

struct Shared<M> {
    key: Key,
    reg: Registry,
    resolve: Box<Resolve<M>>,
    cached: Mutex<Option<ActorRef<M>>>,
}

impl<M> Clone for NamedRef<M> {
    fn clone(&self) -> Self {
        NamedRef {
            inner: self.inner.clone(),
        }
    }
}

impl<M> fmt::Debug for NamedRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NamedRef({:?})", self.inner.key)
    }
}

/// Why a call or send by name failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamedError {
    /// No process holds the name (OTP exits with `{noproc, ...}` here; this is a value).
    #[error("no process is registered as {0:?}")]
    NotRegistered(Key),
    /// The holder takes another message type, or cannot be reached with one.
    #[error("the holder of {key:?} cannot take this message type: {error}")]
    Ref {
        /// The name.
        key: Key,
        /// Why the holder's pid gave no typed reference.
        error: RefError,
    },
    /// The call reached the holder and failed (it exited, timed out, ...).
    #[error("call to {key:?} failed: {error}")]
    Call {
        /// The name.
        key: Key,
        /// How it failed.
        error: CallError,
    },
}

/// Why a `tell` or `send` by name failed; the message is handed back.
pub enum NamedSendError<M> {
    /// No process holds the name.
    NotRegistered(Key, M),
    /// The holder takes another message type.
    Ref(Key, RefError, M),
    /// The holder did not take it (dead by now, mailbox full, node unreachable).
    Send(Key, SendError<M>),
}

impl<M> NamedSendError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            NamedSendError::NotRegistered(_, m) | NamedSendError::Ref(_, _, m) => m,
            NamedSendError::Send(_, e) => e.into_inner(),
        }
    }
}

impl<M> fmt::Debug for NamedSendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<M> fmt::Display for NamedSendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamedSendError::NotRegistered(k, _) => write!(f, "no process is registered as {k:?}"),
            NamedSendError::Ref(k, e, _) => write!(f, "the holder of {k:?}: {e}"),
            NamedSendError::Send(k, e) => write!(f, "send to {k:?}: {e}"),
        }
    }
}

impl<M> std::error::Error for NamedSendError<M> {}

impl<M: Send + 'static> NamedRef<M> {
    pub(crate) fn new(
        reg: Registry,
        key: Key,
        resolve: impl Fn(Pid) -> Result<ActorRef<M>, RefError> + Send + Sync + 'static,
    ) -> Self {
        NamedRef {
            inner: Arc::new(Shared {
                key,
                reg,
                resolve: Box::new(resolve),
                cached: Mutex::new(None),
            }),
        }
    }

    /// The name.
    pub fn key(&self) -> &Key {
        &self.inner.key
    }

    /// The current holder's pid, if any.
    pub fn whereis(&self) -> Option<Pid> {
        self.inner.reg.where_(&self.inner.key)
    }

    /// A typed reference to the current holder: the cached one while the name still points
    /// at its pid, else a fresh one (cached for next time).
    pub fn resolve(&self) -> Result<ActorRef<M>, NamedError> {
        let key = &self.inner.key;
        let Some(pid) = self.inner.reg.where_(key) else {
            // The holder is gone: drop the cached reference with it.
            self.inner.cached.lock().take();
            return Err(NamedError::NotRegistered(key.clone()));
        };
        let mut cached = self.inner.cached.lock();
        if let Some(r) = cached.as_ref() {
            if r.pid() == pid {
                return Ok(r.clone());
            }
        }
        let r = (self.inner.resolve)(pid).map_err(|error| NamedError::Ref {
            key: key.clone(),
            error,
        })?;
        *cached = Some(r.clone());
        Ok(r)
    }

    /// Sends `msg` to the current holder without waiting.
    pub fn tell(&self, msg: M) -> Result<(), NamedSendError<M>> {
        match self.resolve() {
            Ok(r) => r
                .tell(msg)
                .map_err(|e| NamedSendError::Send(self.inner.key.clone(), e)),
            Err(e) => Err(self.send_error(e, msg)),
        }
    }

    /// Sends `msg` to the current holder, waiting for room in a bounded mailbox.
    pub async fn send(&self, msg: M) -> Result<(), NamedSendError<M>> {
        match self.resolve() {
            Ok(r) => r
                .send(msg)
                .await
                .map_err(|e| NamedSendError::Send(self.inner.key.clone(), e)),
            Err(e) => Err(self.send_error(e, msg)),
        }
    }

    fn send_error(&self, e: NamedError, msg: M) -> NamedSendError<M> {
        match e {
            NamedError::Ref { key, error } => NamedSendError::Ref(key, error, msg),
            _ => NamedSendError::NotRegistered(self.inner.key.clone(), msg),
        }
    }

    /// Calls the current holder (OTP `gen_server:call({via, Module, Name}, ...)`). With no
    /// holder it fails at once with [`NamedError::NotRegistered`].
    pub async fn call<R: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, NamedError> {
        let r = self.resolve()?;
        r.call(make, timeout)
            .await
            .map_err(|error| NamedError::Call {
                key: self.inner.key.clone(),
                error,
            })
    }

    /// Like [`call`](NamedRef::call), but with no holder it waits for one to register (as
    /// [`Registry::await_name`]), all within `timeout`.
    pub async fn call_await<R: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, NamedError> {
        let deadline = Instant::now() + timeout;
        let r = match self.resolve() {
            Err(NamedError::NotRegistered(_)) => {
                self.inner
                    .reg
                    .await_name(self.inner.key.clone(), timeout)
                    .await
                    .map_err(|_| NamedError::Call {
                        key: self.inner.key.clone(),
                        error: CallError::Timeout,
                    })?;
                self.resolve()?
            }
            other => other?,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        r.call(make, left).await.map_err(|error| NamedError::Call {
            key: self.inner.key.clone(),
            error,
        })
    }

    /// Monitors the current holder from the actor behind `ctx` (OTP `monitor(process,
    /// {via, ...})` watches the process the name points at now, not the name).
    pub fn monitor<A: Actor>(&self, ctx: &mut Context<A>) -> Result<MonitorRef, NamedError> {
        let pid = self
            .whereis()
            .ok_or_else(|| NamedError::NotRegistered(self.inner.key.clone()))?;
        Ok(ctx.monitor(pid))
    }
}

impl Registry {
    /// Ties a supervisor's child to the name `key`: at every (re)start, once the child is up,
    /// its pid is registered under `key` in this scope (a taken name fails the start, as OTP's
    /// `start_link({via, ...})` does with `{already_started, Pid}`). The name goes as part of
    /// the child's exit, so the restart finds it free; no code in the child.
    ///
    /// ```
    /// use actor_core::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
    /// use actor_core::{Actor, Context, Node, ReplyTo};
    /// use actor_registry::Registry;
    /// use std::time::Duration;
    ///
    /// struct Pong;
    /// impl Actor for Pong {
    ///     type Msg = ReplyTo<&'static str>;
    ///     async fn handle(&mut self, r: Self::Msg, _: &mut Context<Self>) { r.send("pong"); }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("named@localhost");
    /// let reg = Registry::new(&node);
    /// let spec = SupervisorSpec::new(Strategy::OneForOne)
    ///     .child(reg.named_child("pong", ChildSpec::worker("pong", || Pong)));
    /// let _sup = Supervisor::start(&node, spec).await.unwrap();
    /// let pong = reg.via::<ReplyTo<&'static str>>("pong");
    /// assert_eq!(pong.call(|r| r, Duration::from_secs(1)).await, Ok("pong"));
    /// # });
    /// ```
    pub fn named_child(
        &self,
        key: impl Into<Key>,
        spec: actor_core::supervisor::ChildSpec,
    ) -> actor_core::supervisor::ChildSpec {
        let reg = self.clone();
        let key = key.into();
        spec.after_start(move |_, pid| {
            reg.register(crate::Kind::Name, key.clone(), pid, ())
                .map_err(|e| actor_core::ExitReason::error(e.to_string()))
        })
    }

    /// A typed handle that reaches whoever holds the name `key` in this scope (local pids).
    /// For names that may be held on other nodes, use [`GlobalRegistry::via`](crate::GlobalRegistry::via).
    pub fn via<M: Send + 'static>(&self, key: impl Into<Key>) -> NamedRef<M> {
        let node = self.node().clone();
        NamedRef::new(self.clone(), key.into(), move |pid| {
            node.actor_ref::<M>(pid)
        })
    }
}

impl crate::GlobalRegistry {
    /// A typed handle that reaches whoever holds the global name `key`, on any node (the
    /// message type must cross nodes: [`actor_dist::Message`], registered on the holder's
    /// node).
    pub fn via<M: actor_dist::Message>(&self, key: impl Into<Key>) -> NamedRef<M> {
        let dist = self.dist().clone();
        NamedRef::new(self.registry().clone(), key.into(), move |pid| {
            dist.actor_ref::<M>(pid)
        })
    }
}
