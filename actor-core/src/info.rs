//! What the runtime can say about a live process, for operator tools (OTP's
//! `erlang:process_info/1`, `erlang:processes/0` and `sys:get_state/1`).
//!
//! [`Node::process_info`] and [`Node::process_infos`] read what the runtime already keeps:
//! the mailbox (length, and whether the actor is parked waiting for a message), the signal
//! state (links, monitors, trap_exit, a decided exit), the registered name, and the label an
//! actor may set ([`Context::set_label`](crate::Context::set_label), OTP 27's
//! `proc_lib:set_label/1`). None of it costs the message path anything.
//!
//! [`Node::describe`] asks the actor itself, through a system message it answers between
//! messages with [`Actor::describe`](crate::Actor::describe) (a state machine reports its
//! state name, any actor a short summary of its data). Like `sys:get_state`, it waits behind
//! the messages already queued, so a busy actor answers late or not within the timeout.
//!
//! Where this differs from OTP: Rust has no "current function" to report; `actor` is the
//! actor's type (OTP's initial call), and the state name comes from the actor's own hook.

use crate::node::Node;
use crate::pid::Pid;
use crate::process::Process;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a process is doing, as far as the runtime can tell without asking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessStatus {
    /// Parked: nothing queued, waiting for a message.
    Waiting,
    /// Not parked: working through a batch of messages, inside a handler (which may itself
    /// be awaiting something, such as a call to another actor), or woken by a message and
    /// not yet scheduled. OTP tells `running` from `runnable`; the runtime here cannot
    /// without a cost per message, so both are `Running`.
    Running,
    /// Its exit reason is decided; cleanup is running.
    Exiting,
}

impl std::fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProcessStatus::Waiting => "waiting",
            ProcessStatus::Running => "running",
            ProcessStatus::Exiting => "exiting",
        })
    }
}

/// One process as the runtime sees it (OTP `process_info/1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// Its registered name on this node ([`Node::register`]), if any.
    pub name: Option<String>,
    /// The label it set for itself ([`Context::set_label`](crate::Context::set_label)).
    pub label: Option<String>,
    /// The actor's type (OTP's initial call), e.g. `statem::Statem<app::Lock>`.
    pub actor: String,
    /// What it is doing.
    pub status: ProcessStatus,
    /// Envelopes waiting in its mailbox (user messages and system messages; not the batch it
    /// is working through).
    pub message_queue_len: usize,
    /// Its links.
    pub links: usize,
    /// Monitors held on it.
    pub monitors: usize,
    /// Whether it traps exits.
    pub trap_exit: bool,
}

/// What an actor says about itself when asked ([`Actor::describe`](crate::Actor::describe),
/// OTP `sys:get_state/1` and `format_status/1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorState {
    /// The current state's name, for a state machine.
    pub state: Option<String>,
    /// A short human-readable summary of its data. Never secrets: this is shown to
    /// operators.
    pub summary: Option<String>,
}

/// Why [`Node::describe`] got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    /// Not a live process of this node.
    #[error("{0} is not a live process of this node")]
    NoProc(Pid),
    /// It did not answer in time (busy, or a long mailbox ahead of the request).
    #[error("{0} did not answer in time")]
    Timeout(Pid),
}

impl Node {
    /// What the runtime knows about the local process `pid` (OTP `process_info/1`); `None`
    /// if it is not a live local process. Cheap: no message is sent to the process.
    pub fn process_info(&self, pid: Pid) -> Option<ProcessInfo> {
        self.lookup(pid).map(|p| self.info_of(&*p))
    }

    /// [`process_info`](Node::process_info) of every live process, in pid order (OTP
    /// `processes/0` then `process_info/1`; a snapshot, each process read once).
    pub fn process_infos(&self) -> Vec<ProcessInfo> {
        let mut v: Vec<ProcessInfo> = self
            .inner
            .table
            .snapshot()
            .iter()
            .map(|p| self.info_of(&**p))
            .collect();
        v.sort_by_key(|i| i.pid);
        v
    }

    fn info_of(&self, p: &dyn Process) -> ProcessInfo {
        let core = p.core();
        let (queued, parked, closed) = p.mailbox_status();
        let (exiting, links, monitors, label) = {
            let st = core.state.lock();
            let extra = st.extra.as_ref();
            (
                st.exit.is_some() || closed,
                st.links.len(),
                extra.map_or(0, |e| e.monitors.len()),
                extra.and_then(|e| e.label.clone()),
            )
        };
        let status = if exiting {
            ProcessStatus::Exiting
        } else if parked {
            ProcessStatus::Waiting
        } else {
            ProcessStatus::Running
        };
        ProcessInfo {
            pid: core.pid,
            name: self.name_of(core.pid),
            label,
            actor: p.actor_type().to_string(),
            status,
            message_queue_len: queued,
            links,
            monitors,
            trap_exit: core.traps_exit(),
        }
    }

    /// Asks the local process `pid` to describe itself ([`Actor::describe`](crate::Actor::describe),
    /// OTP `sys:get_state/2` with a timeout). The request is a system message: it is answered
    /// after the messages already queued, between two messages, never inside a handler.
    pub async fn describe(&self, pid: Pid, timeout: Duration) -> Result<ActorState, DescribeError> {
        let p = self.lookup(pid).ok_or(DescribeError::NoProc(pid))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        if !p.push_sys(crate::mailbox::SysMsg::Describe(tx)) {
            return Err(DescribeError::NoProc(pid));
        }
        drop(p);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(s)) => Ok(s),
            // The actor exited with the request queued.
            Ok(Err(_)) => Err(DescribeError::NoProc(pid)),
            Err(_) => Err(DescribeError::Timeout(pid)),
        }
    }
}
