//! A connection's I/O loops: the reader decodes frames and dispatches them, the writer
//! flushes the outbound buffer in whole batches.

use super::transport::{BoxRead, BoxWrite};
use super::Inner;
use crate::conn::Conn;
use crate::events::DownReason;
use crate::message::Decoder;
use crate::wire::{decode_frame, frame_len};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};

/// What a connection's reader remembers between frames.
#[derive(Default)]
pub(super) struct ReaderCache {
    pub(super) decoder: Option<(u64, Arc<dyn Decoder>)>,
    pub(super) target: crate::message::TargetCache,
}

/// Counts bytes as they arrive, for liveness: a frame of any size that is still arriving
/// shows the peer alive (the tick logic watches `Conn::received` move).
struct Counted {
    inner: BoxRead,
    conn: Arc<Conn>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.conn.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        res
    }
}

pub(super) async fn read_loop(inner: Arc<Inner>, conn: Arc<Conn>, rd: BoxRead) {
    let rd = Counted {
        inner: rd,
        conn: conn.clone(),
    };
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut body = Vec::new();
    let mut cache = ReaderCache::default();
    let reason = loop {
        let mut prefix = [0u8; 4];
        if rd.read_exact(&mut prefix).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        let len = match frame_len(prefix, inner.cfg.max_frame) {
            Ok(l) => l,
            Err(e) => {
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, error = %e, "closing connection");
                break DownReason::ConnectionClosed;
            }
        };
        body.resize(len, 0);
        if rd.read_exact(&mut body).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        match decode_frame(&body) {
            Ok(frame) => inner.dispatch(&conn, frame, &mut cache),
            Err(e) => {
                // The length prefix keeps frame boundaries intact: skip this one.
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, error = %e, "undecodable frame skipped");
            }
        }
    };
    inner.conn_down(&conn, reason);
}

pub(super) async fn write_loop(inner: Arc<Inner>, conn: Arc<Conn>, mut wr: BoxWrite) {
    let mut spare: Vec<u8> = Vec::new();
    let reason = loop {
        if conn.take_outbound(&mut spare).is_none() {
            break DownReason::Disconnect;
        }
        if spare.is_empty() {
            conn.wake_writer.notified().await;
            continue;
        }
        conn.room.notify_waiters();
        if wr.write_all(&spare).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        conn.sent.fetch_add(1, Ordering::Relaxed);
        spare.clear();
        if spare.capacity() > 4 << 20 {
            spare = Vec::new();
        }
    };
    let _ = wr.shutdown().await;
    inner.conn_down(&conn, reason);
}
