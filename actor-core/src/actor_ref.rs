//! Typed handles: [`ActorRef<M>`] = a [`Pid`] plus a route that can carry `M`.

use crate::deadline::{CallDeadlines, Waiting};
use crate::error::{CallError, SendError};
use crate::exit::ExitReason;
use crate::mailbox::PushError;
use crate::pid::Pid;
use crate::process::{Cell, Process};
use crate::reply::ReplyTo;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;

/// A route to an actor on another node, made by the distribution layer for one message type.
pub trait RemoteRoute<M>: Send + Sync + 'static {
    /// Encodes and queues `msg` for the remote actor. Per-pair ordering must hold.
    fn send(&self, msg: M) -> Result<(), SendError<M>>;
    /// Why a call through this route got no reply (called after the reply handle was dropped),
    /// e.g. `NodeDown(node)` when the node went down.
    fn call_failure(&self) -> CallError;
    /// Asks the remote actor to stop after its queued messages.
    fn stop(&self, reason: ExitReason) -> bool;
    /// Resolves when [`send`](RemoteRoute::send) may succeed again after [`SendError::Full`]
    /// (the connection's outbound buffer has drained).
    fn ready(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
    /// Whether the last successful [`send`](RemoteRoute::send) queued enough bytes that the
    /// sender should let the runtime run other tasks before it goes on (the connection's
    /// writer, woken on the sender's worker thread, may otherwise wait behind it).
    /// [`ActorRef::send`] then yields once. Default: never.
    fn yield_after_send(&self) -> bool {
        false
    }
}

enum Route<M> {
    Local(Arc<Cell<M>>),
    Remote(Arc<dyn RemoteRoute<M>>),
}

/// A typed reference to an actor that takes messages of type `M`.
///
/// Cloning is cheap. Sending to a local actor moves the value into its mailbox without
/// serialising it; a remote route (installed by the distribution layer) encodes it. Equality,
/// ordering and hashing follow the [`Pid`].
pub struct ActorRef<M> {
    pid: Pid,
    route: Route<M>,
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> Self {
        ActorRef {
            pid: self.pid,
            route: match &self.route {
                Route::Local(c) => Route::Local(c.clone()),
                Route::Remote(r) => Route::Remote(r.clone()),
            },
        }
    }
}

impl<M> fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorRef({})", self.pid)
    }
}

impl<M> PartialEq for ActorRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.pid == other.pid
    }
}
impl<M> Eq for ActorRef<M> {}
impl<M> std::hash::Hash for ActorRef<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pid.hash(state)
    }
}

impl<M: Send + 'static> ActorRef<M> {
    pub(crate) fn local(cell: Arc<Cell<M>>) -> Self {
        ActorRef {
            pid: cell.core.pid,
            route: Route::Local(cell),
        }
    }

    /// A reference to an actor on another node through `route` (for the distribution layer).
    pub fn remote(pid: Pid, route: Arc<dyn RemoteRoute<M>>) -> Self {
        ActorRef {
            pid,
            route: Route::Remote(route),
        }
    }

    /// The actor's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The local process behind this reference, if it is local.
    pub(crate) fn process(&self) -> Option<Arc<dyn Process>> {
        match &self.route {
            Route::Local(cell) => Some(cell.clone() as Arc<dyn Process>),
            Route::Remote(_) => None,
        }
    }

    /// Whether the actor is on this node.
    pub fn is_local(&self) -> bool {
        matches!(self.route, Route::Local(_))
    }

    /// Sends `msg` without waiting (OTP `!` / `gen_server:cast`).
    ///
    /// Fails with [`SendError::NoProc`] if the actor is dead and [`SendError::Full`] if its
    /// bounded mailbox is full; the message is handed back either way.
    #[inline]
    pub fn tell(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.route {
            Route::Local(cell) => cell.mailbox.push(msg).map_err(|e| match e {
                PushError::Closed(env) => SendError::NoProc(unwrap_msg(env)),
                PushError::Full(env) => SendError::Full(unwrap_msg(env)),
            }),
            Route::Remote(r) => r.send(msg),
        }
    }

    /// [`tell`](Self::tell) for the receiving half of a trace across nodes: the actor handles
    /// `msg` inside `span`, with `ctx` as [`trace::current_remote`](crate::trace::current_remote)
    /// (see [`trace`](crate::trace)). A distribution layer calls this for a message that came
    /// with a trace context; to a remote actor it is a plain `tell` (the sending side carries
    /// the current span's context itself).
    pub fn tell_traced(
        &self,
        msg: M,
        span: tracing::Span,
        ctx: crate::TraceContext,
    ) -> Result<(), SendError<M>> {
        match &self.route {
            Route::Local(cell) => {
                let env = crate::mailbox::Envelope::Traced(Box::new(crate::trace::Traced {
                    msg,
                    span,
                    ctx,
                }));
                cell.mailbox.push_user(env).map_err(|e| match e {
                    PushError::Closed(env) => SendError::NoProc(unwrap_msg(env)),
                    PushError::Full(env) => SendError::Full(unwrap_msg(env)),
                })
            }
            Route::Remote(r) => r.send(msg),
        }
    }

    /// Sends `msg`, waiting for room if the actor's mailbox is bounded and full.
    ///
    /// To a remote actor, it waits while the connection's outbound buffer is full; after
    /// queueing a large message it yields to the runtime once, so that a task streaming large
    /// messages in a loop lets the connection's writer (and everything else on its worker
    /// thread) run between them instead of holding the thread until the buffer is full.
    pub async fn send(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.route {
            Route::Local(cell) => cell.mailbox.push_wait(msg).await.map_err(SendError::NoProc),
            Route::Remote(r) => {
                let mut msg = msg;
                loop {
                    match r.send(msg) {
                        Err(SendError::Full(m)) => {
                            r.ready().await;
                            msg = m;
                        }
                        Ok(()) => {
                            if r.yield_after_send() {
                                tokio::task::yield_now().await;
                            }
                            return Ok(());
                        }
                        other => return other,
                    }
                }
            }
        }
    }

    /// Sends a request and waits for its reply (OTP `gen_server:call`).
    ///
    /// `make` builds the request around a [`ReplyTo`] handle, usually an enum variant
    /// constructor. Fails fast with [`CallError::Exit`] (`noproc`) if the actor is dead or with
    /// its exit reason if it dies before replying; after `timeout`, [`CallError::Timeout`],
    /// and a late reply is dropped.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node, ReplyTo};
    /// # use std::time::Duration;
    /// struct Echo;
    /// impl Actor for Echo {
    ///     type Msg = (u64, ReplyTo<u64>);
    ///     async fn handle(&mut self, (n, reply): Self::Msg, _: &mut Context<Self>) {
    ///         reply.send(n + 1);
    ///     }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("a@localhost");
    /// let echo = node.spawn(Echo).await.unwrap();
    /// assert_eq!(echo.call(|r| (41, r), Duration::from_secs(1)).await, Ok(42));
    /// # });
    /// ```
    pub async fn call<R: Send + 'static>(
        &self,
        make: impl FnOnce(ReplyTo<R>) -> M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let (tx, rx) = oneshot::channel();
        match self.tell(make(ReplyTo::local(tx))) {
            Ok(()) => {}
            Err(SendError::NoProc(_)) => return Err(CallError::Exit(ExitReason::NoProc)),
            Err(SendError::Full(_)) => return Err(CallError::Full),
            // The route names the node (`NodeDown`).
            Err(SendError::NoConnection(_)) => return Err(self.failure()),
            Err(SendError::Encode(_, why)) => return Err(CallError::Encode(why)),
        }
        let answer = match &self.route {
            // Timed by the node's table of waiting calls: no timer per call.
            Route::Local(cell) => wait_local(cell.deadlines(), rx, timeout).await,
            Route::Remote(_) => tokio::time::timeout(timeout, rx).await.ok(),
        };
        match answer {
            Some(Ok(Ok(r))) => Ok(r),
            Some(Ok(Err(reason))) => Err(CallError::Exit(reason)),
            Some(Err(_)) => Err(self.failure()),
            None => Err(CallError::Timeout),
        }
    }

    fn failure(&self) -> CallError {
        match &self.route {
            Route::Local(cell) => match cell.core.exit_reason() {
                Some(reason) => CallError::Exit(reason),
                None => CallError::NoReply,
            },
            Route::Remote(r) => r.call_failure(),
        }
    }

    /// Asks the actor to stop with `reason` after the messages already queued; its `stopped`
    /// hook runs (OTP `gen_server:stop`). `false` if it is not alive.
    pub fn stop(&self, reason: ExitReason) -> bool {
        match &self.route {
            Route::Local(cell) => cell.request_stop(reason),
            Route::Remote(r) => r.stop(reason),
        }
    }

    /// Whether the actor is alive, as far as this node knows (remote: `true` unless known dead).
    pub fn is_alive(&self) -> bool {
        match &self.route {
            Route::Local(cell) => cell.core.exit_reason().is_none(),
            Route::Remote(_) => true,
        }
    }

    /// Messages waiting in the actor's mailbox (local actors; 0 for remote ones).
    pub fn backlog(&self) -> usize {
        match &self.route {
            Route::Local(cell) => cell.mailbox.len(),
            Route::Remote(_) => 0,
        }
    }
}

/// Waits for a local call's answer until `timeout` has passed (`None` then), as
/// `tokio::time::timeout` would, with the deadline kept in the node's table of waiting calls
/// (`deadline.rs`) instead of a timer of its own. An answer already there wins over an expired
/// deadline.
async fn wait_local<T>(
    table: &Arc<CallDeadlines>,
    mut rx: oneshot::Receiver<T>,
    timeout: Duration,
) -> Option<Result<T, oneshot::error::RecvError>> {
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    let mut waiting = Waiting { table, idx: None };
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut rx).poll(cx) {
            return Poll::Ready(Some(r));
        }
        // A deadline too far to represent never comes.
        let Some(deadline) = deadline else {
            return Poll::Pending;
        };
        match waiting.idx {
            // As `tokio::time::timeout`: no time at all means no waiting.
            None if timeout.is_zero() => Poll::Ready(None),
            None => {
                waiting.idx = Some(table.register(deadline, cx.waker()));
                Poll::Pending
            }
            Some(i) => table.poll_expired(i, cx).map(|()| None),
        }
    })
    .await
}

fn unwrap_msg<M>(env: crate::mailbox::Envelope<M>) -> M {
    match env {
        crate::mailbox::Envelope::Msg(m) => m,
        crate::mailbox::Envelope::Traced(t) => t.msg,
        _ => unreachable!("user pushes hand back user messages"),
    }
}

/// Serialises as the pid. The receiving node turns it back into a typed reference: to its own
/// actor (checked against `M`: a mismatch is a decode error), to an actor on another node
/// (through its distribution), or to a dead pid (every send then fails with `noproc`).
impl<M: crate::Message> serde::Serialize for ActorRef<M> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.pid.serialize(s)
    }
}

impl<'de, M: crate::Message> serde::Deserialize<'de> for ActorRef<M> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let pid = Pid::deserialize(d)?;
        let ctx = crate::reply::current_context().ok_or_else(|| {
            D::Error::custom("an ActorRef can only be decoded by a node's distribution")
        })?;
        if let Some(node) = ctx.node() {
            if pid.node == node.id() {
                return match node.actor_ref::<M>(pid) {
                    Ok(r) => Ok(r),
                    Err(crate::RefError::WrongType { actual, .. }) => Err(D::Error::custom(
                        format!("{pid} takes {actual}, not {}", M::NAME),
                    )),
                    Err(_) => Ok(ActorRef::remote(pid, Arc::new(crate::route::DeadRoute))),
                };
            }
        }
        let raw = ctx
            .raw_route()
            .ok_or_else(|| D::Error::custom("no route to other nodes"))?;
        Ok(crate::route::EncodedRoute::actor_ref(pid, raw))
    }
}
