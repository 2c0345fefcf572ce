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
    ShutdownWith(Term),
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
    /// A reason given by user code: a small term a caller can match (see [`Term`]).
    /// [`ExitReason::error`] makes one from text.
    Error(Term),
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

    /// A user reason: text (`ExitReason::error("disk full")`) or any [`Term`]
    /// (`ExitReason::error(Term::tuple([Term::atom("quota"), 3.into()]))`).
    pub fn error(reason: impl Into<Term>) -> ExitReason {
        ExitReason::Error(reason.into())
    }

    /// `{shutdown, Detail}`: an ordered shutdown with a detail.
    pub fn shutdown_with(detail: impl Into<Term>) -> ExitReason {
        ExitReason::ShutdownWith(detail.into())
    }

    /// The user term of an [`Error`](ExitReason::Error) or the detail of a
    /// [`ShutdownWith`](ExitReason::ShutdownWith), for matching.
    pub fn term(&self) -> Option<&Term> {
        match self {
            ExitReason::Error(t) | ExitReason::ShutdownWith(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::ShutdownWith(Term::Str(d)) => write!(f, "{{shutdown, {d}}}"),
            ExitReason::ShutdownWith(d) => write!(f, "{{shutdown, {d}}}"),
            ExitReason::Kill => f.write_str("kill"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::NoProc => f.write_str("noproc"),
            ExitReason::NoConnection => f.write_str("noconnection"),
            ExitReason::Panic(m) => write!(f, "panic: {m}"),
            // Text reads as it was given; other terms in Erlang syntax.
            ExitReason::Error(Term::Str(m)) => f.write_str(m),
            ExitReason::Error(t) => write!(f, "{t}"),
        }
    }
}

/// A small serialisable term: the data of a user exit reason (OTP reasons are terms, such as
/// `{quota_exceeded, Tenant, 3}`), that crosses nodes unchanged and can be matched by callers.
///
/// ```
/// use actor_core::{ExitReason, Term};
///
/// let reason = ExitReason::error(Term::tuple([Term::atom("quota_exceeded"), "acme".into(), 3.into()]));
/// assert_eq!(reason.to_string(), r#"{quota_exceeded, "acme", 3}"#);
/// match reason.term() {
///     Some(Term::Tuple(t)) if t.first() == Some(&Term::atom("quota_exceeded")) => {}
///     other => panic!("unexpected {other:?}"),
/// }
/// // Text stays text.
/// assert_eq!(ExitReason::error("disk full").to_string(), "disk full");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Term {
    /// An atom, such as `name_conflict`.
    Atom(String),
    /// An integer.
    Int(i64),
    /// Text.
    Str(String),
    /// A process id.
    Pid(Pid),
    /// A fixed-size group, `{A, B}`.
    Tuple(Vec<Term>),
    /// A list, `[A, B]`.
    List(Vec<Term>),
}

impl Term {
    /// An atom.
    pub fn atom(name: impl Into<String>) -> Term {
        Term::Atom(name.into())
    }

    /// A tuple of the given elements.
    pub fn tuple(items: impl IntoIterator<Item = Term>) -> Term {
        Term::Tuple(items.into_iter().collect())
    }

    /// A list of the given elements.
    pub fn list(items: impl IntoIterator<Item = Term>) -> Term {
        Term::List(items.into_iter().collect())
    }

    /// The text of a [`Str`](Term::Str) or the name of an [`Atom`](Term::Atom).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Term::Str(s) | Term::Atom(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Term {
    fn from(s: &str) -> Term {
        Term::Str(s.to_string())
    }
}

impl From<String> for Term {
    fn from(s: String) -> Term {
        Term::Str(s)
    }
}

impl From<i64> for Term {
    fn from(n: i64) -> Term {
        Term::Int(n)
    }
}

impl From<i32> for Term {
    fn from(n: i32) -> Term {
        Term::Int(n as i64)
    }
}

impl From<Pid> for Term {
    fn from(p: Pid) -> Term {
        Term::Pid(p)
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, items: &[Term]) -> fmt::Result {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{t}")?;
    }
    Ok(())
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Atom(a) => f.write_str(a),
            Term::Int(n) => write!(f, "{n}"),
            Term::Str(s) => write!(f, "{s:?}"),
            Term::Pid(p) => write!(f, "{p}"),
            Term::Tuple(items) => {
                f.write_str("{")?;
                write_seq(f, items)?;
                f.write_str("}")
            }
            Term::List(items) => {
                f.write_str("[")?;
                write_seq(f, items)?;
                f.write_str("]")
            }
        }
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
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
        assert!(ExitReason::shutdown_with("x").is_clean());
        assert!(!ExitReason::Killed.is_clean());
        assert!(!ExitReason::Panic("p".into()).is_clean());
        assert!(!ExitReason::Shutdown.is_normal());
    }

    #[test]
    fn terms_survive_the_wire_and_print_as_erlang() {
        let pid = Pid {
            node: crate::NodeId(9),
            id: 4,
            creation: 2,
        };
        let r = ExitReason::error(Term::tuple([
            Term::atom("conflict"),
            pid.into(),
            Term::list([1.into(), "two".into()]),
        ]));
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert_eq!(postcard::from_bytes::<ExitReason>(&bytes).unwrap(), r);
        assert_eq!(r.to_string(), format!("{{conflict, {pid}, [1, \"two\"]}}"));
        assert_eq!(
            ExitReason::shutdown_with("bye").to_string(),
            "{shutdown, bye}"
        );
    }
}
