//! **Entities**: a state machine per key, activated on demand on the node placement chooses,
//! reached by key from any node, and fenced so that only one activation of a key can ever
//! commit a transition.
//!
//! - [`Entity`]: what a `statem` machine adds to be an entity (its kind, how it is rebuilt
//!   from its last durable state, what of it is durable).
//! - [`Entities`]: one node's host: [`register`](Entities::register) kinds,
//!   [`call`](Entities::call) / [`cast`](Entities::cast) /
//!   [`get_or_activate`](Entities::get_or_activate) by key from any node,
//!   [`migrate`](Entities::migrate), [`leave`](Entities::leave), passivation.
//! - [`placement`]: where new activations go ([`LeastLoaded`](placement::LeastLoaded) counting
//!   placements in flight, [`ConsistentHash`](placement::ConsistentHash),
//!   [`PreferLocal`](placement::PreferLocal), [`ByRole`](placement::ByRole), custom).
//! - [`log`]: the [`EntityLog`](log::EntityLog) seam between entities and their receipt log:
//!   reading a key's last state, taking an epoch for it at the first write, and appending
//!   receipts that a stale epoch cannot write. [`LocalLog`](log::LocalLog) keeps one node's journal;
//!   [`replicated`] keeps a key's log on a majority of its replicas (`ENTITIES.md`).
//!
//! # How an entity lives
//!
//! 1. **Activation.** The first use of a key anywhere asks placement for a node; that node's
//!    host reads the key's last durable (state, data) from the log, **writing nothing**,
//!    rebuilds the machine from it, starts it under the kind's supervisor and names it
//!    cluster-wide as `("entity", kind, key)` in the global registry. The activation is
//!    handed back once the key's coordinator (which alone activates the key, one request at a
//!    time) lists the name; other nodes learn it as it propagates, and until then ask the
//!    coordinator. Later uses from any node find the name.
//! 2. **Transitions.** After every event the (state, data) pair is encoded; if it changed, a
//!    receipt carrying it is appended with the activation's epoch and the next sequence
//!    number, and only then are the event's replies sent (statem's `Persist` hook). The
//!    activation's **first** write takes its **epoch** (above every one promised for the key,
//!    fencing every older activation) in the same durable step as the receipt, and is refused
//!    if the log moved on since the activation read it. A log that promised a newer epoch
//!    refuses: the activation stops with `{shutdown, fenced}` and replies nothing (the next
//!    use activates the key again from the newer state). An activation that has not written
//!    holds no epoch (see [`log`]): activations that only read cost no fsync and no promise
//!    round.
//! 3. **Passivation.** An activation idle for `passivate_after` stops after its queued
//!    requests; the next use activates it again from the log.
//! 4. **Failover.** When the node of an activation dies, its name goes with it and the next
//!    use activates the key elsewhere from the last acknowledged receipt (its first write
//!    takes a higher epoch).
//! 5. **Rebalancing.** A host running clearly more activations than the cluster's mean
//!    (by [`Rebalance::tolerance`]) moves a few per round ([`Rebalance::max_moves`]) to the
//!    host with the fewest, as hand-offs: after a node joins, load spreads at a bounded rate.
//! 6. **Hand-off.** [`Entities::migrate`] and [`Entities::leave`] stop activations after their
//!    queued requests and activate them again on another node; the state moves through the log
//!    (the authority), and requests that arrive meanwhile are sent again, not failed.
//! 7. **Minority side.** With [`EntityConfig::quorum`] (the membership's quorum state), a
//!    node that is not on a quorate side serves reads, refuses every write before the
//!    machine advances (the event is undone: the machine is rebuilt from its last durable
//!    state and keeps running; nothing is written) with [`EntityError::NotQuorate`], and
//!    activates nothing (the key may live on the other side). [`MinorityWrites::Queue`]
//!    queues refused calls on the caller's host instead (bounded) and sends them again, in
//!    order, once the quorum is back. Fencing by epoch stays the safety mechanism; the
//!    quorum check refuses early and keeps a cut-off activation alive for reads.
//! 8. **Warm calls.** A caller caches the resolved reference per (kind, key)
//!    ([`EntityConfig::ref_cache`], bounded); an entry goes when its activation exits here,
//!    its node goes down, or a call through it fails.
//!
//! A request is sent again only when it provably did not reach a live activation (the
//! activation was gone, passivated or handed over before handling it, or fenced: a fenced
//! transition is never durable); a call that fails otherwise (timeout, node down while it was
//! handled) reports the error, as any call does.
//!
//! # Example
//!
//! ```
//! use actor_core::{ExitReason, Node};
//! use actor_dist::{Cookie, Dist, DistConfig};
//! use actor_entity::log::LocalLog;
//! use actor_entity::{Entities, Entity, EntityConfig};
//! use actor_journal::{JournalConfig, RedbJournal};
//! use actor_registry::{GlobalConfig, GlobalRegistry};
//! use statem::{Ctx, Event, RemoteMachine, StateMachine, Transition};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! /// A counter per key; its count is durable.
//! struct Counter { count: u64, state: bool }
//! impl StateMachine for Counter {
//!     type State = bool; type Call = u64; type Reply = u64; type Msg = (); type Timer = ();
//!     async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> { Ok(self.state) }
//!     async fn handle_event(&mut self, s: &bool, ev: Event<Self>, ctx: &mut Ctx<'_, Self>) -> Transition<Self> {
//!         if let Event::Call(n, from) = ev {
//!             self.count += n;
//!             ctx.reply(from, self.count); // sent once the receipt is durable
//!         }
//!         Transition::KeepState
//!     }
//! }
//! impl RemoteMachine for Counter { const NAME: &'static str = "doc.Counter"; }
//! impl Entity for Counter {
//!     const KIND: &'static str = "counter";
//!     type Data = u64;
//!     fn activate(_key: &str, last: Option<(bool, u64)>) -> Self {
//!         let (state, count) = last.unwrap_or((false, 0));
//!         Counter { count, state }
//!     }
//!     fn data(&self) -> &u64 { &self.count }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let journal = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
//! let dist = Dist::start(&Node::new("a@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
//!     .await
//!     .unwrap();
//! let global = GlobalRegistry::start(&dist, GlobalConfig::new("entities")).await.unwrap();
//! let log = Arc::new(LocalLog::new(Arc::new(journal)));
//! let entities = Entities::start(&dist, &global, log, EntityConfig::default()).await;
//! entities.register::<Counter>().await.unwrap();
//! let t = Duration::from_secs(5);
//! assert_eq!(entities.call::<Counter>("visits", 2, t).await, Ok(2));
//! assert_eq!(entities.call::<Counter>("visits", 3, t).await, Ok(5));
//! # });
//! ```
//!
//! # Where this differs from Akka and Orleans
//!
//! Akka Cluster Sharding hands an entity over without its state (it is rebuilt from its
//! journal) and relies on the shard coordinator for single activation; Orleans admits
//! duplicate activations during instability. Here duplicates can exist for a moment (two
//! nodes activating one key at once, a partition), but the epoch check of the log lets only
//! one of them ever commit, and the registry keeps one name. Epochs are taken at the first
//! write, not at activation: a duplicate that only reads serves the last durable state and
//! fences nobody; the first of them to write fences the others, whose first writes are then
//! refused (neither Akka nor Orleans fences writers at all).
#![warn(missing_docs)]

mod cache;
mod client;
mod entity;
mod error;
mod host;
mod journaler;
mod live;
pub mod log;
mod minority;
pub mod placement;
mod query;
mod rebalance;
pub mod replicated;

pub use entity::Entity;
pub use error::EntityError;
pub use host::{directory_key, Entities, EntityConfig};
pub use journaler::fenced;
pub use live::EntityStats;
pub use minority::MinorityWrites;
pub use rebalance::Rebalance;
