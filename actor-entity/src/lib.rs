//! **Entities**: a state machine per key, activated on demand on the node placement chooses,
//! reached by key from any node, and fenced so that only one activation of a key can ever
//! commit a transition.
//!
//! - [`log`]: the [`EntityLog`](log::EntityLog) seam between entities and their receipt log:
//!   taking an epoch for a key (recovering its last state) and appending receipts that a
//!   stale epoch cannot write. [`LocalLog`](log::LocalLog) keeps one node's journal;
//!   [`replicated`] keeps a key's log on a majority of its replicas (`ENTITIES.md`).
#![warn(missing_docs)]

pub mod log;
pub mod replicated;
