//! Why an entity operation failed, and how refusals travel between nodes: as exit-reason
//! terms (a refused write's reply handle, a failed activation's start) and as the activation
//! rpc's error, so that a caller on any node gets the typed variant, never only text.

use crate::log::LogError;
use actor_cluster::membership::{NotQuorate, QuorumState};
use actor_core::{CallError, ExitReason, Term};
use actor_journal::JournalError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a call, cast or activation by key failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntityError {
    /// The kind is not registered on this node ([`Entities::register`](crate::Entities::register)).
    #[error("entity kind {0:?} is not registered")]
    UnknownKind(String),
    /// No node could take the activation (none registered the kind, or placement chose none).
    #[error("no node to activate {kind}/{key} on")]
    NoNode {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
    },
    /// The node that would write is not on a quorate side of the cluster
    /// ([`EntityConfig::quorum`](crate::EntityConfig::quorum)): a write (an event that would
    /// change the entity's state) was refused before the machine advanced (it was not
    /// applied, no receipt was written, the entity keeps serving reads), or an activation
    /// was refused (the key may be active on the other side). Retry after the heal, or
    /// configure [`MinorityWrites::Queue`](crate::MinorityWrites::Queue).
    #[error("{kind}/{key}: {error}")]
    NotQuorate {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// The refusing node's quorum state.
        error: NotQuorate,
    },
    /// A write refused on the minority side could not be queued: the queue holds its maximum
    /// ([`MinorityWrites::Queue`](crate::MinorityWrites::Queue)). It was not applied.
    #[error("{kind}/{key}: not quorate and the write queue is full ({max} queued)")]
    QueueFull {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// The queue's bound.
        max: usize,
    },
    /// A queued write waited this long without the quorum coming back. It was not applied.
    #[error("{kind}/{key}: the write waited {waited:?} in the queue for the quorum")]
    QueueTimeout {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The receipt log refused or failed: no quorum of replicas, a full disk, an I/O error,
    /// a newer epoch. Nothing of the operation was acknowledged. A journal error reported by
    /// another node keeps its kind for `Fenced` and `Full` and arrives as
    /// [`JournalError::Storage`] (its text) otherwise.
    #[error("{kind}/{key}: receipt log: {error}")]
    Log {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// The log's error.
        error: LogError,
    },
    /// The activation reached was fenced by a newer one (a stale epoch) and no newer one
    /// could be reached within the retries; nothing of the request was made durable.
    #[error("{kind}/{key}: the activation was fenced by a newer epoch")]
    Fenced {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
    },
    /// The activation failed otherwise: the node asked failed or timed out, the last state
    /// does not decode, the node is leaving.
    #[error("activating {kind}/{key} failed: {reason}")]
    Activation {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The call reached the entity and failed: its node went down, it timed out, or the entity
    /// exited while handling it (then whether it took effect is unknown, as with any call).
    #[error("call to {kind}/{key} failed: {error}")]
    Call {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
        /// Why.
        error: CallError,
    },
}

impl EntityError {
    /// Whether this is a minority-side refusal ([`EntityError::NotQuorate`]).
    pub fn is_not_quorate(&self) -> bool {
        matches!(self, EntityError::NotQuorate { .. })
    }
}

/// A refusal as it travels: the typed causes, or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    UnknownKind,
    NoNode,
    NotQuorate { state: u8, side: u64, members: u64 },
    LogFenced { promised: u64 },
    LogNoQuorum { needed: u64, got: u64 },
    LogFull,
    LogOther(String),
    Other(String),
}

fn state_code(s: QuorumState) -> u8 {
    match s {
        QuorumState::Quorate => 0,
        QuorumState::Deciding => 1,
        QuorumState::Minority => 2,
    }
}

fn code_state(c: u8) -> QuorumState {
    match c {
        0 => QuorumState::Quorate,
        1 => QuorumState::Deciding,
        _ => QuorumState::Minority,
    }
}

impl Refusal {
    pub(crate) fn not_quorate(nq: &NotQuorate) -> Refusal {
        Refusal::NotQuorate {
            state: state_code(nq.state),
            side: nq.side as u64,
            members: nq.members as u64,
        }
    }

    pub(crate) fn log(e: &LogError) -> Refusal {
        match e {
            LogError::Fenced { promised } => Refusal::LogFenced {
                promised: *promised,
            },
            LogError::NoQuorum { needed, got } => Refusal::LogNoQuorum {
                needed: *needed as u64,
                got: *got as u64,
            },
            LogError::Journal(JournalError::Full) => Refusal::LogFull,
            LogError::Journal(e) => Refusal::LogOther(e.to_string()),
        }
    }

    /// The refusal of an [`EntityError`] (for the activation rpc); `prefix` (the node) goes
    /// before text.
    pub(crate) fn of(e: &EntityError, prefix: &str) -> Refusal {
        match e {
            EntityError::UnknownKind(_) => Refusal::UnknownKind,
            EntityError::NoNode { .. } => Refusal::NoNode,
            EntityError::NotQuorate { error, .. } => Refusal::not_quorate(error),
            EntityError::Log { error, .. } => Refusal::log(error),
            EntityError::Activation { reason, .. } => Refusal::Other(format!("{prefix}{reason}")),
            other => Refusal::Other(format!("{prefix}{other}")),
        }
    }

    /// The error of `kind`/`key` this refusal stands for.
    pub(crate) fn into_error(self, kind: &str, key: &str) -> EntityError {
        let (kind, key) = (kind.to_string(), key.to_string());
        let log = |error| EntityError::Log {
            kind: kind.clone(),
            key: key.clone(),
            error,
        };
        match self {
            Refusal::UnknownKind => EntityError::UnknownKind(kind),
            Refusal::NoNode => EntityError::NoNode { kind, key },
            Refusal::NotQuorate {
                state,
                side,
                members,
            } => EntityError::NotQuorate {
                kind,
                key,
                error: NotQuorate {
                    state: code_state(state),
                    side: side as usize,
                    members: members as usize,
                },
            },
            Refusal::LogFenced { promised } => log(LogError::Fenced { promised }),
            Refusal::LogNoQuorum { needed, got } => log(LogError::NoQuorum {
                needed: needed as usize,
                got: got as usize,
            }),
            Refusal::LogFull => log(LogError::Journal(JournalError::Full)),
            Refusal::LogOther(text) => log(LogError::Journal(JournalError::Storage(text))),
            Refusal::Other(reason) => EntityError::Activation { kind, key, reason },
        }
    }

    /// As an exit reason, readable in logs: `{entity_refused, not_quorate, minority, 1, 3}`,
    /// `{entity_refused, no_quorum, 2, 1}`, ...; as `{shutdown, _}` for a minority refusal
    /// (nothing is wrong with the activation: a refused write is undone and the activation
    /// lives on) and as an error otherwise.
    pub(crate) fn reason(&self) -> ExitReason {
        let int = |n: u64| Term::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let mut items = vec![Term::atom(REFUSED)];
        match self {
            Refusal::UnknownKind => items.push(Term::atom("unknown_kind")),
            Refusal::NoNode => items.push(Term::atom("no_node")),
            Refusal::NotQuorate {
                state,
                side,
                members,
            } => items.extend([
                Term::atom("not_quorate"),
                Term::atom(
                    STATES
                        .get(usize::from(*state))
                        .copied()
                        .unwrap_or("minority"),
                ),
                int(*side),
                int(*members),
            ]),
            Refusal::LogFenced { promised } => items.extend([Term::atom("fenced"), int(*promised)]),
            Refusal::LogNoQuorum { needed, got } => {
                items.extend([Term::atom("no_quorum"), int(*needed), int(*got)])
            }
            Refusal::LogFull => items.push(Term::atom("journal_full")),
            Refusal::LogOther(why) => items.extend([Term::atom("journal"), Term::Str(why.clone())]),
            Refusal::Other(why) => items.extend([Term::atom("other"), Term::Str(why.clone())]),
        }
        let term = Term::Tuple(items);
        match self {
            Refusal::NotQuorate { .. } => ExitReason::shutdown_with(term),
            _ => ExitReason::Error(term),
        }
    }

    /// The refusal an exit reason made by [`reason`](Refusal::reason) carries.
    pub(crate) fn from_reason(reason: &ExitReason) -> Option<Refusal> {
        let (ExitReason::ShutdownWith(Term::Tuple(items)) | ExitReason::Error(Term::Tuple(items))) =
            reason
        else {
            return None;
        };
        let int = |t: &Term| match t {
            Term::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        match items.as_slice() {
            [Term::Atom(tag), rest @ ..] if tag == REFUSED => match rest {
                [Term::Atom(a)] if a == "unknown_kind" => Some(Refusal::UnknownKind),
                [Term::Atom(a)] if a == "no_node" => Some(Refusal::NoNode),
                [Term::Atom(a), Term::Atom(state), side, members] if a == "not_quorate" => {
                    Some(Refusal::NotQuorate {
                        state: STATES.iter().position(|s| s == state)? as u8,
                        side: int(side)?,
                        members: int(members)?,
                    })
                }
                [Term::Atom(a), p] if a == "fenced" => {
                    Some(Refusal::LogFenced { promised: int(p)? })
                }
                [Term::Atom(a), n, g] if a == "no_quorum" => Some(Refusal::LogNoQuorum {
                    needed: int(n)?,
                    got: int(g)?,
                }),
                [Term::Atom(a)] if a == "journal_full" => Some(Refusal::LogFull),
                [Term::Atom(a), Term::Str(why)] if a == "journal" => {
                    Some(Refusal::LogOther(why.clone()))
                }
                [Term::Atom(a), Term::Str(why)] if a == "other" => {
                    Some(Refusal::Other(why.clone()))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Quorum states by their code (`state_code`), as atoms.
const STATES: [&str; 3] = ["quorate", "deciding", "minority"];

const REFUSED: &str = "entity_refused";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_survive_the_exit_reason_codec() {
        let all = [
            Refusal::UnknownKind,
            Refusal::NoNode,
            Refusal::NotQuorate {
                state: 2,
                side: 1,
                members: 3,
            },
            Refusal::LogFenced { promised: 7 },
            Refusal::LogNoQuorum { needed: 2, got: 1 },
            Refusal::LogFull,
            Refusal::LogOther("disk on fire".into()),
            Refusal::Other("x".into()),
        ];
        for r in all {
            assert_eq!(Refusal::from_reason(&r.reason()), Some(r));
        }
        assert_eq!(Refusal::from_reason(&ExitReason::Shutdown), None);
        for bad in [
            Term::tuple([Term::atom(REFUSED), Term::atom("no_quorum"), Term::Int(-1)]),
            Term::tuple([Term::atom(REFUSED), Term::atom("what")]),
            Term::tuple([Term::atom("other_tag"), Term::atom("no_node")]),
        ] {
            assert_eq!(Refusal::from_reason(&ExitReason::Error(bad)), None);
        }
        let shown = Refusal::LogNoQuorum { needed: 2, got: 1 }
            .reason()
            .to_string();
        assert!(
            shown.contains("{entity_refused, no_quorum, 2, 1}"),
            "{shown}"
        );
    }

    #[test]
    fn a_minority_refusal_is_typed_on_the_far_side() {
        let nq = NotQuorate {
            state: QuorumState::Minority,
            side: 1,
            members: 3,
        };
        let e = Refusal::not_quorate(&nq).into_error("k", "a");
        assert_eq!(
            e,
            EntityError::NotQuorate {
                kind: "k".into(),
                key: "a".into(),
                error: nq
            }
        );
        assert!(e.is_not_quorate());
    }
}
