//! # actor-core
//!
//! The local runtime of an OTP-grade actor framework: actors on tokio with [`Pid`]s that mean
//! the same on every node, typed [`ActorRef`]s, links, monitors, exit signals, call/cast with
//! timeouts, timers, and OTP [`supervisor`]s.
//!
//! ```
//! use actor_core::{Actor, Context, Node, ReplyTo};
//! use std::time::Duration;
//!
//! struct Counter(u64);
//! enum Msg { Add(u64), Get(ReplyTo<u64>) }
//!
//! impl Actor for Counter {
//!     type Msg = Msg;
//!     async fn handle(&mut self, msg: Msg, _ctx: &mut Context<Self>) {
//!         match msg {
//!             Msg::Add(n) => self.0 += n,
//!             Msg::Get(reply) => { reply.send(self.0); }
//!         }
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let node = Node::new("demo@localhost");
//! let counter = node.spawn(Counter(0)).await.unwrap();
//! counter.tell(Msg::Add(40)).unwrap();
//! counter.tell(Msg::Add(2)).unwrap();
//! assert_eq!(counter.call(Msg::Get, Duration::from_secs(1)).await, Ok(42));
//! # });
//! ```
//!
//! ## Semantics, and where they differ from OTP
//!
//! - **Nodes are values.** A [`Node`] owns its process table, id counter and timers; there are
//!   no process-wide statics, so several nodes can share an OS process without seeing each
//!   other's actors. A pid carries its node's incarnation (`creation`): a pid of an earlier
//!   incarnation is `noproc`, never another actor.
//! - **Messages are typed.** An actor takes one message type; untyped [`Pid`]s become typed
//!   refs through [`Node::actor_ref`], which checks the type and fails with
//!   [`RefError::WrongType`] rather than dropping messages. Exit signals and `Down`s are not
//!   mixed into the user's type: they arrive through [`Actor::handle_exit`] and
//!   [`Actor::handle_down`], in order with the user's messages.
//! - **Signals act on arrival.** `kill`, and any abnormal exit signal reaching an actor that does
//!   not trap exits, ends it at once, even in the middle of a batch of queued messages. An actor
//!   that traps exits gets them in order after the messages sent before them.
//! - **Calls fail fast.** A request carries a [`ReplyTo`]; if the target is dead, dies before
//!   replying, or drops the handle, the caller learns at once rather than at the timeout. A
//!   late reply after a timeout is dropped.
//! - **Nothing an actor leaves behind outlives it.** When it exits, the monitors it holds are
//!   removed from their targets (a remote target's node is told), timers addressed to it are
//!   cancelled (as OTP cancels pid-destination timers), and its links fire; its small cell is
//!   freed once no [`ActorRef`] holds it. [`Node::monitor_count`], [`Node::pending_timers`]
//!   and [`Node::cells_alive`] report what is held, for leak checks. Link and monitor sets
//!   are hash sets: adding or removing one costs the same whatever the count.
//! - **No exit signal is lost in a race.** A process records a link on its own side before
//!   the other side is told, and a new process is addressable before it links, so an exit at
//!   that moment is delivered (or the call answers `noproc`).
//! - **Every pending caller learns the reason.** Requests queued in a dying actor's mailbox,
//!   in the batch it was working through, or parked in its state fail at once with its exit
//!   reason (`killed` after a kill), locally and from other nodes.
//! - **Exit reasons are data.** User reasons carry a small [`Term`] (atoms, integers, text,
//!   pids, tuples, lists) that callers can match and that crosses nodes unchanged;
//!   [`ExitReason::error`] with text stays the convenience.
//! - **Orderly node stop.** [`Node::shutdown_graceful`] is OTP's `init:stop/0`: top-level
//!   actors and supervisors stop with `shutdown` in reverse start order (hooks and shutdown
//!   policies run), then distribution stops, within a bound. [`Node::shutdown`] kills.
//! - **Registered names** ([`Node::register`], [`Node::whereis`], [`Node::registered`]) are
//!   OTP's node-local names: one per process, freed as part of its exit before its links and
//!   monitors fire.
//! - **Code outside an actor** watches one with [`Node::spawn_monitor`] (the watch is in
//!   place before the actor runs) or [`Node::wait_exit`].
//! - **`link` to a dead process returns `Err(NoProc)`** instead of sending the caller an exit
//!   signal: in Rust an error value is the clearer answer.
//! - **`stopped` (OTP `terminate/2`)** runs on orderly stops: [`Context::stop`],
//!   [`ActorRef::stop`], or an exit from the parent while trapping exits. It does not run when
//!   a handler panics (the state may be inconsistent), as OTP skips `terminate` on kills.
//! - **Bounded mailboxes** are an option ([`MailboxKind::Bounded`]); the bound applies to user
//!   messages only, never to signals.
//! - **Distribution** plugs in through one trait, [`Distribution`]; this crate has no network
//!   code.
#![warn(missing_docs)]

mod actor;
mod actor_ref;
mod deadline;
mod dist;
mod error;
mod exit;
mod info;
mod mailbox;
mod message;
mod names;
mod node;
mod pid;
mod process;
mod reply;
mod route;
mod stop;
pub mod supervisor;
mod timer;
pub mod trace;

pub use actor::{Actor, Context};
pub use actor_ref::{ActorRef, RemoteRoute};
pub use dist::{Distribution, RouteError, Signal};
pub use error::{CallError, LinkError, RefError, SendError, SpawnError};
pub use exit::{Down, ExitReason, Term};
pub use info::{ActorState, DescribeError, ProcessInfo, ProcessStatus};
pub use mailbox::MailboxKind;
pub use message::{type_tag, Message};
pub use names::RegisterError;
pub use node::{Node, NodeConfig, SpawnOpts};
pub use pid::{MonitorRef, NodeId, Pid, Ref};
pub use process::ExitHook;
pub use reply::{
    with_drop_reason, with_wire_context, ReplyDelivery, ReplySink, ReplyTo, WireContext,
};
pub use route::{EncodeFn, EncodedRoute, RawRoute, RawSendError};
pub use stop::ExitWatch;
pub use timer::TimerRef;
pub use trace::TraceContext;
