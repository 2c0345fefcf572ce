//! The handshake: version, identity and a mutual HMAC-SHA256 challenge on the cookie, then
//! the acceptor's admission decision.
//!
//! ```text
//! initiator                                  acceptor
//!   Hello{name, creation, challenge_i}  --->
//!                                       <---  Hello{name, creation, challenge_a} | Refuse
//!   Proof(HMAC(cookie, "I" challenge_a ..)) --->
//!                                       <---  Refuse("auth")            (wrong cookie)
//!                                       <---  Proof(HMAC(cookie, "A" challenge_i ..))
//!                                       <---  Welcome | Refuse(code)    (admission)
//! ```
//!
//! Each side proves knowledge of the cookie on a challenge the *other* side chose, bound to
//! both names; digests are compared in constant time (`hmac`'s `verify_slice`). The cookie
//! itself never crosses the wire.
//!
//! Admission (is this a crossing connect we lose, is the node already connected...) is decided
//! only once both proofs are in: nothing about the node's connections may change on the
//! strength of a name that has not been proved. Before that, a peer learns nothing but fixed
//! refusal codes ([`refusal`]); no internal error text is sent to an unauthenticated peer.

use crate::config::Cookie;
use crate::wire::{
    decode_hello_ext, encode_frame, encode_hello_ext, frame_len, Handshake, WireError,
    PROTOCOL_VERSION,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Handshake messages are small; anything bigger is hostile.
pub const MAX_HANDSHAKE: usize = 4096;

/// The fixed refusal codes a node sends in [`Handshake::Refuse`]. Nothing else is ever sent
/// as a reason.
pub mod refusal {
    /// The peer's proof does not match our cookie.
    pub const AUTH: &str = "auth";
    /// The peer speaks another protocol version.
    pub const VERSION: &str = "version";
    /// The peer claims our own name, or a name whose id collides with a known node's.
    pub const NAME: &str = "name";
    /// A crossing connect: the connection the other node initiated survives.
    pub const SIMULTANEOUS: &str = "simultaneous connect";
    /// The peer's incarnation is already connected.
    pub const ALREADY_CONNECTED: &str = "already connected";
    /// The node is shutting down or not accepting connections.
    pub const UNAVAILABLE: &str = "unavailable";
    /// Sent by an initiator after the acceptor's `Hello`: it only wanted the acceptor's name
    /// ([`probe`]); the acceptor ends the handshake quietly (no counter, no warning).
    pub const PROBE: &str = "probe";
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer does not know our cookie (or we do not know theirs).
    #[error("authentication failed")]
    AuthFailed,
    /// The peer speaks another protocol version.
    #[error("protocol version {0} not supported")]
    Version(u32),
    /// The peer refused us, with its reason (one of the [`refusal`] codes).
    #[error("refused by peer: {0}")]
    Refused(String),
    /// We refused the peer (e.g. a simultaneous connect we lost, or a duplicate name).
    #[error("refused: {0}")]
    WeRefused(String),
    /// The peer sent something that is not the expected handshake message.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Bad bytes.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// I/O error (including the peer closing).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What we learn about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its name.
    pub name: String,
    /// Its incarnation.
    pub creation: u32,
    /// Whether it is hidden.
    pub hidden: bool,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its application version.
    pub app_version: String,
    /// The [`capability`](crate::wire::capability) bits it announced (0: a node of a release
    /// that announces none).
    pub capabilities: u64,
}

/// Our side of a handshake.
pub struct Identity<'a> {
    /// Our node name.
    pub name: &'a str,
    /// Our incarnation.
    pub creation: u32,
    /// Whether we are hidden.
    pub hidden: bool,
    /// Where we listen.
    pub listen: SocketAddr,
    /// Our application version.
    pub app_version: &'a str,
    /// The cookie.
    pub cookie: &'a Cookie,
    /// The [`capability`](crate::wire::capability) bits we announce (normally
    /// [`capability::ALL`](crate::wire::capability::ALL)).
    pub capabilities: u64,
}

fn proof(
    cookie: &Cookie,
    role: u8,
    challenge: &[u8; 32],
    prover: &str,
    verifier: &str,
) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(cookie.as_bytes()).expect("HMAC takes any key length");
    mac.update(&[role]);
    mac.update(challenge);
    mac.update(prover.as_bytes());
    mac.update(&[0]);
    mac.update(verifier.as_bytes());
    mac
}

fn encode(msg: &Handshake, buf: &mut Vec<u8>) -> Result<(), HandshakeError> {
    encode_frame(msg, MAX_HANDSHAKE, buf)?;
    Ok(())
}

async fn send<S: AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    msg: &Handshake,
) -> Result<(), HandshakeError> {
    let mut buf = Vec::new();
    encode(msg, &mut buf)?;
    s.write_all(&buf).await?;
    s.flush().await?;
    Ok(())
}

/// Sends our `Hello` with our capabilities appended (see [`capability`](crate::wire::capability)).
async fn send_hello<S: AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    me: &Identity<'_>,
    challenge: [u8; 32],
) -> Result<(), HandshakeError> {
    let mut buf = Vec::new();
    encode_hello_ext(
        &hello(me, challenge),
        me.capabilities,
        MAX_HANDSHAKE,
        &mut buf,
    )?;
    s.write_all(&buf).await?;
    s.flush().await?;
    Ok(())
}

/// Reads one handshake message.
async fn recv<S: AsyncRead + Unpin + ?Sized>(s: &mut S) -> Result<Handshake, HandshakeError> {
    recv_ext(s).await.map(|(h, _)| h)
}

/// Reads one handshake message: a length prefix (at most [`MAX_HANDSHAKE`]) and its body,
/// with the capabilities appended to a `Hello`.
async fn recv_ext<S: AsyncRead + Unpin + ?Sized>(
    s: &mut S,
) -> Result<(Handshake, u64), HandshakeError> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).await?;
    let len = frame_len(prefix, MAX_HANDSHAKE)?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    match decode_hello_ext(&body)? {
        (Handshake::Refuse(r), _) => Err(HandshakeError::Refused(r)),
        h => Ok(h),
    }
}

fn hello(me: &Identity<'_>, challenge: [u8; 32]) -> Handshake {
    Handshake::Hello {
        version: PROTOCOL_VERSION,
        name: me.name.to_string(),
        creation: me.creation,
        hidden: me.hidden,
        listen: me.listen,
        app_version: me.app_version.to_string(),
        challenge,
    }
}

fn parse_hello(
    (h, capabilities): (Handshake, u64),
) -> Result<(PeerInfo, [u8; 32]), HandshakeError> {
    match h {
        Handshake::Hello {
            version,
            name,
            creation,
            hidden,
            listen,
            app_version,
            challenge,
        } => {
            if version != PROTOCOL_VERSION {
                return Err(HandshakeError::Version(version));
            }
            Ok((
                PeerInfo {
                    name,
                    creation,
                    hidden,
                    listen,
                    app_version,
                    capabilities,
                },
                challenge,
            ))
        }
        other => Err(HandshakeError::Protocol(format!(
            "expected Hello, got {}",
            kind(&other)
        ))),
    }
}

/// The name of a handshake message, for errors (never its content).
fn kind(h: &Handshake) -> &'static str {
    match h {
        Handshake::Hello { .. } => "Hello",
        Handshake::Proof(_) => "Proof",
        Handshake::Welcome => "Welcome",
        Handshake::Refuse(_) => "Refuse",
    }
}

/// Runs the initiator's side. Returns once the acceptor has proved the cookie and admitted
/// the connection.
pub async fn initiate<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    me: &Identity<'_>,
    challenge: [u8; 32],
) -> Result<PeerInfo, HandshakeError> {
    send_hello(s, me, challenge).await?;
    let (peer, their_challenge) = parse_hello(recv_ext(s).await?)?;
    let digest = proof(me.cookie, b'I', &their_challenge, me.name, &peer.name)
        .finalize()
        .into_bytes();
    send(s, &Handshake::Proof(digest.into())).await?;
    match recv(s).await {
        Ok(Handshake::Proof(p)) => {
            proof(me.cookie, b'A', &challenge, &peer.name, me.name)
                .verify_slice(&p)
                .map_err(|_| HandshakeError::AuthFailed)?;
        }
        Ok(other) => {
            return Err(HandshakeError::Protocol(format!(
                "expected Proof, got {}",
                kind(&other)
            )))
        }
        Err(HandshakeError::Refused(r)) if r == refusal::AUTH => {
            return Err(HandshakeError::AuthFailed)
        }
        Err(e) => return Err(e),
    }
    // Both proofs are in: the acceptor's admission decision follows.
    match recv(s).await? {
        Handshake::Welcome => Ok(peer),
        other => Err(HandshakeError::Protocol(format!(
            "expected Welcome, got {}",
            kind(&other)
        ))),
    }
}

/// Asks the node at the other end of `s` for its name, as an initiator that stops after the
/// `Hello`s (and tells the acceptor so with [`refusal::PROBE`]): nothing is proved, so the
/// answer is only a hint of whom to dial (a connection to that name proves it); nothing about
/// either node's connections changes. This is how a node dials an address that came without a
/// node name (a DNS A record): probe, then connect by name.
pub async fn probe<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    me: &Identity<'_>,
    challenge: [u8; 32],
) -> Result<PeerInfo, HandshakeError> {
    send_hello(s, me, challenge).await?;
    let (peer, _) = parse_hello(recv_ext(s).await?)?;
    let _ = send(s, &Handshake::Refuse(refusal::PROBE.into())).await;
    Ok(peer)
}

/// Runs the acceptor's side. `admit` decides, once both sides have proved the cookie, whether
/// to go on (e.g. it loses a simultaneous connect); its `Err` (a [`refusal`] code) is sent to
/// the peer.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    me: &Identity<'_>,
    challenge: [u8; 32],
    admit: impl FnOnce(&PeerInfo) -> Result<(), &'static str>,
) -> Result<PeerInfo, HandshakeError> {
    accept_named(s, me, challenge, |_| {}, admit)
        .await
        .map_err(|(e, _)| e)
}

/// [`accept`], also telling the peer's claimed name when it failed after the `Hello`.
/// `on_hello` is called once the peer's `Hello` has been read (nothing is proved yet: it may
/// only be used for bookkeeping of the socket, never to change the node's connections).
pub async fn accept_named<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    s: &mut S,
    me: &Identity<'_>,
    challenge: [u8; 32],
    on_hello: impl FnOnce(&PeerInfo),
    admit: impl FnOnce(&PeerInfo) -> Result<(), &'static str>,
) -> Result<PeerInfo, (HandshakeError, Option<String>)> {
    let (peer, their_challenge) = match recv_ext(s).await.and_then(parse_hello) {
        Ok(p) => p,
        Err(e) => {
            if matches!(e, HandshakeError::Version(_)) {
                let _ = send(s, &Handshake::Refuse(refusal::VERSION.into())).await;
            }
            // Anything else is garbage from an unknown peer: close without a word.
            return Err((e, None));
        }
    };
    on_hello(&peer);
    let name = Some(peer.name.clone());
    let proved = async {
        send_hello(s, me, challenge).await?;
        let answer = match recv(s).await {
            // A probe (the initiator only wanted our name) is no failure of anyone's.
            Err(HandshakeError::Refused(r)) if r == refusal::PROBE => {
                return Err(HandshakeError::WeRefused(refusal::PROBE.into()))
            }
            other => other?,
        };
        match answer {
            Handshake::Proof(p) => {
                if proof(me.cookie, b'I', &challenge, &peer.name, me.name)
                    .verify_slice(&p)
                    .is_err()
                {
                    let _ = send(s, &Handshake::Refuse(refusal::AUTH.into())).await;
                    return Err(HandshakeError::AuthFailed);
                }
                Ok(())
            }
            other => Err(HandshakeError::Protocol(format!(
                "expected Proof, got {}",
                kind(&other)
            ))),
        }
    };
    if let Err(e) = proved.await {
        return Err((e, name));
    }
    // The initiator proved the cookie; we prove it too, then decide.
    let digest = proof(me.cookie, b'A', &their_challenge, me.name, &peer.name)
        .finalize()
        .into_bytes();
    let mut out = Vec::new();
    let decision = admit(&peer);
    let res = encode(&Handshake::Proof(digest.into()), &mut out).and_then(|()| match decision {
        Ok(()) => encode(&Handshake::Welcome, &mut out),
        Err(code) => encode(&Handshake::Refuse(code.into()), &mut out),
    });
    if let Err(e) = res {
        return Err((e, name));
    }
    // Proof and decision leave in one write: no extra round trip.
    let written = async {
        s.write_all(&out).await?;
        s.flush().await
    };
    if let Err(e) = written.await {
        return Err((e.into(), name));
    }
    match decision {
        Ok(()) => Ok(peer),
        Err(code) => Err((HandshakeError::WeRefused(code.into()), name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(name: &'a str, cookie: &'a Cookie) -> Identity<'a> {
        Identity {
            name,
            creation: 1,
            hidden: false,
            listen: "127.0.0.1:1".parse().unwrap(),
            app_version: "1",
            cookie,
            capabilities: crate::wire::capability::ALL,
        }
    }

    /// A probe learns the acceptor's name without proving anything; the acceptor ends the
    /// handshake as a quiet refusal and never reaches its admission decision.
    #[tokio::test]
    async fn a_probe_learns_the_name_and_admits_nothing() {
        let c = Cookie::new("monster").unwrap();
        let other = Cookie::new("other").unwrap();
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        // Even a wrong cookie learns the name: a probe proves nothing.
        let (ia, ib) = (id("a@h", &other), id("b@h", &c));
        let (ra, rb) = tokio::join!(
            probe(&mut a, &ia, [1; 32]),
            accept(&mut b, &ib, [2; 32], |_| panic!(
                "a probe is never admitted"
            ))
        );
        assert_eq!(ra.unwrap().name, "b@h");
        assert!(
            matches!(rb, Err(HandshakeError::WeRefused(ref r)) if r == refusal::PROBE),
            "{rb:?}"
        );
    }

    #[tokio::test]
    async fn same_cookie_authenticates_both_ways() {
        let c = Cookie::new("monster").unwrap();
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let (ia, ib) = (id("a@h", &c), id("b@h", &c));
        let (ra, rb) = tokio::join!(
            initiate(&mut a, &ia, [1; 32]),
            accept(&mut b, &ib, [2; 32], |_| Ok(()))
        );
        assert_eq!(ra.unwrap().name, "b@h");
        assert_eq!(rb.unwrap().name, "a@h");
    }

    #[tokio::test]
    async fn wrong_cookie_is_refused_on_both_sides() {
        let c1 = Cookie::new("one").unwrap();
        let c2 = Cookie::new("two").unwrap();
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let (ia, ib) = (id("a@h", &c1), id("b@h", &c2));
        let (ra, rb) = tokio::join!(
            initiate(&mut a, &ia, [1; 32]),
            accept(&mut b, &ib, [2; 32], |_| Ok(()))
        );
        assert!(matches!(ra, Err(HandshakeError::AuthFailed)), "{ra:?}");
        assert!(matches!(rb, Err(HandshakeError::AuthFailed)), "{rb:?}");
    }

    #[tokio::test]
    async fn admission_refusal_reaches_the_initiator() {
        let c = Cookie::new("x").unwrap();
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let (ia, ib) = (id("a@h", &c), id("b@h", &c));
        let (ra, rb) = tokio::join!(
            initiate(&mut a, &ia, [1; 32]),
            accept(&mut b, &ib, [2; 32], |_| Err(refusal::SIMULTANEOUS))
        );
        assert!(matches!(ra, Err(HandshakeError::Refused(ref r)) if r == refusal::SIMULTANEOUS));
        assert!(matches!(rb, Err(HandshakeError::WeRefused(_))));
    }

    #[tokio::test]
    async fn garbage_is_a_clean_error() {
        let c = Cookie::new("x").unwrap();
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let garbage = async move {
            a.write_all(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff])
                .await
                .unwrap();
            a
        };
        let me = id("b@h", &c);
        let (_a, rb) = tokio::join!(garbage, accept(&mut b, &me, [2; 32], |_| Ok(())));
        assert!(matches!(rb, Err(HandshakeError::Wire(_))), "{rb:?}");
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let huge = async move {
            a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
            a
        };
        let (_a, rb) = tokio::join!(huge, accept(&mut b, &me, [2; 32], |_| Ok(())));
        assert!(
            matches!(rb, Err(HandshakeError::Wire(WireError::TooLarge { .. }))),
            "{rb:?}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
        /// Whatever a peer sends, the acceptor ends with an error (or a clean refusal), never a
        /// panic and never a hang.
        #[test]
        fn arbitrary_bytes_never_break_the_acceptor(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let c = Cookie::new("x").unwrap();
                let (mut a, mut b) = tokio::io::duplex(1 << 16);
                a.write_all(&bytes).await.unwrap();
                drop(a); // EOF after the bytes
                let me = id("b@h", &c);
                let res = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    accept(&mut b, &me, [2; 32], |_| Ok(())),
                )
                .await
                .expect("no hang");
                assert!(res.is_err());
            });
        }

        /// Whatever an acceptor answers, the initiator ends with an error, never a panic, a
        /// hang or an accepted connection (no byte string proves the cookie by chance).
        #[test]
        fn arbitrary_bytes_never_break_the_initiator(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let c = Cookie::new("x").unwrap();
                let (mut a, mut b) = tokio::io::duplex(1 << 16);
                b.write_all(&bytes).await.unwrap();
                drop(b);
                let me = id("a@h", &c);
                let res = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    initiate(&mut a, &me, [1; 32]),
                )
                .await
                .expect("no hang");
                assert!(res.is_err());
            });
        }
    }
}
