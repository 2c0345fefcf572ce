//! Typed errors: bad use of the registry returns one of these, never a panic.

use crate::key::{Key, Kind, Value};
use actor_core::{Pid, RefError};
use std::time::Duration;

/// Why a registry operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The unique key (or this holder's property or counter) is already registered.
    #[error("{kind:?} {key:?} is already registered by {holder}")]
    AlreadyRegistered {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
        /// Who holds it.
        holder: Pid,
    },
    /// `pid` does not hold this key (unregister, set_value, update_counter).
    #[error("{pid} does not hold {kind:?} {key:?}")]
    NotHolder {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
        /// The process that was named.
        pid: Pid,
    },
    /// No entry with this key.
    #[error("{kind:?} {key:?} is not registered")]
    NotRegistered {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
    },
    /// `update_counter` on a key that `pid` holds as another kind.
    #[error("{pid} holds {key:?} as {actual:?}, not as a counter")]
    NotACounter {
        /// The key.
        key: Key,
        /// The process that was named.
        pid: Pid,
        /// The kind it is registered as.
        actual: Kind,
    },
    /// The operation needs a unique kind (name or aggregated counter).
    #[error("{0:?} keys are not unique; use lookup_values")]
    NotUnique(Kind),
    /// Counters hold integers.
    #[error("a counter holds an integer, not {0:?}")]
    NotAnInteger(Value),
    /// An aggregated counter's value is computed; it cannot be set.
    #[error("the value of aggregated counter {0:?} is computed, not set")]
    Computed(Key),
    /// The counter would overflow `i64`.
    #[error("counter {key:?} of {pid} would overflow")]
    Overflow {
        /// The key.
        key: Key,
        /// The holder.
        pid: Pid,
    },
    /// The process is not alive.
    #[error("{0} is not alive")]
    NoProc(Pid),
    /// Processes register (and join groups) on their own node, in either scope.
    #[error("{0} is not a process of this node")]
    NotLocal(Pid),
    /// `leave` for a process that is not a member of the group (as often as listed).
    #[error("{pid} is not a member of group {group:?}")]
    NotJoined {
        /// The group.
        group: Key,
        /// The process.
        pid: Pid,
    },
    /// Global scope: `node` already had the key for another process, and the resolver kept
    /// that one; this registration is withdrawn everywhere and its holder told.
    #[error("{kind:?} {key:?} lost a conflict on {node}")]
    Conflict {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
        /// The node that reported the conflict.
        node: String,
    },
    /// Global scope: these nodes did not confirm the registration in time (it stands, and
    /// still propagates).
    #[error("{kind:?} {key:?} not confirmed in time by {nodes:?}")]
    SyncTimeout {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
        /// The nodes that did not answer.
        nodes: Vec<String>,
    },
}

/// [`GlobalRegistry::sync`](crate::GlobalRegistry::sync) gave up: these connected nodes
/// had not exchanged state with this replica in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not synced with {nodes:?} within {after:?}")]
pub struct NotSynced {
    /// The nodes still unsynced, sorted.
    pub nodes: Vec<String>,
    /// How long it waited.
    pub after: Duration,
}

/// [`Registry::await_name`](crate::Registry::await_name) gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key:?} was not registered within {after:?}")]
pub struct Timeout {
    /// The awaited key.
    pub key: Key,
    /// How long it waited.
    pub after: Duration,
}

/// [`Registry::send`](crate::Registry::send) could not deliver to a unique key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySendError {
    /// Nobody holds the key.
    #[error("{kind:?} {key:?} is not registered")]
    NotRegistered {
        /// Kind of the key.
        kind: Kind,
        /// The key.
        key: Key,
    },
    /// The holder could not be reached with this message type (dead, or another type).
    #[error(transparent)]
    Ref(#[from] RefError),
    /// The message could not be encoded for another node.
    #[error("message does not encode: {0}")]
    Encode(String),
    /// The holder's mailbox refused the message (exited meanwhile, or full).
    #[error("{pid} did not accept the message: {reason}")]
    Undelivered {
        /// The holder.
        pid: Pid,
        /// Why, as [`actor_core::SendError`] put it.
        reason: String,
    },
}
