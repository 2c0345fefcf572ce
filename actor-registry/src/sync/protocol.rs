//! The protocol: the changes (`Op`) and messages (`SyncMsg`) replicas exchange.

use crate::key::{Key, Kind, Value};
use actor_core::{ExitReason, Pid, ReplyTo};
use actor_dist::Message;
use serde::{Deserialize, Serialize};

/// One change to what a node's processes hold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Reg {
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
        at: u64,
    },
    Unreg {
        kind: Kind,
        key: Key,
        pid: Pid,
    },
    Set {
        kind: Kind,
        key: Key,
        pid: Pid,
        value: Value,
    },
    Exit {
        pid: Pid,
        reason: ExitReason,
    },
    Join {
        group: Key,
        pids: Vec<Pid>,
    },
    Leave {
        group: Key,
        pids: Vec<Pid>,
    },
}

impl Op {
    /// The pids the change is about (all must belong to the sending node).
    pub(crate) fn pids(&self) -> &[Pid] {
        match self {
            Op::Reg { pid, .. } | Op::Unreg { pid, .. } | Op::Set { pid, .. } => {
                std::slice::from_ref(pid)
            }
            Op::Exit { pid, .. } => std::slice::from_ref(pid),
            Op::Join { pids, .. } | Op::Leave { pids, .. } => pids,
        }
    }
}

/// What replicas send each other's servers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum SyncMsg {
    /// "I am the scope's server on my node; send me your state."
    /// `hidden`: the sender opted in to take part although its node may be hidden.
    Discover {
        from: Pid,
        scope: String,
        hidden: bool,
    },
    /// The full state of the sender's own processes, in chunks: `more` on every chunk but the
    /// last; the receiver merges once it has the last.
    Ack {
        from: Pid,
        scope: String,
        state: Vec<Op>,
        more: bool,
    },
    /// Changes, in order; with `ack`, the receiver answers whether every registration in
    /// `ops` is held after applying them (it may have lost a conflict there).
    Ops {
        from: Pid,
        ops: Vec<Op>,
        ack: Option<ReplyTo<bool>>,
    },
    /// A message for every local holder of `(kind, key)`: pub/sub, once per node.
    Publish {
        from: Pid,
        kind: Kind,
        key: Key,
        tag: u64,
        payload: Vec<u8>,
    },
    /// "Your node is hidden and did not opt in: we will not be peers." The sender's
    /// discovery of this node stops until the two reconnect.
    Refused { from: Pid, scope: String },
    /// A third replica saw two holders of one name, the loser on the receiver's node: in a
    /// partial mesh (a one-way cut, a lost link) the two holders' nodes may not be peers and
    /// would never meet. The receiver decides again with the same two candidates (so the same
    /// resolver reaches the same answer) and withdraws its loser. `both`: OTP's
    /// `notify_all_name`, neither keeps it.
    Settle {
        from: Pid,
        kind: Kind,
        key: Key,
        loser: Pid,
        loser_at: u64,
        winner: Pid,
        winner_at: u64,
        both: bool,
    },
}

impl Message for SyncMsg {
    const NAME: &'static str = "actor_registry.Sync";
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The sync decoder is total: arbitrary bytes decode or fail, never panic.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = postcard::from_bytes::<SyncMsg>(&bytes);
        }

    }
}
