//! The operator's side: a hidden node that joins a running cluster with its cookie and asks
//! the nodes' `$ops.*` functions.

use crate::protocol::*;
use actor_core::{ActorState, Node, NodeId, Pid};
use actor_dist::{Cookie, CookieError, Dist, DistConfig, DownReason, RpcError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

/// Why a command failed; each maps to an exit code ([`CliError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The cookie could not be loaded.
    #[error("cookie: {0}")]
    Cookie(#[from] CookieError),
    /// The node refused our cookie.
    #[error("node {0} refused the cookie (wrong cookie?)")]
    AuthFailed(String),
    /// No node answered.
    #[error("no answer from {node}: {reason}")]
    Unreachable {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The node answered with an error.
    #[error("{node}: {message}")]
    Remote {
        /// The node.
        node: String,
        /// Its error.
        message: String,
    },
    /// The command ran; what it found is not healthy (some node unhealthy or silent, `ping`
    /// unanswered).
    #[error("{0}")]
    Unhealthy(String),
}

impl CliError {
    /// The process exit code: 2 usage, 3 authentication, 4 unreachable, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Cookie(_) => 2,
            CliError::AuthFailed(_) => 3,
            CliError::Unreachable { .. } => 4,
            CliError::Remote { .. } | CliError::Unhealthy(_) => 1,
        }
    }
}

/// How to reach the cluster.
#[derive(Clone, Debug)]
pub struct Target {
    /// A node of the cluster, `name@host`.
    pub node: String,
    /// Its listen address.
    pub addr: SocketAddr,
    /// The cluster's cookie.
    pub cookie: Cookie,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

/// A connected hidden node asking operator questions. Dropping it disconnects.
pub struct Client {
    dist: Dist,
    target: String,
    target_addr: SocketAddr,
    timeout: Duration,
    /// Listen addresses of the nodes the target reported.
    addrs: parking_lot::Mutex<std::collections::HashMap<String, SocketAddr>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.dist.shutdown();
    }
}

fn unique_suffix() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish() & 0xffff_ffff
}

impl Client {
    /// Starts a hidden node and connects it to `t.node`. A wrong cookie gives
    /// [`CliError::AuthFailed`]; a node that does not answer, [`CliError::Unreachable`].
    pub async fn connect(t: &Target) -> Result<Client, CliError> {
        let host = t.node.split_once('@').map_or("localhost", |(_, h)| h);
        let me = format!("actorctl-{:x}@{host}", unique_suffix());
        let node = Node::new(me);
        let ip = if t.addr.is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let mut cfg = DistConfig::new(t.cookie.clone()).hidden(true);
        cfg.listen = ip.parse().expect("loopback address");
        cfg.setup_timeout = t.timeout;
        let dist = Dist::start(&node, cfg)
            .await
            .map_err(|e| CliError::Usage(format!("cannot start a local node: {e}")))?;
        match tokio::time::timeout(t.timeout, dist.connect(&t.node, t.addr)).await {
            Ok(Ok(_)) => {}
            Ok(Err(DownReason::AuthFailed)) => {
                dist.shutdown();
                return Err(CliError::AuthFailed(t.node.clone()));
            }
            Ok(Err(e)) => {
                dist.shutdown();
                return Err(CliError::Unreachable {
                    node: t.node.clone(),
                    reason: format!("{e:?}"),
                });
            }
            Err(_) => {
                dist.shutdown();
                return Err(CliError::Unreachable {
                    node: t.node.clone(),
                    reason: "connection timed out".into(),
                });
            }
        }
        Ok(Client {
            dist,
            target: t.node.clone(),
            target_addr: t.addr,
            timeout: t.timeout,
            addrs: Default::default(),
        })
    }

    /// The hidden node's distribution.
    pub fn dist(&self) -> &Dist {
        &self.dist
    }

    async fn ask<A: Serialize, R: DeserializeOwned>(
        &self,
        node: &str,
        func: &str,
        args: &A,
    ) -> Result<R, CliError> {
        self.reach(node).await?;
        self.ask_connected(node, func, args).await
    }

    async fn ask_connected<A: Serialize, R: DeserializeOwned>(
        &self,
        node: &str,
        func: &str,
        args: &A,
    ) -> Result<R, CliError> {
        self.dist
            .call(node, func, args, self.timeout)
            .await
            .map_err(|e| match e {
                RpcError::Timeout | RpcError::NodeDown(_) => CliError::Unreachable {
                    node: node.to_string(),
                    reason: e.to_string(),
                },
                RpcError::NoSuchFunction(_) => CliError::Remote {
                    node: node.to_string(),
                    message: "operator support is not installed on this node (Ops::install)".into(),
                },
                e => CliError::Remote {
                    node: node.to_string(),
                    message: e.to_string(),
                },
            })
    }

    fn remote<T>(node: &str, r: Result<T, String>) -> Result<T, CliError> {
        r.map_err(|message| CliError::Remote {
            node: node.to_string(),
            message,
        })
    }

    /// Every node the target sees, and the target, each with its own report (or why it did
    /// not answer), in name order; the target asks the others.
    pub async fn nodes(&self) -> Result<Vec<(String, Result<NodeReport, String>)>, CliError> {
        let all: Vec<(String, Result<NodeReport, String>)> =
            self.ask_connected(&self.target, CLUSTER, &()).await?;
        let mut addrs = self.addrs.lock();
        for (n, r) in &all {
            if let Ok(rep) = r {
                let mut a = rep.listen;
                if a.ip().is_unspecified() {
                    a.set_ip(self.target_addr.ip());
                }
                addrs.insert(n.clone(), a);
            }
        }
        Ok(all)
    }

    /// Connects to `node` (a node of the cluster the target reported) if not yet connected.
    async fn reach(&self, node: &str) -> Result<(), CliError> {
        if node == self.target || self.dist.nodes_connected().iter().any(|n| n == node) {
            return Ok(());
        }
        let mut addr = self.addrs.lock().get(node).copied();
        if addr.is_none() {
            self.nodes().await?;
            addr = self.addrs.lock().get(node).copied();
        }
        let addr = addr.ok_or_else(|| CliError::Unreachable {
            node: node.to_string(),
            reason: format!("{} does not see it", self.target),
        })?;
        match tokio::time::timeout(self.timeout, self.dist.connect(node, addr)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(DownReason::AuthFailed)) => Err(CliError::AuthFailed(node.to_string())),
            Ok(Err(e)) => Err(CliError::Unreachable {
                node: node.to_string(),
                reason: format!("{e:?}"),
            }),
            Err(_) => Err(CliError::Unreachable {
                node: node.to_string(),
                reason: "connection timed out".into(),
            }),
        }
    }

    /// Registry entries matching `pattern` (as the target node's replicas see them).
    pub async fn names(
        &self,
        kind: Option<String>,
        pattern: &str,
        limit: u32,
    ) -> Result<Vec<NameRow>, CliError> {
        let r: Result<Vec<NameRow>, String> = self
            .ask(&self.target, NAMES, &(kind, pattern.to_string(), limit))
            .await?;
        Self::remote(&self.target, r)
    }

    /// Process groups and their members.
    pub async fn groups(&self) -> Result<Vec<GroupRow>, CliError> {
        self.ask(&self.target, GROUPS, &()).await
    }

    /// The processes of `node`.
    pub async fn processes(&self, node: &str, q: PsQuery) -> Result<Vec<ProcessRow>, CliError> {
        self.ask(node, PROCESSES, &q).await
    }

    /// An entity's state and last receipts.
    pub async fn state(
        &self,
        kind: &str,
        key: &str,
        receipts: u32,
    ) -> Result<StateReport, CliError> {
        let r: Result<StateReport, String> = self
            .ask(
                &self.target,
                STATE,
                &(kind.to_string(), key.to_string(), receipts),
            )
            .await?;
        Self::remote(&self.target, r)
    }

    /// Any process's own description (`sys:get_state`).
    pub async fn describe(&self, pid: Pid) -> Result<ActorState, CliError> {
        let node = self.node_of(pid).await?;
        let r: Result<ActorState, String> = self.ask(&node, DESCRIBE, &pid).await?;
        Self::remote(&node, r)
    }

    /// Round trip to `node` in microseconds (OTP `net_adm:ping`: `pong` when it answers).
    pub async fn ping(&self, node: &str) -> Result<u64, CliError> {
        let t0 = tokio::time::Instant::now();
        let _: Option<NodeReport> = self.ask(node, INFO, &()).await?;
        Ok(t0.elapsed().as_micros() as u64)
    }

    /// The name of the node a pid lives on, among the nodes the target sees.
    pub async fn node_of(&self, pid: Pid) -> Result<String, CliError> {
        self.nodes()
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| NodeId::from_name(n) == pid.node)
            .ok_or_else(|| CliError::Usage(format!("{pid}: no connected node has that id")))
    }

    /// Stops `pid` (orderly, after its queued messages; `kill`: at once).
    pub async fn stop(&self, pid: Pid, kill: bool) -> Result<String, CliError> {
        let node = self.node_of(pid).await?;
        let r: Result<(), String> = self.ask(&node, STOP, &(pid, kill)).await?;
        Self::remote(&node, r)?;
        Ok(node)
    }

    /// Starts a child of the supervisor exposed as `sup` on `node`, arguments as JSON.
    pub async fn start_child(
        &self,
        node: &str,
        sup: &str,
        json: &str,
    ) -> Result<Option<Pid>, CliError> {
        let r: Result<Option<Pid>, String> = self
            .ask(node, START_CHILD, &(sup.to_string(), json.to_string()))
            .await?;
        Self::remote(node, r)
    }
}

/// Resolves a pid written as `<ab12cd34.42.7>` (as `ps` prints it): the node part is the
/// first 8 hex digits of the node's id, matched against `nodes`.
pub fn parse_pid(text: &str, nodes: &[String]) -> Result<Pid, CliError> {
    let bad = || CliError::Usage(format!("{text:?} is not a pid like <ab12cd34.42.7>"));
    let inner = text.trim().trim_start_matches('<').trim_end_matches('>');
    let mut it = inner.split('.');
    let (Some(n), Some(id), Some(cr), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let prefix = u32::from_str_radix(n, 16).map_err(|_| bad())?;
    let id: u64 = id.parse().map_err(|_| bad())?;
    let creation: u32 = cr.parse().map_err(|_| bad())?;
    let node = nodes
        .iter()
        .map(|n| NodeId::from_name(n))
        .find(|nid| (nid.0 >> 32) as u32 == prefix)
        .ok_or_else(|| CliError::Usage(format!("{text}: no connected node has id {n}")))?;
    Ok(Pid { node, id, creation })
}

/// Loads the cookie: the flag's value, else the environment variable, else the file (which
/// must be readable by its owner only, as `actor_dist::Cookie::from_file` checks).
pub fn load_cookie(
    flag: Option<&str>,
    env_var: &str,
    file: Option<&std::path::Path>,
) -> Result<Cookie, CliError> {
    if let Some(c) = flag {
        return Ok(Cookie::new(c)?);
    }
    if let Ok(c) = Cookie::from_env(env_var) {
        return Ok(c);
    }
    match file {
        Some(f) => Ok(Cookie::from_file(f)?),
        None => Err(CliError::Usage(format!(
            "no cookie: give --cookie, set {env_var}, or --cookie-file"
        ))),
    }
}
