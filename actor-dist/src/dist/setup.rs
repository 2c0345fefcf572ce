//! Connection set-up and admission: dialling and accepting, driving the handshake, the
//! simultaneous-connect rule, and bringing an authenticated connection up.

use super::housekeeping::tick_loop;
use super::io::{read_loop, write_loop};
use super::routing::Wire;
use super::transport::{server_name, Stream};
use super::Inner;
use crate::conn::{Conn, Phase};
use crate::events::{DownReason, NodeEvent, NodeInfo};
use crate::handshake::{self, HandshakeError, PeerInfo};
use crate::wire::Frame;
use actor_core::NodeId;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Handshakes in progress at once; more wait (a silent peer holds a slot at most
/// `setup_timeout`).
pub(super) const MAX_PENDING_HANDSHAKES: usize = 64;
/// Refusal reasons the initiator understands as "the other connection wins".
const SIMULTANEOUS: &str = "simultaneous connect";
const ALREADY_CONNECTED: &str = "already connected";
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
        Arc::new(Conn::new(id, name, wire, self.cfg.outbound_limit))
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
        let (name, addr) = self.known.lock().get(&id).cloned()?;
        Some(self.start_connect(id, name, addr))
    }

    /// The connection to the node called `name`, connecting if needed, once it is up.
    pub(crate) async fn conn_up_by_name(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<Conn>, DownReason> {
        let id = NodeId::from_name(name);
        let conn = self.conn_for(id, true).ok_or_else(|| {
            DownReason::ConnectionSetupFailed(format!("no address known for {name}"))
        })?;
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
    pub(super) fn conn_up(self: &Arc<Self>, conn: &Arc<Conn>, stream: Stream, peer: PeerInfo) {
        if conn.is_closed() {
            return;
        }
        if self.shut.load(Ordering::SeqCst) {
            self.conn_down(conn, DownReason::Disconnect);
            return;
        }
        let info = NodeInfo {
            name: peer.name,
            creation: peer.creation,
            hidden: peer.hidden,
            listen: peer.listen,
            app_version: peer.app_version,
        };
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
        let (rd, wr) = stream.split();
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
            let _ = self.send_frame(conn, &Frame::Peers(peers), true);
        }
        let _ = self.send_frame(conn, &Frame::Load(self.local_load()), true);
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

    /// An incoming handshake failed. A connection it only reserved goes quietly (nobody knew
    /// of it but a connect that waits on it and now fails); one it took over goes down.
    pub(super) fn setup_failed(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        reserved: bool,
        reason: DownReason,
    ) {
        if !reserved {
            return self.conn_down(conn, reason);
        }
        if !conn.close() {
            return;
        }
        conn.phase.send_replace(Phase::Down(reason));
        let mut conns = self.conns.write();
        if conns.get(&conn.peer).is_some_and(|c| Arc::ptr_eq(c, conn)) {
            conns.remove(&conn.peer);
        }
    }
}

pub(super) async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let holder = inner.clone();
            let Ok(_slot) = holder.handshakes.acquire().await else {
                return;
            };
            accept_task(inner, stream, from).await;
        });
    }
}

async fn accept_task(inner: Arc<Inner>, tcp: TcpStream, from: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let mut stream = match &inner.cfg.tls {
        None => Stream::Tcp(tcp),
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
            match tokio::time::timeout(inner.cfg.setup_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => Stream::Tls(Box::new(s)),
                Ok(Err(e)) => {
                    inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    let challenge = inner.challenge();
    let me = inner.identity();
    // The connection this handshake takes over (our own connect in flight), or reserves (none
    // existed: `true`), so that a connect started meanwhile waits for it instead of dialling.
    let adopted: Mutex<Option<(Arc<Conn>, bool)>> = Mutex::new(None);
    let admit = |peer: &PeerInfo| -> Result<(), String> {
        if peer.name == inner.node.name() {
            return Err("a node with my name".into());
        }
        let id = NodeId::from_name(&peer.name);
        if let Some((known, _)) = inner.known.lock().get(&id) {
            if known != &peer.name {
                return Err(format!(
                    "node id collision between {known} and {}",
                    peer.name
                ));
            }
        }
        let mut conns = inner.conns.write();
        match conns.get(&id) {
            Some(c) if !c.is_closed() => match c.phase() {
                // Simultaneous connect: the connection initiated by the greater name
                // survives, on both sides, so exactly one remains.
                Phase::Connecting => {
                    if inner.node.name() > peer.name.as_str() {
                        return Err(SIMULTANEOUS.into());
                    }
                    c.adopted.store(true, Ordering::Release);
                    *adopted.lock() = Some((c.clone(), false));
                }
                // Same incarnation already connected: keep the connection we have. A new
                // creation means the peer restarted; its new connection replaces the old.
                Phase::Up(info) if info.creation == peer.creation => {
                    return Err(ALREADY_CONNECTED.into());
                }
                _ => {}
            },
            _ => {
                // Reserve the peer's slot: our own connect, if one starts before this
                // handshake ends, finds this connection and waits for it.
                let c = inner.new_conn(id, peer.name.clone());
                c.adopted.store(true, Ordering::Release);
                conns.insert(id, c.clone());
                *adopted.lock() = Some((c, true));
            }
        }
        Ok(())
    };
    let res = tokio::time::timeout(
        inner.cfg.setup_timeout,
        handshake::accept_named(stream.stream(), &me, challenge, admit),
    )
    .await;
    let adopted = adopted.into_inner();
    match res {
        Ok(Ok(peer)) => {
            let id = NodeId::from_name(&peer.name);
            let (conn, old) = {
                let mut conns = inner.conns.write();
                match conns.get(&id).cloned() {
                    Some(c) if !c.is_closed() && matches!(c.phase(), Phase::Connecting) => {
                        (c, None)
                    }
                    existing => {
                        let c = inner.new_conn(id, peer.name.clone());
                        conns.insert(id, c.clone());
                        (c, existing.filter(|e| !e.is_closed()))
                    }
                }
            };
            if let Some(old) = old {
                // The peer connected again: its old connection is dead (e.g. it restarted).
                inner.conn_down(&old, DownReason::ConnectionClosed);
            }
            inner.conn_up(&conn, stream, peer);
        }
        Ok(Err((e, name))) => {
            if let Some((c, reserved)) = adopted {
                inner.setup_failed(
                    &c,
                    reserved,
                    DownReason::ConnectionSetupFailed(e.to_string()),
                );
            }
            refused(&inner, from, name, e);
        }
        Err(_) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, "handshake timed out");
            if let Some((c, reserved)) = adopted {
                inner.setup_failed(
                    &c,
                    reserved,
                    DownReason::ConnectionSetupFailed("handshake timeout".into()),
                );
            }
        }
    }
}

fn refused(inner: &Arc<Inner>, from: SocketAddr, name: Option<String>, e: HandshakeError) {
    match e {
        HandshakeError::AuthFailed => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, peer = ?name, "connection refused: wrong cookie");
            inner.emit(NodeEvent::Down {
                node: name.unwrap_or_else(|| from.to_string()),
                reason: DownReason::AuthFailed,
            });
        }
        HandshakeError::WeRefused(r) => {
            tracing::debug!(%from, peer = ?name, reason = %r, "connection refused")
        }
        e => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%from, peer = ?name, error = %e, "handshake failed");
        }
    }
}

async fn connect_task(inner: Arc<Inner>, conn: Arc<Conn>, addr: SocketAddr) {
    let challenge = inner.challenge();
    let res = tokio::time::timeout(inner.cfg.setup_timeout, async {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let mut stream = match &inner.cfg.tls {
            None => Stream::Tcp(tcp),
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                Stream::Tls(Box::new(
                    connector.connect(server_name(&conn.name)?, tcp).await?,
                ))
            }
        };
        let me = inner.identity();
        let peer = handshake::initiate(stream.stream(), &me, challenge).await?;
        Ok::<_, HandshakeError>((stream, peer))
    })
    .await;
    if conn.adopted.load(Ordering::Acquire) {
        return; // The incoming connection from the same peer owns `conn` now.
    }
    match res {
        Ok(Ok((s, peer))) if peer.name == conn.name => inner.conn_up(&conn, s, peer),
        Ok(Ok((_, peer))) => inner.conn_down(
            &conn,
            DownReason::ConnectionSetupFailed(format!(
                "{addr} is {}, not {}",
                peer.name, conn.name
            )),
        ),
        Ok(Err(HandshakeError::Refused(r))) if r == SIMULTANEOUS || r == ALREADY_CONNECTED => {
            // The peer's own connection to us wins; wait for it to adopt `conn`.
            let mut rx = conn.phase.subscribe();
            let adopted = tokio::time::timeout(
                inner.cfg.setup_timeout,
                rx.wait_for(|p| !matches!(p, Phase::Connecting)),
            )
            .await;
            if adopted.is_err() && !conn.adopted.load(Ordering::Acquire) {
                inner.conn_down(
                    &conn,
                    DownReason::ConnectionSetupFailed("simultaneous connect lost".into()),
                );
            }
        }
        Ok(Err(HandshakeError::AuthFailed)) => {
            inner.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %conn.name, %addr, "connection refused: wrong cookie");
            inner.conn_down(&conn, DownReason::AuthFailed);
        }
        Ok(Err(e)) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            inner.conn_down(&conn, DownReason::ConnectionSetupFailed(e.to_string()));
        }
        Err(_) => {
            inner.stats.setup_failures.fetch_add(1, Ordering::Relaxed);
            inner.conn_down(
                &conn,
                DownReason::ConnectionSetupFailed("setup timeout".into()),
            );
        }
    }
}
