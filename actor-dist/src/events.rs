//! Node up/down events.

use std::net::SocketAddr;

/// Why a connection to a node ended (OTP's nodedown reasons), or why a connection attempt
/// failed (the error of [`Dist::connect`](crate::Dist::connect)). Only a connection that was up
/// ends with a [`NodeEvent::Down`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// The peer closed the connection, or it broke.
    ConnectionClosed,
    /// Nothing was received for a whole tick time.
    NetTickTimeout,
    /// Disconnected on purpose (by either side).
    Disconnect,
    /// The peer left on purpose: it announced a graceful leave (a cluster layer's `leave`),
    /// and the connection was then closed ([`Dist::disconnect_with`](crate::Dist::disconnect_with)).
    Shutdown,
    /// The connection could not be set up (refused, unreachable, handshake timeout...).
    ConnectionSetupFailed(String),
    /// The peer does not share our cookie (a connect's error only: a failed authentication is
    /// reported as [`NodeEvent::AuthFailed`], never as a node going down).
    AuthFailed,
}

/// Why an authentication failed ([`NodeEvent::AuthFailed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The cookie proofs did not match: the peer does not share our cookie.
    CookieMismatch,
}

/// What is known about a connected node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its name.
    pub name: String,
    /// Its incarnation.
    pub creation: u32,
    /// Whether it is hidden.
    pub hidden: bool,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its application version.
    pub app_version: String,
}

/// A node came up or went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A connection to `node` is up.
    Up(NodeInfo),
    /// The connection to `node`, which was up, is gone. A connection that never came up
    /// ends with no event (its `connect` returns the error).
    Down {
        /// The node's name.
        node: String,
        /// Why.
        reason: DownReason,
    },
    /// A peer failed to authenticate. Nothing about the node it claimed to be changed: this
    /// is never a node going down, and a node that is up stays up.
    AuthFailed {
        /// The peer's address.
        addr: SocketAddr,
        /// The name it claimed (or, for a connection we made, the name we dialled).
        claimed_name: String,
        /// Why.
        reason: AuthFailure,
    },
}
