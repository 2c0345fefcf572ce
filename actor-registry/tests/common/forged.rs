//! The registry's sync message as a peer could forge or send it (the same layout as
//! `actor_registry`'s own, which is private): for tests of what a replica does with
//! well-formed but invalid or skewed operations.

use super::cluster::{SCOPE, T};
use actor_core::{ExitReason, Pid, ReplyTo};
use actor_dist::{Dist, Message};
use actor_registry::{Key, Kind, Value};
use serde::{Deserialize, Serialize};

/// The registry's sync message, as a peer could forge it (same layout).
#[derive(Serialize, Deserialize)]
pub enum Forged {
    Discover {
        from: Pid,
        scope: String,
    },
    Ack {
        from: Pid,
        scope: String,
        state: Vec<ForgedOp>,
        more: bool,
    },
    Ops {
        from: Pid,
        ops: Vec<ForgedOp>,
        ack: Option<ReplyTo<bool>>,
    },
}
impl Message for Forged {
    const NAME: &'static str = "actor_registry.Sync";
}

#[derive(Serialize, Deserialize)]
pub enum ForgedOp {
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
}

/// The registry server of the scope `SCOPE` on node `on`, asked from `from`.
pub async fn server_of(from: &Dist, on: &str) -> Pid {
    from.call::<(), Option<Pid>>(on, &format!("actor_registry.whereis/{SCOPE}"), &(), T)
        .await
        .unwrap()
        .unwrap()
}
