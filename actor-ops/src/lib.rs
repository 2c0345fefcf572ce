//! # actor-ops
//!
//! Operating a cluster: what a node serves operators, and the tools that ask it.
//!
//! - **Node side.** [`Ops::builder`] names what the node shows ([`registry`](OpsBuilder::registry)
//!   scopes, an [`entities`](OpsBuilder::entities) host, [`locks`](OpsBuilder::locks), a
//!   [`journal`](OpsBuilder::journal), a [`quorum`](OpsBuilder::quorum) source, the
//!   [`supervisors`](OpsBuilder::supervisor) operators may start children under) and
//!   [`install`](OpsBuilder::install) registers the `$ops.*` rpc functions
//!   ([`protocol`]). They answer only what is listed there: reports, never arbitrary code.
//! - **`actorctl`** ([`cli`], the binary `src/bin/actorctl.rs`, `cargo install --path
//!   actor-ops`): joins the cluster as a hidden node with the cookie (flag, `ACTORCTL_COOKIE`,
//!   or an owner-only cookie file) and prints nodes, names, groups, processes, an entity's
//!   state and receipts; pings; stops a process or starts a child when told explicitly.
//!   Tables by default, `--json` for scripts; exit codes in [`cli`]. `actorctl top` is a
//!   live view ([`top`], ratatui).
//! - **Metrics and probes** ([`Ops::serve`]): an opt-in HTTP listener with `/metrics`
//!   (Prometheus, through the `metrics` facade, from the counters the layers already keep:
//!   see [`metrics`](crate::metrics)), `/health` and `/ready` for Kubernetes.
//!
//! ```
//! use actor_core::Node;
//! use actor_dist::{Cookie, Dist, DistConfig};
//! use actor_ops::Ops;
//! use std::time::Duration;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
//!     .await
//!     .unwrap();
//! let ops = Ops::builder(&dist).install();
//! let http = ops.serve("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5)).await.unwrap();
//! ops.collect(http.metrics());
//! assert!(http.metrics().render().contains("actor_processes"));
//! # });
//! ```
//!
//! # Where this differs from OTP
//!
//! `observer` and `etop` reach any process of a node through the VM; here a node answers only
//! the `$ops.*` functions it installed, and `describe` (OTP `sys:get_state`) answers what the
//! actor's own [`Actor::describe`](actor_core::Actor::describe) chooses to say. A node's age
//! is the time since [`OpsBuilder::install`]. Quorum appears once a membership layer reports
//! it through [`QuorumSource`]; until then health counts the expected peers.
#![warn(missing_docs)]

pub mod cli;
pub mod client;
mod http;
pub mod metrics;
pub mod protocol;
mod server;
pub mod top;

pub use client::{CliError, Client, Target};
pub use http::OpsHttp;
pub use metrics::OpsMetrics;
pub use server::{parse_pattern, show_key, Ops, OpsBuilder, QuorumSource};
