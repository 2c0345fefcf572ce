//! **Cluster operations** above `actor-dist` and `actor-registry`: how nodes find each other,
//! how each node sees the health of the others, and how a partition ends in one clear decision
//! instead of two sides that both keep writing.
//!
//! The layer is the cluster manager and split-brain detector of the seed architecture; the
//! references are libcluster's strategies, OTP's `global` (locks, `prevent_overlapping_partitions`)
//! and Akka's Split Brain Resolver and cluster singleton.
//!
//! - [`discovery`]: where peers are (a static list, DNS A/AAAA/SRV polling, custom strategies)
//!   and how a node name resolves to an address (the role epmd plays in Erlang).
//! - [`membership`]: the membership view with health per peer, the shared reachability graph,
//!   the partition picture every node computes alike, split-brain strategies and the quorum
//!   state that write paths consult.
//! - [`locks`]: global locks (`global:set_lock`, `global:trans`) and leader election.
//! - [`singleton`]: one instance of a kind on the oldest (or chosen) member of the quorate
//!   side, handed over on leave, failed over on node-down, fenced by a global lock.
//!
//! # A split-brain scenario under network namespaces
//!
//! `actor-cluster/scripts/netns-split-brain.sh` (Linux, as root; needs `iproute2` and
//! `nftables`) builds 5 network namespaces on a bridge that lives in a sixth namespace (nothing
//! is added to the host's own network, no packet leaves the namespaces), starts the
//! `cluster_node` example (keep-majority, a singleton) in each, waits until all 5 are quorate,
//! cuts `{1,2,3} | {4,5}` with nftables `drop` rules (a silent cut: no reset, no ICMP), prints
//! each node's decision, quorum state and where the singleton runs, heals, checks that exactly
//! one singleton instance is left, and deletes every namespace on exit (also on error or
//! Ctrl-C):
//!
//! ```text
//! sudo actor-cluster/scripts/netns-split-brain.sh          # builds the example first
//! sudo BIN=target/debug/examples/cluster_node TICK_MS=500 actor-cluster/scripts/netns-split-brain.sh
//! ```
//!
//! Each node's log is kept (the script prints where); `WAIT` bounds each phase (default 30 s).
#![warn(missing_docs)]

pub mod discovery;
pub mod locks;
pub mod membership;
pub mod singleton;
