//! Membership, health, reachability, split-brain decisions and the quorum state.
