//! Replication of a global scope between nodes: the messages replicas exchange, the server
//! actor that applies them, peer discovery, full-state sync and name-conflict resolution.
//!
//! The model is syn's, not gproc's `gen_leader`: every node owns the entries of its own
//! processes and sends them to its peers; no leader, no global lock. A change is applied
//! locally under the registry lock and sent to every peer before the lock is released, so
//! each peer receives one node's changes in the order they were made (one ordered connection
//! per pair). Sync between two replicas:
//!
//! 1. When a node comes up (or a scope starts), the discovery task finds the peer's server
//!    (an rpc, `whereis`) and sends it `Discover`.
//! 2. A server receiving `Discover` adds the sender as a peer (monitoring it) and answers
//!    `Ack` with the full state of its own node's processes; from then on its changes follow.
//! 3. A server receiving `Ack` from a sender it did not know adds it and answers with its
//!    own `Ack`; either way it merges the sender's state (replacing what it had for that node).
//! 4. When a peer's server goes down (its node disconnects: `noconnection`), everything its
//!    node held is removed, with monitors told.
//!
//! A name registered on two nodes (concurrently, or on both sides of a partition) meets its
//! twin on some node; that node asks the resolver, which sees the same two candidates in the
//! same order everywhere and so picks the same winner everywhere. The loser's own node drops
//! the loser's entry, tells the peers, and tells the loser.

mod discovery;
mod merge;
mod protocol;
mod replication;
mod server;
#[cfg(test)]
mod tests;

pub(crate) use discovery::{discover_loop, whereis_fn};
pub(crate) use protocol::{Op, SyncMsg};
pub(crate) use replication::{broadcast, send_settles, Peer, Replication, Settle};
pub(crate) use server::Server;
