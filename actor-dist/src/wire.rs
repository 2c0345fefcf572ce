//! The wire format: length-prefixed postcard frames.
//!
//! Every frame is a 4-byte big-endian length followed by the postcard encoding of a
//! [`Frame`]. A length above the configured maximum is refused before anything is allocated.
//! Decoding is total: any byte string gives a frame or a [`WireError`], never a panic.

use actor_core::{ExitReason, Pid, Signal, TraceContext};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Protocol version; both sides must speak the same.
pub const PROTOCOL_VERSION: u32 = 3;

/// Capabilities a node announces in its [`Handshake::Hello`], as bits.
///
/// They travel as an extension *after* the `Hello` in the same handshake message: the
/// postcard encoding of a `u64` appended to the body. A node of an earlier release (same
/// [`PROTOCOL_VERSION`]) stops reading after the `Hello`'s last field and ignores it, and its
/// own `Hello`, which has no extension, reads as "no capabilities": each side then uses a
/// capability only if the other announced it, so old and new nodes keep talking.
pub mod capability {
    /// The node accepts [`Frame::Traced`](super::Frame::Traced) and
    /// [`Frame::TracedRpc`](super::Frame::TracedRpc).
    pub const TRACE_CONTEXT: u64 = 1;
    /// What this release announces.
    pub const ALL: u64 = TRACE_CONTEXT;
}

/// Frames whose encoding is larger than this many bytes are sent in [`Frame::Fragment`]s of
/// at most this many bytes, interleaved with other traffic on the connection (OTP 22+).
pub const FRAGMENT_SIZE: usize = 64 * 1024;

/// Fragmented frames a sender may have started and not finished at once on one connection;
/// a receiver refuses more (so reassembly holds at most this many times `max_frame` bytes).
pub const MAX_FRAGMENTED: usize = 4;

/// Why bytes from the network were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The length prefix exceeds the maximum frame size.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The frame body does not decode.
    #[error("undecodable frame: {0}")]
    Decode(String),
}

/// Handshake messages, exchanged before any [`Frame`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handshake {
    /// Who I am and my challenge to you.
    Hello {
        /// Protocol version.
        version: u32,
        /// Node name (`name@host`).
        name: String,
        /// Incarnation.
        creation: u32,
        /// Hidden node?
        hidden: bool,
        /// Where I listen (for transitive connects).
        listen: SocketAddr,
        /// Application version.
        app_version: String,
        /// Fresh random challenge.
        challenge: [u8; 32],
    },
    /// HMAC-SHA256 of the peer's challenge.
    Proof([u8; 32]),
    /// The connection is refused, with one of the fixed
    /// [`refusal`](crate::handshake::refusal) codes.
    Refuse(String),
    /// The acceptor admits the connection (sent after both proofs). Last, so that the
    /// variants older protocol versions know keep their encoding (a version refusal stays
    /// readable).
    Welcome,
}

/// Why a remote spawn failed on the remote node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RemoteSpawnError {
    /// The node did not register this kind.
    #[error("unknown actor kind {0:?}")]
    UnknownKind(String),
    /// The arguments do not decode as the kind's argument type.
    #[error("arguments do not decode: {0}")]
    BadArgs(String),
    /// The kind takes another message type than the caller expects.
    #[error("kind {kind:?} takes {actual}, not {expected}")]
    WrongMessageType {
        /// The kind.
        kind: String,
        /// What the caller expects.
        expected: String,
        /// What the kind takes.
        actual: String,
    },
    /// The actor's `started` failed.
    #[error("actor failed to start: {0}")]
    Init(ExitReason),
    /// This node's allow-list does not let the asking node spawn this kind.
    #[error("spawning {0:?} is not allowed for this node")]
    NotAllowed(String),
}

/// Why an rpc failed on the remote node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RpcFailure {
    /// No function registered under the name.
    NoSuchFunction(String),
    /// The arguments do not decode.
    BadArgs(String),
    /// The function panicked (the node survived).
    Panic(String),
    /// This node's allow-list does not let the asking node call this function.
    NotAllowed(String),
}

/// Load of a node, for placement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Live actors.
    pub actors: u64,
    /// Messages waiting in all mailboxes (a run-queue proxy).
    pub backlog: u64,
    /// Resident memory in bytes (0 where unknown).
    pub memory: u64,
}

impl LoadReport {
    /// The report with every field clamped to a sane range (a peer's report is not trusted
    /// to be one): at most 2^32 actors, 2^40 queued messages, 2^50 bytes.
    pub fn clamped(self) -> Self {
        LoadReport {
            actors: self.actors.min(1 << 32),
            backlog: self.backlog.min(1 << 40),
            memory: self.memory.min(1 << 50),
        }
    }
}

/// A frame after the handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame<'a> {
    /// Keep-alive.
    Tick,
    /// A message for `to`, encoded as the type with tag `tag`.
    Send {
        /// Recipient.
        to: Pid,
        /// Type tag of the payload.
        tag: u64,
        /// postcard bytes of the message.
        #[serde(borrow, serialize_with = "as_bytes")]
        payload: &'a [u8],
    },
    /// A link/exit/monitor signal for `to`.
    Signal {
        /// Recipient.
        to: Pid,
        /// The signal.
        signal: Signal,
    },
    /// A reply to an exported reply handle.
    Reply {
        /// The handle's id on the receiving node.
        id: u64,
        /// postcard bytes of the reply.
        #[serde(borrow, serialize_with = "as_bytes")]
        payload: &'a [u8],
    },
    /// A reply handle was dropped unanswered; with the holder's exit reason when known.
    Abandon {
        /// The handle's id on the receiving node.
        id: u64,
        /// Why, if known (e.g. `noproc`).
        reason: Option<ExitReason>,
    },
    /// Spawn an actor of a registered kind.
    Spawn {
        /// Request id.
        req: u64,
        /// Kind name.
        kind: &'a str,
        /// Tag of the message type the caller expects the actor to take.
        msg_tag: u64,
        /// postcard bytes of the arguments.
        #[serde(borrow, serialize_with = "as_bytes")]
        args: &'a [u8],
        /// Link the new actor to this (remote) pid.
        link: Option<Pid>,
    },
    /// Result of a spawn.
    SpawnResult {
        /// Request id.
        req: u64,
        /// The pid or why not.
        result: Result<Pid, RemoteSpawnError>,
    },
    /// Call (or, with `req == 0`, cast) a registered function.
    Rpc {
        /// Request id; 0 for a cast.
        req: u64,
        /// Function name.
        func: &'a str,
        /// postcard bytes of the arguments.
        #[serde(borrow, serialize_with = "as_bytes")]
        args: &'a [u8],
    },
    /// Result of an rpc.
    RpcResult {
        /// Request id.
        req: u64,
        /// postcard bytes of the result, or why not.
        #[serde(borrow, serialize_with = "result_as_bytes")]
        result: Result<&'a [u8], RpcFailure>,
    },
    /// Visible peers of the sender, for transitive connects.
    Peers(Vec<(String, SocketAddr)>),
    /// The sender's load.
    Load(LoadReport),
    /// A message for `to` that carries reply handles: as [`Frame::Send`], with the ids of the
    /// handles the sender exported while encoding it, so that a receiver that cannot decode
    /// the payload can still make the waiting callers fail at once ([`Frame::UnknownType`]).
    SendCall {
        /// Recipient.
        to: Pid,
        /// Type tag of the payload.
        tag: u64,
        /// postcard bytes of the message.
        #[serde(borrow, serialize_with = "as_bytes")]
        payload: &'a [u8],
        /// Ids of the reply handles inside, on the sending node.
        replies: Vec<u64>,
    },
    /// A message for `to` was refused: this node has no type registered under `tag`. Sent
    /// back to the sender, with the ids of the reply handles the message carried.
    UnknownType {
        /// The intended recipient.
        to: Pid,
        /// The unknown tag.
        tag: u64,
        /// Ids of the reply handles in the refused message, on the node that sent it.
        replies: Vec<u64>,
    },
    /// Ask `to` to stop after its queued messages (OTP `proc_lib:stop`).
    Stop {
        /// The actor.
        to: Pid,
        /// The reason.
        reason: ExitReason,
    },
    /// A piece of a large frame (its encoding without length prefix), in order; the frame is
    /// decoded and handled once the piece with `more == false` has arrived. Pieces of
    /// different frames interleave (see [`Reassembly`]).
    Fragment {
        /// Which frame, unique per connection and direction.
        id: u64,
        /// Whether more pieces follow.
        more: bool,
        /// The bytes.
        #[serde(borrow, serialize_with = "as_bytes")]
        bytes: &'a [u8],
    },
    /// The receiver has taken this many more bytes of fragments: the sender keeps at most a
    /// window of fragment bytes unacknowledged, so a bulk transfer never fills the kernel's
    /// buffers ahead of later small frames.
    FragmentAck {
        /// Fragment bytes (their `bytes` lengths) taken since the last acknowledgement.
        bytes: u64,
    },
    /// A message for `to` sent inside a tracing span: as [`Frame::Send`] (no `replies`) or
    /// [`Frame::SendCall`], with the W3C trace context of the sending span. Sent only to a
    /// peer that announced [`capability::TRACE_CONTEXT`]; a message sent with no span active
    /// goes as `Send`/`SendCall`, byte for byte as before. Last, so that every other variant
    /// keeps its encoding.
    Traced {
        /// Recipient.
        to: Pid,
        /// Type tag of the payload.
        tag: u64,
        /// postcard bytes of the message.
        #[serde(borrow, serialize_with = "as_bytes")]
        payload: &'a [u8],
        /// Ids of the reply handles inside, on the sending node (empty for a `tell`).
        replies: Vec<u64>,
        /// The sending span's context (25 bytes on the wire).
        trace: TraceContext,
    },
    /// A function call (or cast) made inside a tracing span: as [`Frame::Rpc`], with the W3C
    /// trace context of the calling span; the function runs in a span whose parent it is.
    /// Sent only to a peer that announced [`capability::TRACE_CONTEXT`]; an rpc made with no
    /// span active goes as `Rpc`, byte for byte as before.
    TracedRpc {
        /// Request id; 0 for a cast.
        req: u64,
        /// Function name.
        func: &'a str,
        /// postcard bytes of the arguments.
        #[serde(borrow, serialize_with = "as_bytes")]
        args: &'a [u8],
        /// The calling span's context (25 bytes on the wire).
        trace: TraceContext,
    },
}

/// Writes a byte string as postcard bytes (one copy) rather than as a sequence of `u8`s
/// (one call per byte): the same encoding, so decoding borrows it as before.
fn as_bytes<S: serde::Serializer>(v: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

/// [`as_bytes`] for an rpc result.
fn result_as_bytes<S: serde::Serializer>(
    v: &Result<&[u8], RpcFailure>,
    s: S,
) -> Result<S::Ok, S::Error> {
    struct Bytes<'b>(&'b [u8]);
    impl Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    match v {
        Ok(b) => Ok::<_, &RpcFailure>(Bytes(b)).serialize(s),
        Err(e) => Err::<Bytes<'_>, _>(e).serialize(s),
    }
}

impl Frame<'_> {
    /// The process whose traffic this frame is ordered with: messages and signals to one
    /// pid keep their order (a large frame delays later frames to the same pid only).
    pub fn ordered_to(&self) -> Option<Pid> {
        match self {
            Frame::Send { to, .. }
            | Frame::SendCall { to, .. }
            | Frame::Traced { to, .. }
            | Frame::Signal { to, .. }
            | Frame::Stop { to, .. } => Some(*to),
            _ => None,
        }
    }
}

/// Why a fragment was refused (the connection is then closed: its stream is corrupt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// The reassembled frame would exceed the maximum frame size.
    #[error("fragmented frame exceeds the limit of {max} bytes")]
    TooLarge {
        /// Configured maximum.
        max: usize,
    },
    /// More fragmented frames in progress than [`MAX_FRAGMENTED`].
    #[error("more than {0} fragmented frames in progress")]
    TooMany(usize),
}

/// Reassembles [`Frame::Fragment`]s on the receiving side of one connection. Memory is
/// bounded: at most `max_parts` frames in progress, each at most `max_frame` bytes, grown
/// only as bytes actually arrive (a declared size is never trusted).
#[derive(Debug)]
pub struct Reassembly {
    parts: Vec<(u64, Vec<u8>)>,
    max_frame: usize,
    max_parts: usize,
}

impl Reassembly {
    /// A reassembler for frames up to `max_frame` bytes, [`MAX_FRAGMENTED`] at a time.
    pub fn new(max_frame: usize) -> Self {
        Reassembly {
            parts: Vec::new(),
            max_frame,
            max_parts: MAX_FRAGMENTED,
        }
    }

    /// Adds one fragment; returns the whole frame body once its last piece is in.
    pub fn push(
        &mut self,
        id: u64,
        more: bool,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, FragmentError> {
        self.open(id, more, bytes.len())?.extend_from_slice(bytes);
        Ok(self.close(id, more))
    }

    /// Makes room for the `n` bytes of one fragment of frame `id` (`more`: whether pieces
    /// follow it) and returns the buffer they are to be appended to, so that a reader can
    /// move them from the socket straight into place (no copy through a frame buffer). The
    /// caller appends exactly those bytes and then calls [`Reassembly::close`]. Limits as
    /// [`Reassembly::push`]: room grows with the bytes announced by pieces that arrive
    /// (at most `max_frame` per frame), never with a declared total.
    pub fn open(&mut self, id: u64, more: bool, n: usize) -> Result<&mut Vec<u8>, FragmentError> {
        let i = match self.parts.iter().position(|(p, _)| *p == id) {
            Some(i) => i,
            None => {
                if n > self.max_frame {
                    return Err(FragmentError::TooLarge {
                        max: self.max_frame,
                    });
                }
                // A frame in one piece is taken at once (by `close`): it holds no slot.
                if more && self.parts.len() >= self.max_parts {
                    return Err(FragmentError::TooMany(self.max_parts));
                }
                self.parts.push((id, Vec::new()));
                self.parts.len() - 1
            }
        };
        if self.parts[i].1.len() + n > self.max_frame {
            self.parts.swap_remove(i);
            return Err(FragmentError::TooLarge {
                max: self.max_frame,
            });
        }
        let buf = &mut self.parts[i].1;
        buf.reserve(n);
        Ok(buf)
    }

    /// The piece [`Reassembly::open`] made room for is in: the whole frame body if it was
    /// the last (`more` false), `None` otherwise.
    pub fn close(&mut self, id: u64, more: bool) -> Option<Vec<u8>> {
        if more {
            return None;
        }
        let i = self.parts.iter().position(|(p, _)| *p == id)?;
        Some(self.parts.swap_remove(i).1)
    }

    /// Bytes held for frames in progress.
    pub fn held(&self) -> usize {
        self.parts.iter().map(|(_, b)| b.len()).sum()
    }
}

/// Appends `frame` with its length prefix to `out`. Fails if it is larger than `max`.
pub fn encode_frame<T: Serialize>(
    frame: &T,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let res = postcard::to_extend(frame, std::mem::take(out));
    match res {
        Ok(v) => *out = v,
        Err(e) => return Err(WireError::Decode(e.to_string())),
    }
    let len = out.len() - start - 4;
    if len > max {
        out.truncate(start);
        return Err(WireError::TooLarge { len, max });
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(())
}

/// The variant index of [`Frame::Fragment`] in its encoding (a test checks it).
const FRAGMENT_VARIANT: u32 = 14;

/// Bytes that always hold the start of a fragment frame up to its bytes: the variant, `id`
/// and `more`, and the length of `bytes` (varints of at most 5, 10 and 10 bytes).
pub const FRAGMENT_HEAD_MAX: usize = 5 + 10 + 1 + 10;

/// The start of an encoded [`Frame::Fragment`], up to its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHead {
    /// Which frame.
    pub id: u64,
    /// Whether more pieces follow.
    pub more: bool,
    /// Bytes of the piece, after the head.
    pub len: usize,
    /// Bytes of the head itself.
    pub head_len: usize,
}

/// Decodes the head of a [`Frame::Fragment`] from the first bytes of a frame body, so that
/// a reader can read the piece's bytes straight into place; `None` if `start` is not (or
/// not long enough to show) the head of a fragment. A frame whose body is exactly
/// `head_len + len` bytes decodes (with [`decode_frame`]) to the same fragment.
pub fn fragment_head(start: &[u8]) -> Option<FragmentHead> {
    let (variant, rest) = postcard::take_from_bytes::<u32>(start).ok()?;
    if variant != FRAGMENT_VARIANT {
        return None;
    }
    let ((id, more, len), rest) = postcard::take_from_bytes::<(u64, bool, usize)>(rest).ok()?;
    Some(FragmentHead {
        id,
        more,
        len,
        head_len: start.len() - rest.len(),
    })
}

/// Reads a length prefix; refuses lengths above `max`.
pub fn frame_len(prefix: [u8; 4], max: usize) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(WireError::TooLarge { len, max });
    }
    Ok(len)
}

/// Decodes one frame body (without its length prefix).
pub fn decode_frame(body: &[u8]) -> Result<Frame<'_>, WireError> {
    postcard::from_bytes(body).map_err(|e| WireError::Decode(e.to_string()))
}

/// Decodes one handshake message body (an extension after it is ignored).
pub fn decode_handshake(body: &[u8]) -> Result<Handshake, WireError> {
    postcard::from_bytes(body).map_err(|e| WireError::Decode(e.to_string()))
}

/// Decodes one handshake message body and the [`capability`] bits appended to a `Hello`
/// (0 when there are none: a node of an earlier release; bytes that do not decode as
/// capabilities also count as none, and bits this release does not know are ignored).
pub fn decode_hello_ext(body: &[u8]) -> Result<(Handshake, u64), WireError> {
    let (h, rest) = postcard::take_from_bytes::<Handshake>(body)
        .map_err(|e| WireError::Decode(e.to_string()))?;
    let caps = match h {
        Handshake::Hello { .. } if !rest.is_empty() => {
            postcard::from_bytes::<u64>(rest).unwrap_or(0) & capability::ALL
        }
        _ => 0,
    };
    Ok((h, caps))
}

/// Appends `hello` with its length prefix and the [`capability`] bits `caps` to `out`.
pub fn encode_hello_ext(
    hello: &Handshake,
    caps: u64,
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    encode_frame(hello, max, out)?;
    if caps == 0 {
        return Ok(()); // byte for byte the `Hello` of a release without capabilities
    }
    let ext = postcard::to_extend(&caps, std::mem::take(out));
    *out = ext.map_err(|e| WireError::Decode(e.to_string()))?;
    let len = out.len() - start - 4;
    if len > max {
        out.truncate(start);
        return Err(WireError::TooLarge { len, max });
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(())
}

pub use actor_core::type_tag;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
