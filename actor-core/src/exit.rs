//! Exit reasons and the messages that carry them ([`ExitReason`], [`Down`]).

use crate::pid::{MonitorRef, Pid};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an actor stopped, or the reason carried by an exit signal.
///
/// The OTP names: `normal`, `shutdown`, `{shutdown, Term}`, `kill`/`killed`, `noproc`,
/// `noconnection`, plus a caught panic and user reasons. Reasons are plain data and cross node
/// boundaries unchanged.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExitReason {
    /// The actor finished its work. Linked actors that do not trap exits ignore it.
    Normal,
    /// Ordered shutdown, usually by a supervisor.
    Shutdown,
    /// Ordered shutdown with a detail (OTP's `{shutdown, Term}`); counts as a clean exit.
    ShutdownWith(String),
    /// The untrappable signal given to [`Node::exit`](crate::Node::exit). An actor it reaches
    /// exits with [`Killed`](ExitReason::Killed).
    Kill,
    /// The actor was ended by a `kill` signal.
    Killed,
    /// The process does not exist (or no longer exists).
    NoProc,
    /// The connection to the process's node was lost.
    NoConnection,
    /// A handler panicked; the panic message.
    Panic(String),
    /// A reason given by user code.
    Error(String),
}

impl ExitReason {
    /// `true` only for [`Normal`](ExitReason::Normal): the one reason linked actors ignore.
    pub fn is_normal(&self) -> bool {
        matches!(self, ExitReason::Normal)
    }

    /// `true` for `normal`, `shutdown` and `{shutdown, _}`: the reasons after which a
    /// *transient* child is not restarted and which a supervisor does not report as errors.
    pub fn is_clean(&self) -> bool {
        matches!(
            self,
            ExitReason::Normal | ExitReason::Shutdown | ExitReason::ShutdownWith(_)
        )
    }

    /// A user reason.
    pub fn error(msg: impl Into<String>) -> ExitReason {
        ExitReason::Error(msg.into())
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(d) => write!(f, "{{shutdown, {d}}}"),
            ExitReason::Kill => f.write_str("kill"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::NoConnection => f.write_str("noconnection"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            ExitReason::Error(m) => write!(f, "{m}"),
        }
    }
}

impl fmt::Debug for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A monitor fired: the monitored process `pid` exited with `reason`
/// (OTP's `{'DOWN', Ref, process, Pid, Reason}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Down {
    /// The reference [`Context::monitor`](crate::Context::monitor) returned.
    pub mref: MonitorRef,
    /// The process that exited.
    pub pid: Pid,
    /// Its exit reason (`noproc` if it was already dead when monitored).
    pub reason: ExitReason,
}

/// Turns a caught panic payload into a readable message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_reasons_follow_otp() {
        assert!(ExitReason::Normal.is_clean());
        assert!(ExitReason::Shutdown.is_clean());
        assert!(ExitReason::ShutdownWith("x".into()).is_clean());
        assert!(!ExitReason::Killed.is_clean());
        assert!(!ExitReason::Panic("p".into()).is_clean());
        assert!(!ExitReason::Shutdown.is_normal());
    }
}
