//! Checked references to remote pids: ask the owning node whether the pid is alive and takes
//! the message type, before handing out an `ActorRef<M>`.

use crate::dist::{Dist, Inner};
use crate::message::Message;
use crate::rpc::RpcError;
use actor_core::{ActorRef, Pid, RefError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The rpc function every node serves for [`Dist::actor_ref_checked`]. It is not subject to
/// the rpc allow-list: it tells no more than a send would.
pub(crate) const CHECK_FN: &str = "$dist.check";

/// How long [`Dist::actor_ref_checked`] waits for the owning node.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The owning node's answer.
#[derive(Serialize, Deserialize)]
enum Check {
    Ok,
    NoProc,
    UnknownType,
    WrongType(String),
}

/// Why [`Dist::actor_ref_checked`] gave no reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckedRefError {
    /// No such live process.
    #[error("noproc: {0} is not alive")]
    NoProc(Pid),
    /// The process takes another message type.
    #[error("{pid} takes messages of type {actual}, not {expected}")]
    WrongType {
        /// The process.
        pid: Pid,
        /// The type asked for.
        expected: &'static str,
        /// The type the process takes.
        actual: String,
    },
    /// The owning node does not know the message type (not registered, or another version).
    #[error("the node of {pid} does not know message type {ty}")]
    UnknownType {
        /// The process.
        pid: Pid,
        /// The type asked for.
        ty: &'static str,
    },
    /// The owning node is down or could not be reached.
    #[error("node {0} is down")]
    NodeDown(String),
    /// No answer in time.
    #[error("no answer from the owning node in time")]
    Timeout,
}

pub(crate) fn install(dist: &Dist) {
    let inner = Arc::downgrade(&dist.inner);
    dist.register_rpc(CHECK_FN, move |(pid, tag): (Pid, u64)| {
        let inner = inner.upgrade();
        async move {
            let Some(inner) = inner else {
                return Check::NoProc;
            };
            check_local(&inner, pid, tag)
        }
    });
}

fn check_local(inner: &Inner, pid: Pid, tag: u64) -> Check {
    if pid.node != inner.node.id() {
        return Check::NoProc;
    }
    let Some(dec) = inner.decoder(tag) else {
        return Check::UnknownType;
    };
    match dec.check(&inner.node, pid) {
        Ok(()) => Check::Ok,
        Err(RefError::WrongType { actual, .. }) => Check::WrongType(actual.to_string()),
        Err(_) => Check::NoProc,
    }
}

impl Dist {
    /// A typed reference to `pid` after asking its node whether it is alive and takes `M`
    /// (a local pid is checked at once). Where [`Dist::actor_ref`] trusts the caller and
    /// lets the receiving node refuse a wrong type message by message, this fails up front,
    /// as a local checked conversion does.
    pub async fn actor_ref_checked<M: Message>(
        &self,
        pid: Pid,
    ) -> Result<ActorRef<M>, CheckedRefError> {
        if pid.node == self.inner.node.id() {
            return self.inner.node.actor_ref(pid).map_err(|e| match e {
                RefError::WrongType { actual, .. } => CheckedRefError::WrongType {
                    pid,
                    expected: M::NAME,
                    actual: actual.to_string(),
                },
                _ => CheckedRefError::NoProc(pid),
            });
        }
        let node = self.inner.node_name(pid.node);
        let answer: Result<Check, RpcError> = self
            .call(&node, CHECK_FN, &(pid, M::tag()), CHECK_TIMEOUT)
            .await;
        match answer {
            Ok(Check::Ok) => Ok(self.inner.remote_ref(pid)),
            Ok(Check::NoProc) => Err(CheckedRefError::NoProc(pid)),
            Ok(Check::UnknownType) => Err(CheckedRefError::UnknownType { pid, ty: M::NAME }),
            Ok(Check::WrongType(actual)) => Err(CheckedRefError::WrongType {
                pid,
                expected: M::NAME,
                actual,
            }),
            Err(RpcError::Timeout) => Err(CheckedRefError::Timeout),
            Err(_) => Err(CheckedRefError::NodeDown(node)),
        }
    }
}
