//! Connection set-up and admission: dialling and accepting, driving the handshake, the
//! simultaneous-connect rule, and bringing an authenticated connection up.

use super::admission::Ticket;
use super::housekeeping::tick_loop;
use super::io::{read_loop, write_loop};
use super::routing::Wire;
use super::transport::server_name;
use super::Inner;
use crate::conn::{Conn, Phase};
use crate::events::{AuthFailure, DownReason, NodeEvent, NodeInfo};
use crate::handshake::{self, refusal, HandshakeError, PeerInfo};
use crate::transport::{boxed, BoxStream, Listener};
use crate::wire::Frame;
use actor_core::NodeId;
use parking_lot::Mutex;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn wait_up(conn: &Arc<Conn>) -> Result<NodeInfo, DownReason> {
    let mut rx = conn.phase.subscribe();
    let phase = rx
        .wait_for(|p| !matches!(p, Phase::Connecting))
        .await
        .map(|p| p.clone())
        .unwrap_or(Phase::Down(DownReason::ConnectionClosed));
    match phase {
        Phase::Up(info) => Ok(info),
        Phase::Down(r) => Err(r),
        Phase::Connecting => unreachable!(),
    }
}

impl Inner {
    pub(super) fn new_conn(self: &Arc<Self>, id: NodeId, name: String) -> Arc<Conn> {
        let wire = Arc::new(Wire {
            inner: Arc::downgrade(self),
            peer: id,
        });
        Arc::new(Conn::new(
            id,
            name,
            wire,
            self.cfg.outbound_limit,
            self.cfg.fragment_window,
        ))
    }

    /// The connection to `id`, starting one if allowed and the address is known.
    pub(crate) fn conn_for(self: &Arc<Self>, id: NodeId, auto: bool) -> Option<Arc<Conn>> {
        if let Some(c) = self.conns.read().get(&id) {
            if !c.is_closed() {
                return Some(c.clone());
            }
        }
        if !(auto && self.cfg.auto_connect) || self.shut.load(Ordering::SeqCst) {
            return None;
        }
        // An auto-connect that failed is not retried before its backoff: sends fail at once
        // meanwhile, with no event and no connect attempt per message.
        if let Some((_, until)) = self.retry.lock().get(&id) {
            if tokio::time::Instant::now() < *until {
                return None;
            }
        }
        let (name, addr) = self.known.lock().get(&id).cloned()?;
        Some(self.start_connect(id, name, addr))
    }

    /// The connection to the node called `name`, connecting if needed, once it is up.
    pub(crate) async fn conn_up_by_name(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<Conn>, DownReason> {
        let id = NodeId::from_name(name);
        let conn = match self.conn_for(id, true) {
            Some(c) => c,
            // No address known: the resolver's, if any (resolve.rs).
            None => self.resolve_and_connect(id, name).await?,
        };
        wait_up(&conn).await?;
        Ok(conn)
    }

    pub(super) fn start_connect(
        self: &Arc<Self>,
        id: NodeId,
        name: String,
        addr: SocketAddr,
    ) -> Arc<Conn> {
        let mut conns = self.conns.write();
        if let Some(c) = conns.get(&id) {
            if !c.is_closed() {
                return c.clone();
            }
        }
        let conn = self.new_conn(id, name);
        conns.insert(id, conn.clone());
        drop(conns);
        let t = tokio::spawn(connect_task(self.clone(), conn.clone(), addr));
        conn.tasks.lock().push(t.abort_handle());
        conn
    }

    /// Brings a handshaken connection up: starts its reader, writer and ticker.
    pub(super) fn conn_up(self: &Arc<Self>, conn: &Arc<Conn>, stream: BoxStream, peer: PeerInfo) {
        if conn.is_closed() {
            return;
        }
        if self.shut.load(Ordering::SeqCst) {
            self.conn_down(conn, DownReason::Disconnect);
            return;
        }
        conn.set_capabilities(peer.capabilities);
        let info = NodeInfo {
            name: peer.name,
            creation: peer.creation,
            hidden: peer.hidden,
            listen: peer.listen,
            app_version: peer.app_version,
        };
        self.retry.lock().remove(&conn.peer);
        // An address we were given (seed, explicit connect) wins over the one the peer
        // reports: it may be reachable only through a proxy or NAT.
        self.known
            .lock()
            .entry(conn.peer)
            .or_insert((info.name.clone(), info.listen));
        // Up is published before the connection's tasks start, so that a connection dying at
        // once can never have its Down delivered ahead of its Up.
        conn.phase.send_replace(Phase::Up(info.clone()));
        tracing::info!(node = %self.node.name(), peer = %info.name, "nodeup");
        self.emit(NodeEvent::Up(info.clone()));
        let (rd, wr) = stream.into_halves();
        let reader = tokio::spawn(read_loop(self.clone(), conn.clone(), rd));
        let writer = tokio::spawn(write_loop(self.clone(), conn.clone(), wr));
        let ticker = tokio::spawn(tick_loop(self.clone(), conn.clone()));
        conn.tasks.lock().extend([
            reader.abort_handle(),
            writer.abort_handle(),
            ticker.abort_handle(),
        ]);
        if self.cfg.transitive && !self.cfg.hidden && !info.hidden {
            let peers = self.visible_peers(conn.peer);
            self.send_prio(conn, &Frame::Peers(peers));
        }
        self.send_prio(conn, &Frame::Load(self.local_load()));
    }

    pub(super) fn visible_peers(&self, except: NodeId) -> Vec<(String, SocketAddr)> {
        self.conns
            .read()
            .values()
            .filter(|c| c.peer != except)
            .filter_map(|c| match c.phase() {
                Phase::Up(i) if !i.hidden => Some((i.name, i.listen)),
                _ => None,
            })
            .collect()
    }
}

pub(super) async fn accept_loop(inner: Arc<Inner>, mut listener: Box<dyn Listener>) {
    loop {
        let (tcp, from) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, typically: back off a little instead of spinning.
                if let Some(n) = inner.preauth_warnings.allow() {
                    tracing::warn!(error = %e, suppressed = n, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let task_inner = inner.clone();
        let admitted = inner.admission.admit(from.ip(), move |ticket| {
            tokio::spawn(accept_task(task_inner, tcp, from, ticket)).abort_handle()
        });
        match admitted {
            Ok(0) => {}
            Ok(evicted) => {
                inner
                    .stats
                    .preauth_evicted
                    .fetch_add(evicted, Ordering::Relaxed);
                if let Some(n) = inner.preauth_warnings.allow() {
                    tracing::warn!(%from, suppressed = n, "too many unauthenticated connections: closed the oldest idle one");
                }
            }
            Err(why) => {
                // The socket was dropped with the closure: closed at once, nothing queued.
                inner.stats.preauth_refused.fetch_add(1, Ordering::Relaxed);
                if let Some(n) = inner.preauth_warnings.allow() {
                    tracing::warn!(%from, ?why, suppressed = n, "connection refused before authentication");
                }
            }
        }
    }
}

/// What an accepted connection's admission decided: the connection to bring up, and an
/// older connection of the same node (another incarnation) to take down.
type Claimed = Mutex<Option<(Arc<Conn>, Option<Arc<Conn>>)>>;

async fn accept_task(inner: Arc<Inner>, tcp: BoxStream, from: SocketAddr, ticket: Ticket) {
    let deadline = tokio::time::Instant::now() + inner.cfg.setup_timeout;
    let challenge = inner.challenge();
    let me = inner.identity();
    let claimed: Claimed = Mutex::new(None);
    let setup = async {
        let mut stream = match &inner.cfg.tls {
            None => tcp,
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
                match acceptor.accept(tcp).await {
                    Ok(s) => boxed(s),
                    Err(e) => return Err((HandshakeError::Io(e), None)),
                }
            }
        };
        let peer = handshake::accept_named(
            &mut *stream,
            &me,
            challenge,
            |_| ticket.hello(),
            |peer| inner.admit(peer, &ticket, &claimed),
        )
        .await?;
        Ok((stream, peer))
    };
    let res = tokio::time::timeout_at(deadline, setup).await;
    drop(ticket);
    let claimed = claimed.into_inner();
    if let Some((_, Some(old))) = &claimed {
        // The peer proved it is a new incarnation: its old connection is dead.
        inner.conn_down(old, DownReason::ConnectionClosed);
    }
    match res {
        Ok(Ok((stream, peer))) => {
            if let Some((conn, _)) = claimed {
                inner.conn_up(&conn, stream, peer);
            }
        }
        Ok(Err((e, name))) => {
            if let Some((conn, _)) = claimed {
                inner.conn_down(&conn, DownReason::ConnectionSetupFailed(e.to_string()));
            }
            accept_failed(&inner, from, name, e);
        }
        Err(_) => {
            inner
                .stats
                .handshake_timeouts
                .fetch_add(1, Ordering::Relaxed);
            if let Some(n) = inner.preauth_warnings.allow() {
                tracing::warn!(%from, suppressed = n, "handshake timed out");
            }
            if let Some((conn, _)) = claimed {
                inner.conn_down(
                    &conn,
                    DownReason::ConnectionSetupFailed("handshake timeout".into()),
                );
            }
        }
    }
}

impl Inner {
    /// Decides whether an incoming connection from `peer`, who has just proved the cookie,
    /// goes on: nothing about the node's connections changes before this point. On `Ok`,
    /// `claimed` holds the connection it will bring up (and an older incarnation's to end).
    fn admit(
        self: &Arc<Self>,
        peer: &PeerInfo,
        ticket: &Ticket,
        claimed: &Claimed,
    ) -> Result<(), &'static str> {
        if !ticket.authenticated() || self.shut.load(Ordering::SeqCst) {
            return Err(refusal::UNAVAILABLE); // evicted meanwhile, or shutting down
        }
        if peer.name == self.node.name() {
            return Err(refusal::NAME);
        }
        let id = NodeId::from_name(&peer.name);
        if let Some((known, _)) = self.known.lock().get(&id) {
            if known != &peer.name {
                tracing::warn!(%known, claimed = %peer.name, "node id collision: connection refused");
                return Err(refusal::NAME);
            }
        }
        let mut conns = self.conns.write();
        let old = match conns.get(&id) {
            Some(c) if !c.is_closed() => match c.phase() {
                // Crossing connects: the connection initiated by the greater name survives,
                // on both sides, so exactly one remains.
                Phase::Connecting => {
                    if self.node.name() > peer.name.as_str() {
                        return Err(refusal::SIMULTANEOUS);
                    }
                    // Take over our own connect in flight (it finds the claim taken), unless
                    // it has just come up itself.
                    if !c.claim() {
                        return Err(refusal::ALREADY_CONNECTED);
                    }
                    *claimed.lock() = Some((c.clone(), None));
                    return Ok(());
                }
                // Same incarnation already connected: keep the connection we have.
                Phase::Up(info) if info.creation == peer.creation => {
                    return Err(refusal::ALREADY_CONNECTED);
                }
                // A new creation: the peer restarted; its new connection replaces the old.
                _ => Some(c.clone()),
            },
            _ => None,
        };
        let c = self.new_conn(id, peer.name.clone());
        c.claim();
        conns.insert(id, c.clone());
        *claimed.lock() = Some((c, old));
        Ok(())
    }

    /// An auto-connect to `id` failed: the next one waits for the backoff.
    fn connect_failed(&self, id: NodeId) {
        let (base, cap) = self.cfg.backoff;
        let jitter: f64 = self.rng.lock().gen_range(0.5..1.5);
        let mut retry = self.retry.lock();
        let entry = retry.entry(id).or_insert((0, tokio::time::Instant::now()));
        let delay = base.saturating_mul(1 << entry.0.min(16)).min(cap);
        entry.0 += 1;
        entry.1 = tokio::time::Instant::now() + delay.mul_f64(jitter);
    }
}

/// An incoming handshake failed: counted and logged (rate-limited: the peer is not
/// authenticated); a failed authentication is reported as [`NodeEvent::AuthFailed`].
fn accept_failed(inner: &Arc<Inner>, from: SocketAddr, name: Option<String>, e: HandshakeError) {
    match e {
        HandshakeError::AuthFailed => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = inner.preauth_warnings.allow() {
                tracing::warn!(%from, claimed = ?name, suppressed = n, "connection refused: wrong cookie");
            }
            inner.emit(NodeEvent::AuthFailed {
                addr: from,
                claimed_name: name.unwrap_or_default(),
                reason: AuthFailure::CookieMismatch,
            });
        }
        HandshakeError::WeRefused(r) => {
            tracing::debug!(%from, peer = ?name, reason = %r, "connection refused")
        }
        e => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            if let Some(n) = inner.preauth_warnings.allow() {
                tracing::warn!(%from, claimed = ?name, error = %e, suppressed = n, "handshake failed");
            }
        }
    }
}

async fn connect_task(inner: Arc<Inner>, conn: Arc<Conn>, addr: SocketAddr) {
    let challenge = inner.challenge();
    let res = tokio::time::timeout(inner.cfg.setup_timeout, async {
        let tcp = inner.cfg.transport.connect(addr).await?;
        let mut stream = match &inner.cfg.tls {
            None => tcp,
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                boxed(connector.connect(server_name(&conn.name)?, tcp).await?)
            }
        };
        let me = inner.identity();
        let peer = handshake::initiate(&mut *stream, &me, challenge).await?;
        Ok::<_, HandshakeError>((stream, peer))
    })
    .await;
    // Ends a connect that never came up: no node event (no up was seen), the caller gets the
    // reason, and auto-connects back off. Unless an incoming connection took `conn` over.
    let fail = |reason: DownReason| {
        if conn.claim() {
            // The backoff is in place before anyone waiting on `conn` learns of the failure.
            inner.connect_failed(conn.peer);
            inner.conn_down(&conn, reason);
        }
    };
    match res {
        Ok(Ok((s, peer))) if peer.name == conn.name => {
            if conn.claim() {
                inner.conn_up(&conn, s, peer);
            }
            // Otherwise the incoming connection from the same peer owns `conn` now.
        }
        Ok(Ok((_, peer))) => fail(DownReason::ConnectionSetupFailed(format!(
            "{addr} is {}, not {}",
            peer.name, conn.name
        ))),
        // The peer is connected to us already: either our own acceptor took `conn` over for
        // the peer's connection (it will be up at once), or the peer's connection to us is
        // a dead one it has not noticed yet: then fail now, and retry after the backoff,
        // rather than wait out the set-up timeout.
        Ok(Err(HandshakeError::Refused(r))) if r == refusal::ALREADY_CONNECTED && conn.claim() => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            inner.connect_failed(conn.peer);
            inner.conn_down(
                &conn,
                DownReason::ConnectionSetupFailed("already connected".into()),
            );
        }
        Ok(Err(HandshakeError::Refused(r)))
            if r == refusal::SIMULTANEOUS || r == refusal::ALREADY_CONNECTED =>
        {
            // The peer's own connection to us wins; wait for it to take `conn` over.
            let mut rx = conn.phase.subscribe();
            let adopted = tokio::time::timeout(
                inner.cfg.setup_timeout,
                rx.wait_for(|p| !matches!(p, Phase::Connecting)),
            )
            .await;
            if adopted.is_err() {
                fail(DownReason::ConnectionSetupFailed(
                    "simultaneous connect lost".into(),
                ));
            }
        }
        Ok(Err(HandshakeError::AuthFailed)) => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %conn.name, %addr, "connection refused: wrong cookie");
            inner.emit(NodeEvent::AuthFailed {
                addr,
                claimed_name: conn.name.clone(),
                reason: AuthFailure::CookieMismatch,
            });
            fail(DownReason::AuthFailed);
        }
        Ok(Err(e)) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            fail(DownReason::ConnectionSetupFailed(e.to_string()));
        }
        Err(_) => {
            inner
                .stats
                .handshake_timeouts
                .fetch_add(1, Ordering::Relaxed);
            fail(DownReason::ConnectionSetupFailed("setup timeout".into()));
        }
    }
}
