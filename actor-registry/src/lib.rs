//! # actor-registry
//!
//! A gproc-style process registry for actor-core: unique **names**, **properties** (many
//! holders, each with its own value), **counters** and **aggregated counters** (the automatic
//! sum of all counters with the same key), with await, pub/sub send, select by prefix or
//! pattern, count, key monitors and a full listing for debugging tools.
//!
//! Two scopes, as gproc's `l` and `g`: [`Registry::new`] is a node's **local scope**;
//! [`GlobalRegistry::start`] makes this node's replica of a **global scope** shared by every
//! connected node (through actor-dist), with the same operations. Each scope also holds
//! OTP `pg`-style **process groups** ([`Registry::join`], [`Registry::members`], ...).
//!
//! ```
//! use actor_core::{Actor, Context, Node};
//! use actor_registry::{Key, Kind, Pattern, Registry, Value};
//! use std::time::Duration;
//!
//! struct Worker;
//! #[derive(Clone)]
//! struct Ping;
//! impl Actor for Worker {
//!     type Msg = Ping;
//!     async fn handle(&mut self, _msg: Ping, _ctx: &mut Context<Self>) {}
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let node = Node::new("demo@localhost");
//! let reg = Registry::new(&node);
//! let a = node.spawn(Worker).await.unwrap();
//! let b = node.spawn(Worker).await.unwrap();
//!
//! // A unique name, found with where_.
//! reg.register(Kind::Name, ("worker", 1), a.pid(), ()).unwrap();
//! assert_eq!(reg.where_(&Key::from(("worker", 1))), Some(a.pid()));
//! assert!(reg.register(Kind::Name, ("worker", 1), b.pid(), ()).is_err());
//!
//! // Properties: pub/sub to every holder.
//! reg.register(Kind::Property, "news", a.pid(), "sports").unwrap();
//! reg.register(Kind::Property, "news", b.pid(), "weather").unwrap();
//! assert_eq!(reg.send(Kind::Property, &Key::from("news"), Ping), Ok(2));
//!
//! // Counters and their aggregate.
//! reg.register(Kind::AggregatedCounter, "jobs", a.pid(), ()).unwrap();
//! reg.register(Kind::Counter, "jobs", a.pid(), 3).unwrap();
//! reg.register(Kind::Counter, "jobs", b.pid(), 4).unwrap();
//! reg.update_counter("jobs", b.pid(), 10).unwrap();
//! assert_eq!(reg.lookup_value(Kind::AggregatedCounter, &Key::from("jobs")), Ok(Value::Int(17)));
//!
//! // Select by prefix.
//! assert_eq!(reg.count(Kind::Name, &Pattern::prefix(&Key::from("worker"))), 1);
//!
//! // Await a name that someone registers later.
//! let reg2 = reg.clone();
//! let waiter = tokio::spawn(async move {
//!     reg2.await_name(("worker", 2), Duration::from_secs(5)).await
//! });
//! reg.register(Kind::Name, ("worker", 2), b.pid(), ()).unwrap();
//! assert_eq!(waiter.await.unwrap(), Ok(b.pid()));
//! # });
//! ```
//!
//! ## Semantics
//!
//! - **Keys** ([`Key`]) are tuples of strings and integers, ordered part by part, so keys
//!   with a common prefix are contiguous; [`Pattern`] adds wildcards.
//! - **Entries vanish as part of their actor's exit**, by any path (return, stop, panic,
//!   kill, node shutdown), as OTP frees a process's names: the registry adds one exit hook
//!   per pid that holds anything ([`actor_core::Node::on_exit`]; not per key, and no task),
//!   which removes all that pid's entries in one critical section and notifies monitors with
//!   [`Change::Exited`] after the pid has left the process table and *before* its links and
//!   monitors fire. So a supervisor restarting a child always finds the child's name free, and
//!   whoever sees the exit (a `Down`, `wait_exit`) sees the names gone. In a global scope the
//!   withdrawal is queued to the peers in the same step, ahead of the exit's link signals.
//! - **Aggregated counters are exact**: counter updates and the aggregate move under one lock.
//! - **Lookups are cheap**: names live in 64 `RwLock`ed hash shards and each key carries its
//!   precomputed hash, so [`Registry::where_`] takes one shard read lock and never the
//!   registry-wide lock. Everything else (and every write) goes through one mutex.
//! - **Process groups** follow `pg`: a pid may join a group several times and is a member
//!   once per join; `leave` removes one membership per listed pid (all or nothing);
//!   memberships go when the process exits. [`Registry::monitor_group`] and
//!   [`Registry::monitor_scope`] report joins and leaves ([`GroupEvent`]).
//!
//! ## Global scope
//!
//! Replication follows syn rather than gproc's `gen_leader` (which is known to split and
//! never merge): no leader, no cluster lock; **each node owns the entries of its own
//! processes** and sends every change to the replicas of the same scope on the other nodes.
//!
//! - **Lookups are local**: each node holds the whole scope; `where_` costs what it costs in
//!   the local scope.
//! - **Registration returns once it is visible locally**; the change is queued to every peer
//!   before the registry lock is released, so peers apply one node's changes in the order
//!   made. [`GlobalRegistry::register_sync`] also waits until every connected peer has
//!   applied it.
//! - **Sync**: when two replicas meet (a node comes up, a scope starts, a partition heals),
//!   each sends the other the full state of its own processes; a late joiner thus gets
//!   everything. Discovery never gives up while two nodes are connected and not peers: it
//!   retries with a capped backoff (the other scope may start late), and every few seconds
//!   the connected nodes are compared with the peers, so a lost nodeup event cannot leave
//!   two replicas unsynced. When a peer's node goes down, its processes' entries and memberships vanish
//!   on every other node (monitors see [`Change::Exited`] with `noconnection`).
//! - **Name conflicts** (the same name registered on two nodes concurrently, or on both sides
//!   of a partition) are settled where the two entries meet by a [`Resolver`] that sees the
//!   two [`Candidate`]s in the same order on every node, so every node keeps the same one.
//!   The default keeps the *logically earlier* registration, then the lower pid: each
//!   replica stamps its registrations with a Lamport clock that also moves past every stamp
//!   it receives, so a registration made after its node learned of another has the greater
//!   stamp; concurrent ones are ordered by stamp without reference to wall time, and no
//!   node's wall clock (skewed or not) plays a part ([`Candidate::registered_at`]). The
//!   loser's node withdraws it everywhere and tells it ([`OnConflict`]: an exit with reason
//!   `name_conflict` by default, or a callback). Two holders never survive a heal. With
//!   [`GlobalConfig::notify_all_name`] (OTP's `global:notify_all_name/3`) neither keeps it:
//!   both lose the name and both are told.
//! - **`sync`**: [`GlobalRegistry::sync`] (OTP's `global:sync/0`) waits until this replica
//!   has exchanged full state with every connected visible node, both ways.
//! - **Pub/sub across nodes**: [`GlobalRegistry::send`] sends a message for a property's
//!   holders once to each node that has some; that node hands it to its local holders.
//! - **Bad input**: a sync message that does not decode is refused by actor-dist (logged,
//!   counted); one that decodes but lies (a change about another node's process, a
//!   non-integer counter, another scope, an unknown sender) is logged, counted in
//!   [`GlobalStats`] and skipped, and corrupts nothing.
//! - **Backpressure never becomes a partition**: changes ride on the connection's system
//!   lane (`Dist::system_ref`), which user data cannot fill: bulk traffic on the same link
//!   delays nothing the registry sends and never makes it disconnect a peer. A peer whose
//!   connection goes down is purged and resynced when it comes back.
//!
//! ## Differences from gproc
//!
//! - **A registry is a value**, one per node, not a named server; there are no statics.
//! - **Anyone may register on behalf of a pid** (gproc allows only the caller itself, apart
//!   from `reg_other`); the pid must be a live process of this node.
//! - **Errors are values**: a taken name, unregistering a key you do not hold, updating a
//!   non-counter or awaiting past the timeout return a [`RegistryError`] or [`Timeout`]
//!   instead of raising `badarg`.
//! - **Values are a small enum** ([`Value`]) rather than any term; counters hold `i64`
//!   (overflow is an error; the aggregate wraps).
//! - **Messages are typed**: [`Registry::send`] resolves holders through
//!   [`actor_core::Node::actor_ref`]; holders of another message type are skipped.
//! - **Monitors** cover every kind and report both registration and unregistration through
//!   a channel ([`KeyMonitor`]) rather than messages; `select` takes key patterns, not
//!   match specifications.
//! - **Key hashing is not keyed**: keys come from the application or from authenticated
//!   peers (cookie), not from arbitrary network input.
//! - **The global scope is eventually consistent** (as syn, unlike gproc's leader-based
//!   mode): two nodes may briefly both accept the same name; the resolver settles it.
//!   Registration in the global scope is for processes of the registering node.
//! - **A full mesh is assumed** (actor-dist's default, transitive connects): replicas only
//!   compare names with the peers they are connected to.
//! - **Hidden nodes take no part** (as in OTP's `global`): visible nodes neither discover nor
//!   accept a hidden node's replica, which holds only its own node's entries, unless it opts
//!   in with [`GlobalConfig::take_part_when_hidden`]; then it discovers the visible nodes it is
//!   connected to and syncs with them both ways.
//! - **Group members are listed in the order this replica learned of them**, which may
//!   differ between nodes (as in `pg`).
//! - **Process groups live in a registry scope** (as syn's scopes), not in a separate `pg`
//!   server; group names are [`Key`]s.
#![warn(missing_docs)]

mod consistency;
mod error;
mod global;
mod groups;
mod hash;
mod key;
mod monitor;
mod named;
mod registry;
mod select;
mod state;
mod sync;

pub use error::{KeySendError, NotSynced, RegistryError, Timeout};
pub use global::{
    Candidate, GlobalConfig, GlobalRegistry, GlobalStats, NameConflict, OnConflict, Resolver,
    StartError,
};
pub use key::{Key, KeyPart, Kind, Pat, Pattern, Value};
pub use monitor::{
    Change, GroupChange, GroupEvent, GroupMonitor, KeyEvent, KeyMonitor, MONITOR_QUEUE,
};
pub use named::{NamedError, NamedRef, NamedSendError};
pub use registry::Registry;
pub use select::Entry;
