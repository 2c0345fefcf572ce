//! Driving supervisors from another node: OTP's `supervisor:start_child({Sup, Node}, ...)`.
//!
//! A node opts in by registering what others may start under its supervisors:
//! [`Dist::register_child`] names a child kind (a function from serde arguments to a
//! [`ChildSpec`]) for static supervisors, and [`Dist::register_dynamic`] names the argument
//! type of its dynamic supervisors. Other nodes then drive a supervisor through a
//! [`RemoteSupervisor`] or [`RemoteDynamicSupervisor`] handle: `start_child`,
//! `terminate_child`, `which_children`, `count_children` (and `restart_child` /
//! `delete_child` for static ones). Arguments cross the wire as postcard bytes checked
//! against the registered type, like messages. Nothing else can be started remotely: the
//! trust model's "an authenticated node spawns only what this node registered" holds.
//!
//! The requests travel as rpc calls (`$sup.*`), so they are answered by the supervisor's own
//! node with the supervisor's own answers, typed ([`SupervisorError`]) on the caller's side.

use crate::dist::Dist;
use crate::rpc::RpcError;
use actor_core::supervisor::{
    ChildCount, ChildInfo, ChildSpec, DynamicSupervisorRef, Started, SupervisorError, SupervisorRef,
};
use actor_core::{Message, Node, Pid};
use futures::future::BoxFuture;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// How long a remote supervisor request may take by default (a start may wait for a child's
/// `started` hook).
pub const REMOTE_SUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to a remote supervisor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RemoteSupervisorError {
    /// The supervisor answered with an error (as it would locally).
    #[error(transparent)]
    Supervisor(SupervisorError),
    /// The supervisor's node does not let others start this child kind.
    #[error("child kind {0:?} is not registered on that node")]
    UnknownChildKind(String),
    /// The supervisor's node does not drive dynamic supervisors with this argument type.
    #[error("dynamic supervisor argument type {0:?} is not registered on that node")]
    UnknownArgsType(String),
    /// The arguments do not decode as the registered type.
    #[error("bad arguments: {0}")]
    BadArgs(String),
    /// The pid is not a supervisor of that kind on its node (or not alive).
    #[error("not a supervisor: {0}")]
    NotASupervisor(String),
    /// The request did not get an answer (node down, timeout, remote supervision not enabled
    /// on that node: `NoSuchFunction`).
    #[error("rpc: {0}")]
    #[serde(skip)]
    Rpc(RpcError),
    /// The supervisor's node is not connected (its name is unknown here).
    #[error("the supervisor's node is not connected")]
    NoConnection,
}

/// Builds a child spec from arguments tagged with their type.
type ChildMaker = Arc<dyn Fn(u64, &[u8]) -> Result<ChildSpec, String> + Send + Sync>;

/// One registered dynamic-supervisor argument type, with the operations on supervisors of it.
trait DynOps: Send + Sync {
    fn start(&self, node: &Node, sup: Pid, args: &[u8]) -> BoxFuture<'static, Answer<Started>>;
    fn terminate(&self, node: &Node, sup: Pid, child: Pid) -> BoxFuture<'static, Answer<()>>;
    fn which(&self, node: &Node, sup: Pid) -> BoxFuture<'static, Answer<Vec<ChildInfo>>>;
    fn count(&self, node: &Node, sup: Pid) -> BoxFuture<'static, Answer<ChildCount>>;
}

type Answer<T> = Result<T, RemoteSupervisorError>;

struct Typed<Args>(PhantomData<fn(Args)>);

impl<Args: Message + Clone> Typed<Args> {
    fn sup(node: &Node, sup: Pid) -> Answer<DynamicSupervisorRef<Args>> {
        DynamicSupervisorRef::<Args>::from_pid(node, sup)
            .map_err(|e| RemoteSupervisorError::NotASupervisor(e.to_string()))
    }
}

fn sup_err(e: SupervisorError) -> RemoteSupervisorError {
    RemoteSupervisorError::Supervisor(e)
}

impl<Args: Message + Clone> DynOps for Typed<Args> {
    fn start(&self, node: &Node, sup: Pid, args: &[u8]) -> BoxFuture<'static, Answer<Started>> {
        let r = Self::sup(node, sup);
        let args = postcard::from_bytes::<Args>(args)
            .map_err(|e| RemoteSupervisorError::BadArgs(e.to_string()));
        Box::pin(async move { r?.start_child(args?).await.map_err(sup_err) })
    }
    fn terminate(&self, node: &Node, sup: Pid, child: Pid) -> BoxFuture<'static, Answer<()>> {
        let r = Self::sup(node, sup);
        Box::pin(async move { r?.terminate_child(child).await.map_err(sup_err) })
    }
    fn which(&self, node: &Node, sup: Pid) -> BoxFuture<'static, Answer<Vec<ChildInfo>>> {
        let r = Self::sup(node, sup);
        Box::pin(async move { r?.which_children().await.map_err(sup_err) })
    }
    fn count(&self, node: &Node, sup: Pid) -> BoxFuture<'static, Answer<ChildCount>> {
        let r = Self::sup(node, sup);
        Box::pin(async move { r?.count_children().await.map_err(sup_err) })
    }
}

/// What a node lets others start under its supervisors.
#[derive(Default)]
pub(crate) struct Registered {
    children: RwLock<HashMap<String, ChildMaker>>,
    dynamic: RwLock<HashMap<u64, Arc<dyn DynOps>>>,
    served: std::sync::atomic::AtomicBool,
}

/// The rpc functions, installed on the first registration.
const START: &str = "$sup.start_child";
const TERMINATE: &str = "$sup.terminate_child";
const RESTART: &str = "$sup.restart_child";
const DELETE: &str = "$sup.delete_child";
const WHICH: &str = "$sup.which_children";
const COUNT: &str = "$sup.count_children";
const DYN_START: &str = "$dynsup.start_child";
const DYN_TERMINATE: &str = "$dynsup.terminate_child";
const DYN_WHICH: &str = "$dynsup.which_children";
const DYN_COUNT: &str = "$dynsup.count_children";

fn static_sup(node: &Node, sup: Pid) -> Answer<SupervisorRef> {
    SupervisorRef::from_pid(node, sup)
        .map_err(|e| RemoteSupervisorError::NotASupervisor(e.to_string()))
}

impl Dist {
    fn remote_sups(&self) -> &Registered {
        &self.inner.remote_sups
    }

    /// Lets other nodes start children of `kind` under this node's (static) supervisors:
    /// `make` turns the arguments they send into the child spec. Also enables the other
    /// remote supervisor requests (terminate, restart, delete, which, count) on this node.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node};
    /// # use actor_core::supervisor::ChildSpec;
    /// # use actor_dist::{Cookie, Dist, DistConfig};
    /// struct Worker(u32);
    /// impl Actor for Worker {
    ///     type Msg = ();
    ///     async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dist = Dist::start(&Node::new("b@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
    ///     .await.unwrap();
    /// dist.register_child("worker", |n: u32| {
    ///     ChildSpec::worker(format!("worker-{n}"), move || Worker(n))
    /// });
    /// # });
    /// ```
    pub fn register_child<A, F>(&self, kind: &str, make: F)
    where
        A: Message,
        F: Fn(A) -> ChildSpec + Send + Sync + 'static,
    {
        let maker: ChildMaker = Arc::new(move |tag: u64, bytes: &[u8]| {
            if tag != A::tag() {
                return Err(format!("{} expected", A::NAME));
            }
            postcard::from_bytes::<A>(bytes)
                .map(&make)
                .map_err(|e| e.to_string())
        });
        self.remote_sups()
            .children
            .write()
            .insert(kind.to_string(), maker);
        self.serve_supervisors();
    }

    /// Lets other nodes drive this node's dynamic supervisors whose children take `Args`
    /// (start, terminate, which, count).
    pub fn register_dynamic<Args: Message + Clone>(&self) {
        self.remote_sups()
            .dynamic
            .write()
            .insert(Args::tag(), Arc::new(Typed::<Args>(PhantomData)));
        self.serve_supervisors();
    }

    fn serve_supervisors(&self) {
        use std::sync::atomic::Ordering;
        if self.remote_sups().served.swap(true, Ordering::AcqRel) {
            return;
        }
        let node = self.node().clone();
        let me = Arc::downgrade(&self.inner);
        let n = node.clone();
        self.register_rpc(
            START,
            move |(sup, kind, tag, args): (Pid, String, u64, Vec<u8>)| {
                let spec = me
                    .upgrade()
                    .ok_or(RemoteSupervisorError::NoConnection)
                    .and_then(|inner| {
                        let maker = inner.remote_sups.children.read().get(&kind).cloned();
                        let maker = maker.ok_or(RemoteSupervisorError::UnknownChildKind(kind))?;
                        maker(tag, &args).map_err(RemoteSupervisorError::BadArgs)
                    });
                let r = static_sup(&n, sup);
                async move { r?.start_child(spec?).await.map_err(sup_err) }
            },
        );
        let n = node.clone();
        self.register_rpc(TERMINATE, move |(sup, id): (Pid, String)| {
            let r = static_sup(&n, sup);
            async move { r?.terminate_child(&id).await.map_err(sup_err) }
        });
        let n = node.clone();
        self.register_rpc(RESTART, move |(sup, id): (Pid, String)| {
            let r = static_sup(&n, sup);
            async move { r?.restart_child(&id).await.map_err(sup_err) }
        });
        let n = node.clone();
        self.register_rpc(DELETE, move |(sup, id): (Pid, String)| {
            let r = static_sup(&n, sup);
            async move { r?.delete_child(&id).await.map_err(sup_err) }
        });
        let n = node.clone();
        self.register_rpc(WHICH, move |sup: Pid| {
            let r = static_sup(&n, sup);
            async move { r?.which_children().await.map_err(sup_err) }
        });
        let n = node.clone();
        self.register_rpc(COUNT, move |sup: Pid| {
            let r = static_sup(&n, sup);
            async move { r?.count_children().await.map_err(sup_err) }
        });
        let dyn_ops = |me: &std::sync::Weak<crate::dist::Inner>, tag: u64| {
            me.upgrade()
                .and_then(|inner| inner.remote_sups.dynamic.read().get(&tag).cloned())
                .ok_or_else(|| RemoteSupervisorError::UnknownArgsType(format!("tag {tag:#x}")))
        };
        let (n, me) = (node.clone(), Arc::downgrade(&self.inner));
        self.register_rpc(DYN_START, move |(sup, tag, args): (Pid, u64, Vec<u8>)| {
            let fut = dyn_ops(&me, tag).map(|ops| ops.start(&n, sup, &args));
            async move { fut?.await }
        });
        let (n, me) = (node.clone(), Arc::downgrade(&self.inner));
        self.register_rpc(DYN_TERMINATE, move |(sup, tag, child): (Pid, u64, Pid)| {
            let fut = dyn_ops(&me, tag).map(|ops| ops.terminate(&n, sup, child));
            async move { fut?.await }
        });
        let (n, me) = (node.clone(), Arc::downgrade(&self.inner));
        self.register_rpc(DYN_WHICH, move |(sup, tag): (Pid, u64)| {
            let fut = dyn_ops(&me, tag).map(|ops| ops.which(&n, sup));
            async move { fut?.await }
        });
        let (n, me) = (node, Arc::downgrade(&self.inner));
        self.register_rpc(DYN_COUNT, move |(sup, tag): (Pid, u64)| {
            let fut = dyn_ops(&me, tag).map(|ops| ops.count(&n, sup));
            async move { fut?.await }
        });
    }

    /// A handle to the supervisor `sup` on the connected node `node` (OTP `{Sup, Node}`).
    pub fn remote_supervisor(&self, node: &str, sup: Pid) -> RemoteSupervisor {
        RemoteSupervisor {
            dist: self.clone(),
            node: node.to_string(),
            sup,
            timeout: REMOTE_SUP_TIMEOUT,
        }
    }

    /// A handle to the dynamic supervisor `sup` (children taking `Args`) on `node`.
    pub fn remote_dynamic_supervisor<Args: Message + Clone>(
        &self,
        node: &str,
        sup: Pid,
    ) -> RemoteDynamicSupervisor<Args> {
        RemoteDynamicSupervisor {
            dist: self.clone(),
            node: node.to_string(),
            sup,
            timeout: REMOTE_SUP_TIMEOUT,
            _args: PhantomData,
        }
    }
}

/// A static [`Supervisor`](actor_core::supervisor::Supervisor) on another node, driven
/// through its node (see the [module docs](self)).
#[derive(Clone)]
pub struct RemoteSupervisor {
    dist: Dist,
    node: String,
    sup: Pid,
    timeout: Duration,
}

impl std::fmt::Debug for RemoteSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteSupervisor({} on {})", self.sup, self.node)
    }
}

async fn ask<A: Serialize, R: DeserializeOwned>(
    dist: &Dist,
    node: &str,
    func: &str,
    args: &A,
    timeout: Duration,
) -> Answer<R> {
    match dist.call::<A, Answer<R>>(node, func, args, timeout).await {
        Ok(answer) => answer,
        Err(e) => Err(RemoteSupervisorError::Rpc(e)),
    }
}

impl RemoteSupervisor {
    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.sup
    }

    /// How long each request may take (default [`REMOTE_SUP_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts a child of the registered `kind`, built from `args` on the supervisor's node
    /// (the arguments' type must be the one registered for `kind`: checked by its tag).
    pub async fn start_child<A: Message>(&self, kind: &str, args: &A) -> Answer<Started> {
        let bytes = postcard::to_allocvec(args)
            .map_err(|e| RemoteSupervisorError::BadArgs(e.to_string()))?;
        ask(
            &self.dist,
            &self.node,
            START,
            &(self.sup, kind.to_string(), A::tag(), bytes),
            self.timeout,
        )
        .await
    }

    /// Stops the child `id` (its spec is kept unless temporary).
    pub async fn terminate_child(&self, id: &str) -> Answer<()> {
        let args = (self.sup, id.to_string());
        ask(&self.dist, &self.node, TERMINATE, &args, self.timeout).await
    }

    /// Starts again the stopped child `id`.
    pub async fn restart_child(&self, id: &str) -> Answer<Started> {
        let args = (self.sup, id.to_string());
        ask(&self.dist, &self.node, RESTART, &args, self.timeout).await
    }

    /// Removes the spec of the stopped child `id`.
    pub async fn delete_child(&self, id: &str) -> Answer<()> {
        let args = (self.sup, id.to_string());
        ask(&self.dist, &self.node, DELETE, &args, self.timeout).await
    }

    /// The children, as [`SupervisorRef::which_children`] answers them.
    pub async fn which_children(&self) -> Answer<Vec<ChildInfo>> {
        ask(&self.dist, &self.node, WHICH, &self.sup, self.timeout).await
    }

    /// The child counts.
    pub async fn count_children(&self) -> Answer<ChildCount> {
        ask(&self.dist, &self.node, COUNT, &self.sup, self.timeout).await
    }
}

/// A [`DynamicSupervisor`](actor_core::supervisor::DynamicSupervisor) on another node whose
/// children take `Args` (registered there with [`Dist::register_dynamic`]).
pub struct RemoteDynamicSupervisor<Args> {
    dist: Dist,
    node: String,
    sup: Pid,
    timeout: Duration,
    _args: PhantomData<fn(Args)>,
}

impl<Args> Clone for RemoteDynamicSupervisor<Args> {
    fn clone(&self) -> Self {
        RemoteDynamicSupervisor {
            dist: self.dist.clone(),
            node: self.node.clone(),
            sup: self.sup,
            timeout: self.timeout,
            _args: PhantomData,
        }
    }
}

impl<Args> std::fmt::Debug for RemoteDynamicSupervisor<Args> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteDynamicSupervisor({} on {})", self.sup, self.node)
    }
}

impl<Args: Message + Clone> RemoteDynamicSupervisor<Args> {
    async fn ask<A: Serialize, R: DeserializeOwned>(&self, func: &str, req: &A) -> Answer<R> {
        match ask(&self.dist, &self.node, func, req, self.timeout).await {
            // The far side knows only the tag: name the type here.
            Err(RemoteSupervisorError::UnknownArgsType(_)) => Err(
                RemoteSupervisorError::UnknownArgsType(Args::NAME.to_string()),
            ),
            other => other,
        }
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.sup
    }

    /// How long each request may take (default [`REMOTE_SUP_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts a child with `args` (OTP `supervisor:start_child({Sup, Node}, Args)`).
    pub async fn start_child(&self, args: &Args) -> Answer<Started> {
        let bytes = postcard::to_allocvec(args)
            .map_err(|e| RemoteSupervisorError::BadArgs(e.to_string()))?;
        self.ask(DYN_START, &(self.sup, Args::tag(), bytes)).await
    }

    /// Stops the child `child`.
    pub async fn terminate_child(&self, child: Pid) -> Answer<()> {
        self.ask(DYN_TERMINATE, &(self.sup, Args::tag(), child))
            .await
    }

    /// The running children.
    pub async fn which_children(&self) -> Answer<Vec<ChildInfo>> {
        self.ask(DYN_WHICH, &(self.sup, Args::tag())).await
    }

    /// The child counts.
    pub async fn count_children(&self) -> Answer<ChildCount> {
        self.ask(DYN_COUNT, &(self.sup, Args::tag())).await
    }
}
