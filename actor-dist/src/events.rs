//! Node up/down events.

use std::net::SocketAddr;

/// Why a connection to a node ended (OTP's nodedown reasons, plus `auth_failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// The peer closed the connection, or it broke.
    ConnectionClosed,
    /// Nothing was received for a whole tick time.
    NetTickTimeout,
    /// Disconnected on purpose (by either side).
    Disconnect,
    /// The connection could not be set up (refused, unreachable, handshake timeout...).
    ConnectionSetupFailed(String),
    /// The peer does not share our cookie.
    AuthFailed,
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
    /// The connection to `node` is gone (or could not be made).
    Down {
        /// The node's name.
        node: String,
        /// Why.
        reason: DownReason,
    },
}
