//! Process identifiers: [`Pid`], [`NodeId`] and unique references ([`Ref`]).
//!
//! A pid names one actor in the whole cluster. It is plain data (`Copy`) so it can be stored,
//! compared, hashed and sent in messages; it does not keep the actor alive and carries no
//! route. A pid from an earlier incarnation of a node differs in `creation`, so it is
//! recognisably dead (`noproc`) even though its `id` may look familiar.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable identifier of a node: the 64-bit FNV-1a hash of its name (`name@host`).
///
/// Every node computes the same `NodeId` for the same name, so a [`Pid`] means the same thing
/// everywhere. The distribution layer refuses a peer whose name hashes to an id already in use
/// by another name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl NodeId {
    /// The id of the node called `name`.
    ///
    /// ```
    /// use actor_core::NodeId;
    /// assert_eq!(NodeId::from_name("a@host"), NodeId::from_name("a@host"));
    /// assert_ne!(NodeId::from_name("a@host"), NodeId::from_name("b@host"));
    /// ```
    pub const fn from_name(name: &str) -> NodeId {
        let bytes = name.as_bytes();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        NodeId(hash)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", (self.0 >> 32) as u32)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:016x})", self.0)
    }
}

/// A process identifier: which node, which process on it, which incarnation of the node.
///
/// Displayed as `<node.id.creation>`, with the node shown as the first 8 hex digits of its
/// [`NodeId`], e.g. `<3fa2b1c4.42.7>`.
///
/// ```
/// use actor_core::{NodeId, Pid};
/// let pid = Pid { node: NodeId(0x3fa2_b1c4_0000_0001), id: 42, creation: 7 };
/// assert_eq!(pid.to_string(), "<3fa2b1c4.42.7>");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pid {
    /// The node the process lives on.
    pub node: NodeId,
    /// Process number, unique within one incarnation of the node and never reused.
    pub id: u64,
    /// Incarnation of the node; changes every time the node starts.
    pub creation: u32,
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}.{}.{}>", self.node, self.id, self.creation)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A unique reference, as made by Erlang's `make_ref()`: used for monitors and timers.
///
/// Unique per node incarnation; `Copy`, ordered and serialisable.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ref {
    /// The node that made the reference.
    pub node: NodeId,
    /// Sequence number on that node.
    pub id: u64,
    /// Incarnation of the node that made it.
    pub creation: u32,
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<{}.{}.{}>", self.node, self.id, self.creation)
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The reference returned by a monitor; it appears again in the matching [`Down`](crate::Down).
pub type MonitorRef = Ref;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_orders_by_node_then_id() {
        let a = Pid {
            node: NodeId(1),
            id: 9,
            creation: 1,
        };
        let b = Pid {
            node: NodeId(2),
            id: 1,
            creation: 1,
        };
        let c = Pid {
            node: NodeId(1),
            id: 10,
            creation: 1,
        };
        assert!(a < b && a < c && c < b);
    }

    #[test]
    fn node_id_is_stable_fnv1a() {
        // FNV-1a of the empty string is the offset basis: stable across builds and platforms.
        assert_eq!(NodeId::from_name("").0, 0xcbf2_9ce4_8422_2325);
        assert_eq!(NodeId::from_name("a").0, 0xaf63_dc4c_8601_ec8c);
    }
}
