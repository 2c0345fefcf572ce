//! What lock servers say to each other: requests from clients, and the tables they exchange
//! when two nodes meet again.

use actor_core::{Pid, ReplyTo};
use actor_dist::Message;
use serde::{Deserialize, Serialize};

/// A lock server's answer to an acquire request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Grant {
    /// The holder now holds the lock on this node.
    Granted,
    /// Another requester holds it and the request did not want to wait.
    Busy,
    /// The server refused: too many waiters or resources, or a resource name too long.
    Refused,
}

/// One held lock in a table exchanged after a reconnect: resource, requester, holders.
pub(crate) type HeldEntry = (String, String, Vec<Pid>);

/// The lock server's messages (sent on the system lane).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum LockMsg {
    /// Take `resource` for `holder` on behalf of `requester` (processes with one requester
    /// share the lock, as OTP's `LockRequesterId`). With `wait`, queue until it is free.
    Acquire {
        resource: String,
        requester: String,
        holder: Pid,
        /// The attempt (unique per requesting node's [`Locks`](super::Locks)), which its
        /// release names.
        tag: u64,
        wait: bool,
        reply: ReplyTo<Grant>,
    },
    /// `holder` lets go of `resource` (or stops waiting for it): what attempt `tag` took, or
    /// everything with `None`.
    Release {
        resource: String,
        holder: Pid,
        tag: Option<u64>,
    },
    /// `holder` lets go of `resource` here, then on the lock servers `peers` (sent by a guard
    /// to its own node's server, so that the release follows any table sent to them before).
    ReleaseAll {
        resource: String,
        holder: Pid,
        tag: Option<u64>,
        peers: Vec<Pid>,
    },
    /// Who holds `resource` on this node: the requester and the holders.
    Holders {
        resource: String,
        reply: ReplyTo<Option<(String, Vec<Pid>)>>,
    },
    /// Send this node's table to the lock server `peer` (a node just came up).
    SyncWith { peer: Pid },
    /// The table of the lock server `from`: the locks its node's processes hold.
    Held { from: Pid, entries: Vec<HeldEntry> },
}

impl Message for LockMsg {
    const NAME: &'static str = "actor_cluster.Lock";
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The decoder is total: arbitrary bytes decode or fail, never panic.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = postcard::from_bytes::<LockMsg>(&bytes);
        }
    }
}
