//! Registered names across nodes: OTP's `{Name, Node}` for sending, calling and monitoring
//! a process registered (with [`Node::register`](actor_core::Node::register)) on another node.
//!
//! Every node answers `whereis` for its registered names (an rpc served from
//! [`Dist::start`]). A [`RemoteName`] resolves the name on its node, caches the pid, and
//! resolves again when the cached process is gone, so it follows a restarted holder as a
//! registered name does in OTP.

use crate::dist::Dist;
use crate::rpc::RpcError;
use actor_core::{Actor, ActorRef, CallError, Context, Message, MonitorRef, Pid, ReplyTo};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const WHEREIS: &str = "$whereis";

/// Why a call or send to `{Name, Node}` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteNameError {
    /// No process is registered under the name on that node (OTP: `noproc`).
    #[error("no process is registered as {name:?} on {node}")]
    NotRegistered {
        /// The name.
        name: String,
        /// The node.
        node: String,
    },
    /// The name could not be resolved (node down, timeout).
    #[error("cannot resolve {name:?} on {node}: {error}")]
    Resolve {
        /// The name.
        name: String,
        /// The node.
        node: String,
        /// Why.
        error: RpcError,
    },
    /// The holder takes another message type (or cannot be reached with this one).
    #[error("the holder of {name:?} on {node}: {error}")]
    Ref {
        /// The name.
        name: String,
        /// The node.
        node: String,
        /// Why no typed reference.
        error: actor_core::RefError,
    },
    /// A send to the holder failed (its mailbox is full, or the link is down).
    #[error("send to {name:?} on {node} failed: {error}")]
    Send {
        /// The name.
        name: String,
        /// The node.
        node: String,
        /// Why, as text (the message itself is dropped).
        error: String,
    },
    /// The call reached the process and failed.
    #[error("call to {name:?} on {node} failed: {error}")]
    Call {
        /// The name.
        name: String,
        /// The node.
        node: String,
        /// How.
        error: CallError,
    },
}

/// Serves `whereis` for this node's registered names.
pub(crate) fn serve(dist: &Dist) {
    let node = dist.node().clone();
    dist.register_rpc(WHEREIS, move |name: String| {
        let pid = node.whereis(&name);
        async move { pid }
    });
}

impl Dist {
    /// The process registered as `name` on `node` (OTP `rpc:call(Node, erlang, whereis,
    /// [Name])`); this node's own names are answered locally.
    pub async fn whereis_on(&self, node: &str, name: &str) -> Result<Option<Pid>, RpcError> {
        if node == self.name() {
            return Ok(self.node().whereis(name));
        }
        self.call(node, WHEREIS, &name.to_string(), Duration::from_secs(10))
            .await
    }

    /// A handle to whatever process is registered as `name` on `node` (OTP's `{Name, Node}`).
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Message, Node, ReplyTo};
    /// # use actor_dist::{Cookie, Dist, DistConfig};
    /// # use std::time::Duration;
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Ping(u64, ReplyTo<u64>);
    /// impl Message for Ping { const NAME: &'static str = "doc.Ping"; }
    /// struct Echo;
    /// impl Actor for Echo {
    ///     type Msg = Ping;
    ///     async fn handle(&mut self, Ping(n, r): Ping, _: &mut Context<Self>) { r.send(n + 1); }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let cfg = || DistConfig::new(Cookie::new("c").unwrap());
    /// let a = Dist::start(&Node::new("a@127.0.0.1"), cfg()).await.unwrap();
    /// let b = Dist::start(&Node::new("b@127.0.0.1"), cfg()).await.unwrap();
    /// a.register::<Ping>();
    /// b.register::<Ping>();
    /// a.connect(b.name(), b.local_addr()).await.unwrap();
    /// let echo = b.node().spawn(Echo).await.unwrap();
    /// b.node().register("echo", echo.pid()).unwrap();
    /// let remote = a.remote_name::<Ping>(b.name(), "echo");
    /// assert_eq!(remote.call(|r| Ping(1, r), Duration::from_secs(5)).await, Ok(2));
    /// # });
    /// ```
    pub fn remote_name<M: Message>(&self, node: &str, name: &str) -> RemoteName<M> {
        RemoteName {
            inner: Arc::new(Shared {
                dist: self.clone(),
                node: node.to_string(),
                name: name.to_string(),
                cached: Mutex::new(None),
            }),
        }
    }
}

/// A process registered under a name on some node: OTP's `{Name, Node}` (see
/// [`Dist::remote_name`]). Cheap to clone; clones share the cached pid.
pub struct RemoteName<M> {
    inner: Arc<Shared<M>>,
}

struct Shared<M> {
    dist: Dist,
    node: String,
    name: String,
    cached: Mutex<Option<ActorRef<M>>>,
}

impl<M> Clone for RemoteName<M> {
    fn clone(&self) -> Self {
        RemoteName {
            inner: self.inner.clone(),
        }
    }
}

impl<M> std::fmt::Debug for RemoteName<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}, {}}}", self.inner.name, self.inner.node)
    }
}

impl<M: Message> RemoteName<M> {
    fn err_resolve(&self, error: RpcError) -> RemoteNameError {
        RemoteNameError::Resolve {
            name: self.inner.name.clone(),
            node: self.inner.node.clone(),
            error,
        }
    }

    fn not_registered(&self) -> RemoteNameError {
        RemoteNameError::NotRegistered {
            name: self.inner.name.clone(),
            node: self.inner.node.clone(),
        }
    }

    /// Resolves the name now (ignoring the cache) and caches the answer.
    pub async fn resolve(&self) -> Result<ActorRef<M>, RemoteNameError> {
        let s = &self.inner;
        let pid = s
            .dist
            .whereis_on(&s.node, &s.name)
            .await
            .map_err(|e| self.err_resolve(e))?;
        let Some(pid) = pid else {
            s.cached.lock().take();
            return Err(self.not_registered());
        };
        let r = s
            .dist
            .actor_ref::<M>(pid)
            .map_err(|e| RemoteNameError::Call {
                name: s.name.clone(),
                node: s.node.clone(),
                error: CallError::Encode(e.to_string()),
            })?;
        *s.cached.lock() = Some(r.clone());
        Ok(r)
    }

    async fn current(&self) -> Result<ActorRef<M>, RemoteNameError> {
        let cached = self.inner.cached.lock().clone();
        match cached {
            Some(r) => Ok(r),
            None => self.resolve().await,
        }
    }

    /// Sends `msg` to the process registered under the name (OTP `{Name, Node} ! Msg`).
    pub async fn tell(&self, msg: M) -> Result<(), RemoteNameError> {
        let r = self.current().await?;
        let send_err = |e: actor_core::SendError<M>| RemoteNameError::Send {
            name: self.inner.name.clone(),
            node: self.inner.node.clone(),
            error: e.to_string(),
        };
        match r.tell(msg) {
            Ok(()) => Ok(()),
            // The cached process is known gone: resolve again and retry once.
            Err(actor_core::SendError::NoProc(msg)) => {
                let r = self.resolve().await?;
                r.tell(msg).map_err(send_err)
            }
            Err(e) => Err(send_err(e)),
        }
    }

    /// Calls the process registered under the name (OTP `gen_server:call({Name, Node}, ...)`).
    /// If the cached process turns out to be gone (`noproc`), the name is resolved again and
    /// the call made once more: the name may have a new holder.
    pub async fn call<R: Send + 'static>(
        &self,
        make: impl Fn(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, RemoteNameError> {
        let r = self.current().await?;
        let res = match r.call(&make, timeout).await {
            Err(e) if e.is_noproc() => {
                let r = self.resolve().await?;
                r.call(&make, timeout).await
            }
            other => other,
        };
        res.map_err(|error| RemoteNameError::Call {
            name: self.inner.name.clone(),
            node: self.inner.node.clone(),
            error,
        })
    }

    /// Monitors the process registered under the name from the actor behind `ctx` (OTP
    /// `monitor(process, {Name, Node})`): the monitor follows that process. With no process
    /// by that name, the actor gets a `Down` with `noproc` (its `pid` is a placeholder of the
    /// node: id 0).
    pub async fn monitor<A: Actor>(
        &self,
        ctx: &mut Context<A>,
    ) -> Result<MonitorRef, RemoteNameError> {
        match self.resolve().await {
            Ok(r) => Ok(ctx.monitor(r.pid())),
            Err(RemoteNameError::NotRegistered { .. }) => {
                let node = actor_core::NodeId::from_name(&self.inner.node);
                // No process has id 0: the node answers `noproc`.
                Ok(ctx.monitor(Pid {
                    node,
                    id: 0,
                    creation: 0,
                }))
            }
            Err(e) => Err(e),
        }
    }
}
