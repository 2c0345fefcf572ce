//! # actor-dist
//!
//! Distribution for [`actor_core`]: nodes connect over TCP (or another
//! [`Transport`](transport::Transport)), authenticate with a shared cookie,
//! and then a [`Pid`](actor_core::Pid) means the same on every node. Sends, calls, links,
//! monitors and exits work across nodes as they do locally; `spawn_on` starts actors on other
//! nodes; rpc calls registered functions; node events tell who came and went.
//!
//! ```no_run
//! use actor_core::{Actor, Context, Node, ReplyTo};
//! use actor_dist::{Cookie, Dist, DistConfig, Message, SpawnOnOpts};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Serialize, Deserialize)]
//! enum Ping { Ping(u64, ReplyTo<u64>) }
//! impl Message for Ping { const NAME: &'static str = "demo.Ping"; }
//!
//! struct Pong;
//! impl Actor for Pong {
//!     type Msg = Ping;
//!     async fn handle(&mut self, Ping::Ping(n, r): Ping, _: &mut Context<Self>) { r.send(n + 1); }
//! }
//!
//! # async fn demo() {
//! let cookie = Cookie::new("secret").unwrap();
//! let a = Node::new("a@localhost");
//! let b = Node::new("b@localhost");
//! let da = Dist::start(&a, DistConfig::new(cookie.clone())).await.unwrap();
//! let db = Dist::start(&b, DistConfig::new(cookie)).await.unwrap();
//! db.register_kind("pong", |(): ()| Pong);
//! da.connect("b@localhost", db.local_addr()).await.unwrap();
//! let pong = da.spawn_on::<Ping, _>("b@localhost", "pong", &(), SpawnOnOpts::default()).await.unwrap();
//! assert_eq!(pong.call(|r| Ping::Ping(1, r), Duration::from_secs(1)).await, Ok(2));
//! # }
//! ```
//!
//! ## Semantics, and where they differ from Erlang
//!
//! - **Handshake**: version, name, creation and a mutual HMAC-SHA256 challenge on the cookie
//!   (the cookie never crosses the wire), then the acceptor's admission decision. Nothing
//!   about a node's connections changes before both proofs are in (see "Security model").
//!   A wrong cookie is refused on both sides, logged, counted, and reported as
//!   [`NodeEvent::AuthFailed`], never as a node going down. When two nodes connect to each
//!   other at once, the connection initiated by the node with the greater name survives, so
//!   exactly one remains; the decision is taken after both proofs.
//! - **Connects that fail**: a connection that never came up emits no event (no up was
//!   seen): `connect` returns the reason, as `net_kernel:connect_node` answers false. An
//!   auto-connect that failed is not retried before a backoff (`DistConfig::backoff`); sends
//!   to the node fail at once with `noconnection` meanwhile, with no event or connect attempt
//!   per message.
//! - **Full mesh**: a new peer sends the peers it is connected to, and the node connects to
//!   those it is not (as Erlang does); such a transitive connect that fails (a set-up timeout
//!   under load, a dial evicted by the peer's pre-authentication bound in a connect storm) is
//!   retried with backoff, a few times, until either side has connected.
//! - **Finding nodes** (epmd's role): a node connects to addresses it was given (seeds,
//!   [`Dist::connect`]) or learnt (peer lists, a peer's own report). Beyond that, a
//!   [`NodeResolver`] ([`Dist::set_resolver`]; the cluster layer's discovery installs one) is
//!   asked when a connect by name ([`Dist::connect_node`], `spawn_on`, rpc) knows no address.
//!   [`Dist::connect_addr`] dials an address whose node name is unknown (a DNS A record): it
//!   asks the peer its name first, a probe that proves nothing and changes nothing on either
//!   side, then connects by that name, which the handshake proves.
//! - **Ordering**: one connection per node pair; messages and signals to one pid are queued
//!   in call order and written in order, so messages and signals from one actor to another
//!   arrive in the order sent (signals are *not* moved ahead of data: an exit could overtake
//!   the messages sent before it).
//! - **Large messages** (a frame above [`wire::FRAGMENT_SIZE`], 64 KiB) go in fragments,
//!   interleaved with the rest of the traffic on the link, as OTP does since 22: a small
//!   call between two other actors is not stuck behind a 64 MiB message. Later messages and
//!   signals to the same pid wait behind it, so per-pair order holds (OTP orders per
//!   sender; we order per destination, which is stricter: a large message delays later
//!   traffic to its own destination only). The receiver reassembles at most
//!   [`wire::MAX_FRAGMENTED`] frames at a time per peer, each bounded by `max_frame`.
//! - **Ticks and system traffic first**: ticks and load reports go in a small priority
//!   queue that the writer takes before the ordered stream and again between its slices
//!   (about 256 KiB each), so a tick is never stuck behind megabytes of data. System traffic
//!   (signals, replies, spawn and rpc control, and services' messages sent through
//!   [`Dist::system_ref`], such as registry replication) is never refused for room: user
//!   data filling the outbound buffer cannot refuse it, and backpressure on user data never
//!   closes a connection.
//! - **Heartbeats**: a tick (5 bytes, ahead of any data) every eighth of the tick time; a
//!   peer that sent no byte for 9/8 of the tick time is down with `net_tick_timeout`: between
//!   1.125 and 1.25 tick times after its last byte, so between 1.0 and 1.25 tick times after
//!   it froze or the link was cut, whatever the phase of either side's cycle (Erlang: 1 to
//!   1.25).
//! - **Nodedown**: links to the node's actors fire with `noconnection`, monitors deliver
//!   `Down(noconnection)`, pending spawns and rpcs fail at once, and pending calls fail at
//!   once with [`CallError::NodeDown`](actor_core::CallError::NodeDown) naming the node
//!   (OTP's `{nodedown, Node}`), distinct from the target exiting. A call to a node that
//!   cannot be reached fails the same way.
//! - **Checked references**: [`Dist::actor_ref_checked`] asks the owning node whether a pid
//!   is alive and takes the message type before handing out an `ActorRef<M>`.
//! - **Typed payloads**: every message carries the stable tag of its type ([`Message`]); an
//!   unknown tag is refused, logged and counted, never mis-decoded, and refused back to the
//!   sender: a call fails at once with
//!   [`CallError::UnknownType`](actor_core::CallError::UnknownType) naming the type, a tell
//!   is counted in [`Stats::refused_by_peer`] and logged on the sending node.
//! - **Backpressure**: the outbound buffer is bounded for user data; `ActorRef::send` waits,
//!   `tell` returns `Full`. Control frames (signals, replies, ticks, spawn/rpc control,
//!   system messages) are never refused. After queueing a large message, `send().await`
//!   yields to the runtime once, so a task streaming large messages lets the connection's
//!   writer (woken on the same worker thread, in tokio's unstealable next-task slot) run
//!   between them instead of holding the thread until the buffer is full; a loop of `tell`s
//!   that never awaits gets no such pacing.
//! - **Byte payloads**: a `Vec<u8>` field is encoded by serde one `u8` at a time; for large
//!   byte payloads encode it as a byte string (`#[serde(with = "serde_bytes")]` or an
//!   equivalent `serialize_bytes`): the same bytes on the wire, copied at once. The frames
//!   themselves always carry payloads that way.
//! - **TLS** ([`TlsConfig`], rustls with the `ring` provider): the cookie handshake runs inside
//!   a verified TLS session; the client checks the server certificate for the host part of
//!   the peer's node name.
//! - **Transports** ([`transport`]): a node listens and connects through a
//!   [`Transport`](transport::Transport) giving ordered byte streams: TCP by default, an
//!   in-memory [`MemoryNetwork`](transport::MemoryNetwork) for tests (links can be cut and
//!   healed; it runs in paused time), or any other (a simulated network). TLS and the cookie
//!   handshake run over whichever is configured. Protocol time comes only from `tokio::time`.
//! - **Not yet**: `spawn_on`'s monitor option (monitor from the caller after the spawn).
//!
//! ## Security model
//!
//! - **What the cookie proves**: that whoever opened a stream knows the cookie. Each side
//!   answers a challenge the other chose (from the OS entropy source, never a seeded RNG) with
//!   an HMAC-SHA256 bound to both names; the cookie never crosses the wire. It proves nothing
//!   about later bytes on a plain TCP stream: anyone on the path can read, inject or hijack
//!   them. **Off-host traffic should use TLS** ([`TlsConfig`]), which also verifies the peer's
//!   certificate for the host in its node name.
//! - **Nothing changes before the proof**: an unauthenticated peer can hold only a bounded
//!   admission place (`max_pending_handshakes`, `max_pending_per_ip`, one `setup_timeout`
//!   from `accept`; the oldest idle socket is closed for a new one), causes rate-limited
//!   warnings and counters ([`Stats`]), and learns only fixed refusal codes. Connection slots,
//!   crossing connects and node events change only once both sides have proved the cookie; a
//!   failed proof is [`NodeEvent::AuthFailed`], never a node-down.
//! - **What an authenticated node can do**: send to any pid, link, monitor and exit any
//!   process *on its own behalf*, spawn the kinds this node registered
//!   ([`Dist::register_kind`]) and call the functions it registered ([`Dist::register_rpc`]),
//!   and name its peers for transitive connects. It is a member of the cluster: share the
//!   cookie only with nodes you trust that much.
//! - **What it cannot do**: speak for another node. Every signal is checked against the
//!   peer that sent it: the sender of a link, unlink, exit, monitor or demonitor (and the
//!   process of a `Down`) must be one of the peer's pids and the target one of ours, or the
//!   signal is refused, counted ([`Stats::forged_signals`]) and logged (rate-limited); a
//!   spawn may link the new actor only to a pid of the asking node. Spawn and rpc answers
//!   are taken only from the node that was asked, and only of the kind asked (a spawn result
//!   for a spawn); others are refused and counted ([`Stats::forged_answers`]). A peer list
//!   never overwrites an address the user configured (or one learnt earlier) and is capped
//!   (`max_peer_list`); load reports are clamped to sane ranges.
//! - **Restricting it**: per-node allow-lists for spawnable kinds and rpc functions, on by
//!   configuration ([`DistConfig::allow_spawn`], [`DistConfig::allow_rpc`], [`AllowList`]);
//!   a refused request fails with `NotAllowed` on the caller's side and is counted in
//!   [`Stats::refused_requests`]. The internal `$dist.check` function (for
//!   [`Dist::actor_ref_checked`]) is always served: it tells no more than a send would.
//! - **Fuzzing**: every decoder that reads the network has a property test over arbitrary
//!   bytes, and `cargo run --release -p actor-dist --example fuzz_decoders -- 10000000` feeds
//!   ten million random and mutated inputs to each (frames, fragments, handshake).
//! - **References in messages**: `Pid`s, `ActorRef<M>`s and `ReplyTo<R>`s inside messages
//!   keep working on the receiving node, also when forwarded to a third node.
#![warn(missing_docs)]

mod check;
pub mod config;
mod conn;
mod dist;
pub mod events;
pub mod handshake;
mod message;
pub mod names;
mod node_monitor;
pub mod remote_sup;
mod rpc;
mod spawn;
pub mod trace;
pub mod transport;
pub mod wire;

pub use check::CheckedRefError;
pub use config::{AllowList, Cookie, CookieError, DistConfig, TlsConfig};
pub use dist::{Dist, NodeResolver, PeerTraffic, Stats, Tracked, MAX_PAST_PEERS};
pub use events::{AuthFailure, DownReason, NodeEvent, NodeInfo};
pub use message::{DeliverError, Message};
pub use names::{RemoteName, RemoteNameError};
pub use remote_sup::{RemoteDynamicSupervisor, RemoteSupervisor, RemoteSupervisorError};
pub use rpc::{Multicall, RpcError, RpcHandle};
pub use spawn::{SpawnOnError, SpawnOnOpts};
pub use tokio_rustls::rustls;
pub use wire::{LoadReport, RemoteSpawnError};

/// Resident memory of this process in bytes (Linux; 0 elsewhere).
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
