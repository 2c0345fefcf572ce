//! Remote spawn: nodes register actor kinds by name; `spawn_on` starts one on another node.

use crate::conn::Conn;
use crate::dist::{Answer, Asked, Dist, Inner};
use crate::events::DownReason;
use crate::message::Message;
use crate::wire::{Frame, RemoteSpawnError};
use actor_core::{Actor, ActorRef, Node, Pid, SpawnOpts};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

type StartFn = dyn Fn(Node, Vec<u8>, Option<Pid>) -> BoxFuture<'static, Result<Pid, RemoteSpawnError>>
    + Send
    + Sync;

/// A registered actor kind.
pub(crate) struct Kind {
    msg_tag: u64,
    msg_name: &'static str,
    start: Box<StartFn>,
}

/// Why `spawn_on` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnOnError {
    /// The remote node refused or failed the spawn.
    #[error(transparent)]
    Remote(#[from] RemoteSpawnError),
    /// The node is down or could not be reached.
    #[error("node down: {0:?}")]
    NodeDown(DownReason),
    /// No answer in time.
    #[error("spawn timed out")]
    Timeout,
    /// The arguments do not encode.
    #[error("arguments do not encode: {0}")]
    Encode(String),
}

/// Options for [`Dist::spawn_on`].
#[derive(Clone, Debug)]
pub struct SpawnOnOpts {
    /// Link the new actor to this pid (usually the caller's own) before it runs.
    pub link: Option<Pid>,
    /// How long to wait for the remote node's answer.
    pub timeout: Duration,
}

impl Default for SpawnOnOpts {
    fn default() -> Self {
        SpawnOnOpts {
            link: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Dist {
    /// Registers an actor kind that other nodes may spawn here by `name`, built from typed
    /// arguments. Its message type is registered too. A node spawns only kinds it registered.
    pub fn register_kind<A, Args>(
        &self,
        name: &str,
        make: impl Fn(Args) -> A + Send + Sync + 'static,
    ) where
        A: Actor,
        A::Msg: Message,
        Args: DeserializeOwned + Send + 'static,
    {
        self.register::<A::Msg>();
        let make = Arc::new(make);
        let start: Box<StartFn> = Box::new(move |node: Node, args: Vec<u8>, link: Option<Pid>| {
            let make = make.clone();
            Box::pin(async move {
                let args: Args = postcard::from_bytes(&args)
                    .map_err(|e| RemoteSpawnError::BadArgs(e.to_string()))?;
                let opts = SpawnOpts {
                    link,
                    ..SpawnOpts::default()
                };
                node.spawn_opts(make(args), opts)
                    .await
                    .map(|r| r.pid())
                    .map_err(|e| match e {
                        actor_core::SpawnError::Init(r) => RemoteSpawnError::Init(r),
                        other => {
                            RemoteSpawnError::Init(actor_core::ExitReason::error(other.to_string()))
                        }
                    })
            })
        });
        let kind = Kind {
            msg_tag: A::Msg::tag(),
            msg_name: A::Msg::NAME,
            start,
        };
        self.inner
            .kinds
            .write()
            .insert(name.to_string(), Arc::new(kind));
    }

    /// Spawns an actor of the registered `kind` on `node`, and returns once it is running and
    /// addressable: it can be sent to, linked and monitored at once.
    pub async fn spawn_on<M: Message, Args: Serialize>(
        &self,
        node: &str,
        kind: &str,
        args: &Args,
        opts: SpawnOnOpts,
    ) -> Result<ActorRef<M>, SpawnOnError> {
        if node == self.name() {
            return self.spawn_here(kind, args, opts).await;
        }
        let args = postcard::to_allocvec(args).map_err(|e| SpawnOnError::Encode(e.to_string()))?;
        let inner = &self.inner;
        let conn = tokio::time::timeout(opts.timeout, inner.conn_up_by_name(node))
            .await
            .map_err(|_| SpawnOnError::Timeout)?
            .map_err(SpawnOnError::NodeDown)?;
        let (req, rx) = inner.expect_answer(conn.peer, Asked::Spawn);
        // Forgotten however this ends (also when the caller drops the future).
        struct Forget<'a>(&'a Inner, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0.forget_answer(self.1);
            }
        }
        let _forget = Forget(inner, req);
        let frame = Frame::Spawn {
            req,
            kind,
            msg_tag: M::tag(),
            args: &args,
            link: opts.link,
        };
        if inner.send_frame(&conn, &frame, true).is_err() {
            return Err(SpawnOnError::NodeDown(DownReason::ConnectionClosed));
        }
        match tokio::time::timeout(opts.timeout, rx).await {
            Ok(Ok(Answer::Spawn(Ok(pid)))) => Ok(inner.remote_ref(pid)),
            Ok(Ok(Answer::Spawn(Err(e)))) => Err(SpawnOnError::Remote(e)),
            Ok(Ok(Answer::Down(r))) => Err(SpawnOnError::NodeDown(r)),
            Ok(Ok(Answer::Rpc(_))) | Ok(Err(_)) => {
                Err(SpawnOnError::NodeDown(DownReason::ConnectionClosed))
            }
            Err(_) => Err(SpawnOnError::Timeout),
        }
    }

    /// Spawns a registered kind on this node (what `spawn_on` does for the local node).
    async fn spawn_here<M: Message, Args: Serialize>(
        &self,
        kind: &str,
        args: &Args,
        opts: SpawnOnOpts,
    ) -> Result<ActorRef<M>, SpawnOnError> {
        let args = postcard::to_allocvec(args).map_err(|e| SpawnOnError::Encode(e.to_string()))?;
        let pid = start_kind(
            &self.inner,
            kind,
            M::tag(),
            std::any::type_name::<M>(),
            args,
            opts.link,
        )
        .await?;
        self.node().actor_ref(pid).map_err(|e| {
            SpawnOnError::Remote(RemoteSpawnError::Init(actor_core::ExitReason::error(
                e.to_string(),
            )))
        })
    }
}

async fn start_kind(
    inner: &Arc<Inner>,
    kind: &str,
    msg_tag: u64,
    expected: &str,
    args: Vec<u8>,
    link: Option<Pid>,
) -> Result<Pid, RemoteSpawnError> {
    let k = inner
        .kinds
        .read()
        .get(kind)
        .cloned()
        .ok_or_else(|| RemoteSpawnError::UnknownKind(kind.to_string()))?;
    if k.msg_tag != msg_tag {
        return Err(RemoteSpawnError::WrongMessageType {
            kind: kind.to_string(),
            expected: expected.to_string(),
            actual: k.msg_name.to_string(),
        });
    }
    (k.start)(inner.node.clone(), args, link).await
}

/// Serves a spawn request from `conn` (in its own task, so the reader keeps going).
pub(crate) fn serve(
    inner: Arc<Inner>,
    conn: Arc<Conn>,
    req: u64,
    kind: String,
    msg_tag: u64,
    args: Vec<u8>,
    link: Option<Pid>,
) {
    tokio::spawn(async move {
        let allowed = inner
            .cfg
            .spawn_allow
            .as_ref()
            .is_none_or(|a| a.allows(&conn.name, &kind));
        let result = if allowed {
            start_kind(
                &inner,
                &kind,
                msg_tag,
                &format!("tag {msg_tag:#x}"),
                args,
                link,
            )
            .await
        } else {
            inner.refused_request(&conn, "spawn", &kind);
            Err(RemoteSpawnError::NotAllowed(kind.clone()))
        };
        if let Err(e) = &result {
            tracing::warn!(peer = %conn.name, %kind, error = %e, "remote spawn refused");
        }
        let _ = inner.send_frame(&conn, &Frame::SpawnResult { req, result }, true);
    });
}

impl Dist {
    /// The least loaded of `nodes` (this node included if listed), by mailbox backlog, then
    /// live actors, from the load reports nodes send every second (this node's own too:
    /// [`reported_load`](Dist::reported_load), as old as the others). Nodes with no report
    /// yet count as unloaded only if connected; unknown nodes are skipped.
    pub fn least_loaded(&self, nodes: &[String]) -> Option<String> {
        let loads = self.loads();
        nodes
            .iter()
            .filter_map(|n| {
                let l = if n == self.name() {
                    Some(self.reported_load())
                } else {
                    loads.get(n).copied()
                };
                l.map(|l| (n, l))
            })
            .min_by_key(|(n, l)| (l.backlog, l.actors, (*n).clone()))
            .map(|(n, _)| n.clone())
    }

    /// Spawns `kind` on the least loaded node of the cluster (this node and every visible
    /// connected node).
    pub async fn spawn_on_least_loaded<M: Message, Args: Serialize>(
        &self,
        kind: &str,
        args: &Args,
        opts: SpawnOnOpts,
    ) -> Result<ActorRef<M>, SpawnOnError> {
        let mut candidates = self.nodes();
        candidates.push(self.name().to_string());
        let target = self
            .least_loaded(&candidates)
            .unwrap_or_else(|| self.name().to_string());
        self.spawn_on(&target, kind, args, opts).await
    }
}

impl Dist {
    /// Spawns `kind` on `node` and monitors it from the calling actor (OTP
    /// `spawn_monitor/4` on a remote node): a [`Down`](actor_core::Down) with the returned
    /// reference arrives when it exits. The monitor is set as soon as the spawn returns; if
    /// the actor died in that instant, the `Down` says `noproc`.
    pub async fn spawn_monitor_on<A: Actor, M: Message, Args: Serialize>(
        &self,
        ctx: &mut actor_core::Context<A>,
        node: &str,
        kind: &str,
        args: &Args,
        opts: SpawnOnOpts,
    ) -> Result<(ActorRef<M>, actor_core::MonitorRef), SpawnOnError> {
        let r = self.spawn_on::<M, Args>(node, kind, args, opts).await?;
        let mref = ctx.monitor(r.pid());
        Ok((r, mref))
    }
}
