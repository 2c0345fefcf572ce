//! # actor-dist (planned)
//!
//! Distribution for actor-core: nodes that connect over TCP with cookie authentication,
//! location-transparent pids, remote send/call/spawn, rpc, remote links and monitors with
//! `noconnection`, heartbeats, node events and load reports. It plugs into a
//! [`actor_core::Node`] through [`actor_core::Distribution`]. Not implemented yet (issue 3).
#![warn(missing_docs)]
