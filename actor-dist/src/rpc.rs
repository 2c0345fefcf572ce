//! rpc: functions registered by name, called from other nodes (OTP `rpc`/`erpc`).
//!
//! A call made inside a `tracing` span carries its trace context, and the function runs in
//! a span whose parent is the caller's (see [`crate::trace`]).

use crate::conn::Conn;
use crate::dist::{Answer, Asked, Dist, Inner};
use crate::events::DownReason;
use crate::wire::{Frame, RpcFailure};
use actor_core::TraceContext;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::Instrument;

pub(crate) type RpcFn =
    Arc<dyn Fn(Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, RpcFailure>> + Send + Sync>;

/// Why an rpc failed. Typed, as in `erpc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// No answer in time.
    #[error("rpc timed out")]
    Timeout,
    /// The node is down or could not be reached.
    #[error("node down: {0:?}")]
    NodeDown(DownReason),
    /// The node has no function by that name.
    #[error("no such function {0:?}")]
    NoSuchFunction(String),
    /// The arguments or the result do not decode.
    #[error("decode error: {0}")]
    Decode(String),
    /// The function panicked on the remote node (which survived).
    #[error("remote panic: {0}")]
    RemotePanic(String),
    /// The remote node's allow-list does not let this node call the function.
    #[error("calling {0:?} is not allowed")]
    NotAllowed(String),
}

impl From<RpcFailure> for RpcError {
    fn from(f: RpcFailure) -> Self {
        match f {
            RpcFailure::NoSuchFunction(n) => RpcError::NoSuchFunction(n),
            RpcFailure::BadArgs(e) => RpcError::Decode(e),
            RpcFailure::Panic(m) => RpcError::RemotePanic(m),
            RpcFailure::NotAllowed(f) => RpcError::NotAllowed(f),
        }
    }
}

/// Results of a [`Dist::multicall`]: per-node results, and the nodes that did not answer
/// (down or timed out), as OTP's `{ResL, BadNodes}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multicall<R> {
    /// `(node, result)` for every node that answered, including with an error.
    pub results: Vec<(String, Result<R, RpcError>)>,
    /// Nodes that were down or did not answer in time.
    pub bad_nodes: Vec<String>,
}

/// A call in flight, from [`Dist::async_call`] (OTP `rpc:async_call/4`).
pub struct RpcHandle<R> {
    rx: oneshot::Receiver<Result<R, RpcError>>,
    done: Option<Result<R, RpcError>>,
}

impl<R> RpcHandle<R> {
    /// Waits for the result (OTP `rpc:yield/1`).
    pub async fn yield_(self) -> Result<R, RpcError> {
        if let Some(r) = self.done {
            return r;
        }
        self.rx.await.unwrap_or(Err(RpcError::Timeout))
    }

    /// Waits at most `timeout`; `None` if the result is not there yet (OTP `rpc:nb_yield/2`).
    /// The handle stays usable after `None`.
    pub async fn nb_yield(&mut self, timeout: Duration) -> Option<Result<R, RpcError>>
    where
        R: Clone,
    {
        if let Some(r) = &self.done {
            return Some(r.clone());
        }
        match tokio::time::timeout(timeout, &mut self.rx).await {
            Ok(r) => {
                let r = r.unwrap_or(Err(RpcError::Timeout));
                self.done = Some(r.clone());
                Some(r)
            }
            Err(_) => None,
        }
    }
}

impl Dist {
    /// Registers `f` under `name`, callable from other nodes with [`Dist::call`].
    pub fn register_rpc<A, R, F, Fut>(&self, name: &str, f: F)
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let f = Arc::new(f);
        let func: RpcFn = Arc::new(move |args: Vec<u8>| {
            let f = f.clone();
            Box::pin(async move {
                let args: A =
                    postcard::from_bytes(&args).map_err(|e| RpcFailure::BadArgs(e.to_string()))?;
                let out = AssertUnwindSafe(async move { f(args).await })
                    .catch_unwind()
                    .await
                    .map_err(|p| RpcFailure::Panic(panic_text(&*p)))?;
                postcard::to_allocvec(&out).map_err(|e| RpcFailure::BadArgs(e.to_string()))
            })
        });
        self.inner.funcs.write().insert(name.to_string(), func);
    }

    /// Calls `func` on `node` and waits for the result, at most `timeout` (OTP `erpc:call`).
    pub async fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        node: &str,
        func: &str,
        args: &A,
        timeout: Duration,
    ) -> Result<R, RpcError> {
        let args = postcard::to_allocvec(args).map_err(|e| RpcError::Decode(e.to_string()))?;
        let bytes = if node == self.name() {
            tokio::time::timeout(timeout, run_local(&self.inner, func, args))
                .await
                .map_err(|_| RpcError::Timeout)??
        } else {
            tokio::time::timeout(timeout, call_remote(&self.inner, node, func, args))
                .await
                .map_err(|_| RpcError::Timeout)??
        };
        postcard::from_bytes(&bytes).map_err(|e| RpcError::Decode(e.to_string()))
    }

    /// Runs `func` on `node` without waiting for a result (OTP `rpc:cast`). Returns `false`
    /// if the node cannot be reached.
    pub async fn cast<A: Serialize>(&self, node: &str, func: &str, args: &A) -> bool {
        let Ok(args) = postcard::to_allocvec(args) else {
            return false;
        };
        if node == self.name() {
            let inner = self.inner.clone();
            let func = func.to_string();
            tokio::spawn(async move { run_local(&inner, &func, args).await });
            return true;
        }
        match self.inner.conn_up_by_name(node).await {
            Ok(conn) => self
                .inner
                .send_frame(&conn, &rpc_frame(&self.inner, &conn, 0, func, &args), true)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Calls `func` on every node in `nodes` concurrently (OTP `rpc:multicall`).
    pub async fn multicall<A: Serialize, R: DeserializeOwned>(
        &self,
        nodes: &[String],
        func: &str,
        args: &A,
        timeout: Duration,
    ) -> Multicall<R> {
        let calls = nodes
            .iter()
            .map(|n| async move { (n.clone(), self.call::<A, R>(n, func, args, timeout).await) });
        let mut out = Multicall {
            results: Vec::new(),
            bad_nodes: Vec::new(),
        };
        for (node, res) in futures::future::join_all(calls).await {
            match res {
                Err(RpcError::NodeDown(_)) | Err(RpcError::Timeout) => out.bad_nodes.push(node),
                other => out.results.push((node, other)),
            }
        }
        out
    }

    /// Starts a call and returns a handle to collect it later (OTP `rpc:async_call`).
    pub fn async_call<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        node: &str,
        func: &str,
        args: &A,
        timeout: Duration,
    ) -> RpcHandle<R> {
        let (tx, rx) = oneshot::channel();
        let dist = self.clone();
        let node = node.to_string();
        let func = func.to_string();
        match postcard::to_allocvec(args) {
            Ok(bytes) => {
                let work = async move {
                    let res = dist.call_bytes::<R>(&node, &func, bytes, timeout).await;
                    let _ = tx.send(res);
                };
                // The caller's span goes with the call (its trace context, if remote).
                tokio::spawn(work.instrument(tracing::Span::current()));
            }
            Err(e) => {
                let _ = tx.send(Err(RpcError::Decode(e.to_string())));
            }
        }
        RpcHandle { rx, done: None }
    }

    async fn call_bytes<R: DeserializeOwned>(
        &self,
        node: &str,
        func: &str,
        args: Vec<u8>,
        timeout: Duration,
    ) -> Result<R, RpcError> {
        let fut = async {
            if node == self.name() {
                run_local(&self.inner, func, args).await
            } else {
                call_remote(&self.inner, node, func, args).await
            }
        };
        let bytes = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| RpcError::Timeout)??;
        postcard::from_bytes(&bytes).map_err(|e| RpcError::Decode(e.to_string()))
    }
}

async fn call_remote(
    inner: &Arc<Inner>,
    node: &str,
    func: &str,
    args: Vec<u8>,
) -> Result<Vec<u8>, RpcError> {
    let conn = inner
        .conn_up_by_name(node)
        .await
        .map_err(RpcError::NodeDown)?;
    let (req, rx) = inner.expect_answer(conn.peer, Asked::Rpc);
    struct Forget<'a>(&'a Inner, u64);
    impl Drop for Forget<'_> {
        fn drop(&mut self) {
            self.0.forget_answer(self.1);
        }
    }
    let _forget = Forget(inner, req);
    let frame = rpc_frame(inner, &conn, req, func, &args);
    if inner.send_frame(&conn, &frame, true).is_err() {
        return Err(RpcError::NodeDown(DownReason::ConnectionClosed));
    }
    match rx.await {
        Ok(Answer::Rpc(r)) => r.map_err(RpcError::from),
        Ok(Answer::Down(r)) => Err(RpcError::NodeDown(r)),
        Ok(Answer::Spawn(_)) | Err(_) => Err(RpcError::NodeDown(DownReason::ConnectionClosed)),
    }
}

/// The frame of an rpc: [`Frame::TracedRpc`] inside a span, to a peer that takes it.
fn rpc_frame<'a>(inner: &Inner, conn: &Conn, req: u64, func: &'a str, args: &'a [u8]) -> Frame<'a> {
    match inner.outgoing_trace(conn, func) {
        Some(trace) => Frame::TracedRpc {
            req,
            func,
            args,
            trace,
        },
        None => Frame::Rpc { req, func, args },
    }
}

async fn run_local(inner: &Arc<Inner>, func: &str, args: Vec<u8>) -> Result<Vec<u8>, RpcError> {
    let f = inner.funcs.read().get(func).cloned();
    match f {
        Some(f) => f(args).await.map_err(RpcError::from),
        None => Err(RpcError::NoSuchFunction(func.to_string())),
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Serves an rpc request from `conn` in its own task; the function runs in the span of
/// `trace` (checked, see [`Inner::incoming_rpc_trace`]) if the request came with one.
pub(crate) fn serve(
    inner: Arc<Inner>,
    conn: Arc<Conn>,
    (req, func, args): (u64, String, Vec<u8>),
    trace: Option<TraceContext>,
) {
    let trace = trace.and_then(|t| inner.incoming_rpc_trace(&conn, t, &func));
    tokio::spawn(async move {
        let allowed = inner
            .cfg
            .rpc_allow
            .as_ref()
            .is_none_or(|a| a.allows(&conn.name, &func))
            || func == crate::check::CHECK_FN;
        let f = inner.funcs.read().get(&func).cloned();
        let result = match f {
            _ if !allowed => {
                inner.refused_request(&conn, "rpc", &func);
                Err(RpcFailure::NotAllowed(func.clone()))
            }
            Some(f) => match trace {
                Some((span, ctx)) => actor_core::trace::in_trace(f(args), span, ctx).await,
                None => f(args).await,
            },
            None => Err(RpcFailure::NoSuchFunction(func.clone())),
        };
        if let Err(e) = &result {
            tracing::debug!(peer = %conn.name, %func, error = ?e, "rpc failed");
        }
        if req != 0 {
            let frame = Frame::RpcResult {
                req,
                result: result.as_deref().map_err(Clone::clone),
            };
            let _ = inner.send_frame(&conn, &frame, true);
        }
    });
}
