//! The seam for distribution: how a node reaches processes on other nodes.
//!
//! actor-core has no network code. Every signal (link, unlink, exit, monitor, demonitor,
//! down) addressed to a pid on another node goes through the one [`Distribution`] object
//! installed on the node with [`Node::install_distribution`](crate::Node::install_distribution);
//! signals arriving from the network enter through
//! [`Node::deliver_signal`](crate::Node::deliver_signal). Typed message routes to remote
//! actors are made by the distribution layer with [`ActorRef::remote`](crate::ActorRef::remote).

use crate::exit::ExitReason;
use crate::pid::{MonitorRef, NodeId, Pid};
use serde::{Deserialize, Serialize};

/// A signal between two processes, as it crosses node boundaries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// `from` links to the target.
    Link {
        /// The linking process.
        from: Pid,
    },
    /// `from` removes its link to the target.
    Unlink {
        /// The unlinking process.
        from: Pid,
    },
    /// An exit signal. `link` is true when it comes from a link (the sender exited), false
    /// for an explicit `exit(pid, reason)`; only the latter can carry an untrappable `kill`.
    Exit {
        /// The sender.
        from: Pid,
        /// The reason.
        reason: ExitReason,
        /// Whether the signal comes from a link.
        link: bool,
    },
    /// `from` starts monitoring the target under `mref`.
    Monitor {
        /// The watcher.
        from: Pid,
        /// The monitor reference.
        mref: MonitorRef,
    },
    /// `from` stops monitoring the target.
    Demonitor {
        /// The watcher.
        from: Pid,
        /// The monitor reference.
        mref: MonitorRef,
    },
    /// The monitored process `pid` exited; delivered to the watcher.
    Down {
        /// The monitor reference.
        mref: MonitorRef,
        /// The process that exited.
        pid: Pid,
        /// Its reason.
        reason: ExitReason,
    },
}

/// Why a signal could not be handed to the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The target node is not connected and cannot be connected.
    #[error("node {0} is not reachable")]
    NoConnection(NodeId),
}

/// Installed on a node by the distribution layer: reaches processes on other nodes.
///
/// Implementations must keep per-pair ordering: signals and messages from one process to
/// another are delivered in the order they were handed over. When a signal cannot be
/// delivered because the connection is lost, the implementation answers as OTP does: a link
/// fires with `noconnection`, a monitor delivers `Down(noconnection)`.
pub trait Distribution: Send + Sync + 'static {
    /// Sends `signal` to `to`, a process on another node.
    fn signal(&self, to: Pid, signal: Signal) -> Result<(), RouteError>;

    /// Stops distribution for good, as the last step of [`Node::shutdown_graceful`](crate::Node::shutdown_graceful),
    /// within `within`: what is queued for peers (the exit signals of the actors that just
    /// stopped) is sent, then connections close (peers see this node go down) and none is made
    /// afterwards.
    fn shutdown(&self, within: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        let _ = within;
        Box::pin(async {})
    }
}
