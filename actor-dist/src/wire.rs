//! The wire format: length-prefixed postcard frames.
//!
//! Every frame is a 4-byte big-endian length followed by the postcard encoding of a
//! [`Frame`]. A length above the configured maximum is refused before anything is allocated.
//! Decoding is total: any byte string gives a frame or a [`WireError`], never a panic.

use actor_core::{ExitReason, Pid, Signal};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Protocol version; both sides must speak the same.
pub const PROTOCOL_VERSION: u32 = 2;

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
        #[serde(borrow)]
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
        #[serde(borrow)]
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
        #[serde(borrow)]
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
        #[serde(borrow)]
        args: &'a [u8],
    },
    /// Result of an rpc.
    RpcResult {
        /// Request id.
        req: u64,
        /// postcard bytes of the result, or why not.
        #[serde(borrow)]
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
        #[serde(borrow)]
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

/// Decodes one handshake message body.
pub fn decode_handshake(body: &[u8]) -> Result<Handshake, WireError> {
    postcard::from_bytes(body).map_err(|e| WireError::Decode(e.to_string()))
}

pub use actor_core::type_tag;

#[cfg(test)]
mod tests {
    use super::*;
    use actor_core::NodeId;
    use proptest::prelude::*;

    fn pid() -> Pid {
        Pid {
            node: NodeId(9),
            id: 3,
            creation: 2,
        }
    }

    #[test]
    fn frames_round_trip() {
        let frames = vec![
            Frame::Tick,
            Frame::Send {
                to: pid(),
                tag: 7,
                payload: b"abc",
            },
            Frame::Signal {
                to: pid(),
                signal: Signal::Exit {
                    from: pid(),
                    reason: ExitReason::NoConnection,
                    link: true,
                },
            },
            Frame::Reply {
                id: 1,
                payload: &[1, 2],
            },
            Frame::RpcResult {
                req: 4,
                result: Err(RpcFailure::Panic("p".into())),
            },
            Frame::SendCall {
                to: pid(),
                tag: 8,
                payload: b"q",
                replies: vec![3, 4],
            },
            Frame::UnknownType {
                to: pid(),
                tag: 8,
                replies: vec![3],
            },
        ];
        for f in frames {
            let mut out = Vec::new();
            encode_frame(&f, 1024, &mut out).unwrap();
            let len = frame_len(out[..4].try_into().unwrap(), 1024).unwrap();
            assert_eq!(len, out.len() - 4);
            assert_eq!(decode_frame(&out[4..]).unwrap(), f);
        }
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        let mut out = vec![9u8];
        let big = vec![0u8; 100];
        let err = encode_frame(
            &Frame::Send {
                to: pid(),
                tag: 1,
                payload: &big,
            },
            50,
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, WireError::TooLarge { .. }));
        assert_eq!(out, vec![9u8], "nothing half-written");
        assert!(frame_len(u32::MAX.to_be_bytes(), 1 << 20).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_frame(&bytes);
            let _ = decode_handshake(&bytes);
            if bytes.len() >= 4 {
                let _ = frame_len(bytes[..4].try_into().unwrap(), 1 << 16);
            }
        }

        #[test]
        fn truncated_frames_are_errors_not_panics(cut in 0usize..40) {
            let mut out = Vec::new();
            encode_frame(&Frame::Send { to: pid(), tag: 77, payload: b"hello world" }, 1024, &mut out).unwrap();
            let body = &out[4..];
            let cut = cut.min(body.len());
            if cut < body.len() {
                prop_assert!(decode_frame(&body[..cut]).is_err());
            }
        }
    }
}
