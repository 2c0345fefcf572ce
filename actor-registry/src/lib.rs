//! # actor-registry (planned)
//!
//! gproc-style names, properties, counters and aggregated counters in local and global scope,
//! await, pub/sub, select, monitors and process groups. Not implemented yet (issue 5).
#![warn(missing_docs)]
