//! # statem (planned)
//!
//! gen_statem semantics as an actor: postpone, next_event, state/event/generic timeouts and
//! state-enter calls. Not implemented yet (issue 4).
#![warn(missing_docs)]
