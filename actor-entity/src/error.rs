//! Why an entity operation failed.

use actor_core::CallError;

/// Why a call, cast or activation by key failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The activation failed: the log refused or could not be reached (no quorum), or the
    /// node that was asked failed.
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
