//! A connection's I/O loops: the reader decodes frames and dispatches them, the writer
//! flushes the outbound buffer in whole batches.

use super::Inner;
use crate::conn::Conn;
use crate::conn::{slice_end, Round, SLICE};
use crate::events::DownReason;
use crate::message::Decoder;
use crate::transport::{BoxRead, BoxWrite};
use crate::wire::{decode_frame, frame_len, Frame, Reassembly, FRAGMENT_SIZE};
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

/// Bytes a connection's reader buffers. Frames larger than this are read straight into their
/// own buffer, so it only batches small frames: 16 KiB holds hundreds of them per read while
/// keeping an idle connection's memory small (a node of a 100-node mesh holds 99 of these).
const READ_BUFFER: usize = 16 * 1024;

pub(super) async fn read_loop(inner: Arc<Inner>, conn: Arc<Conn>, rd: BoxRead) {
    let rd = Counted {
        inner: rd,
        conn: conn.clone(),
    };
    let mut rd = BufReader::with_capacity(READ_BUFFER, rd);
    let mut body = Vec::new();
    let mut cache = ReaderCache::default();
    let mut reassembly = Reassembly::new(inner.cfg.max_frame);
    let mut unacked = 0u64;
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
        // Frames are counted as logical ones: a fragmented frame once, when whole.
        let decoded = decode_frame(&body);
        if !matches!(decoded, Ok(Frame::Fragment { .. })) {
            conn.frames_in.fetch_add(1, Ordering::Relaxed);
        }
        match decoded {
            Ok(Frame::Fragment { id, more, bytes }) => {
                // Acknowledged as taken (in batches): the sender's window moves on.
                unacked += bytes.len() as u64;
                if unacked >= FRAGMENT_SIZE as u64 || !more {
                    inner.send_prio(&conn, &Frame::FragmentAck { bytes: unacked });
                    unacked = 0;
                    // The writer was just woken on this worker thread, in its next-task slot
                    // (which other workers cannot steal): let it send the acknowledgement now
                    // rather than when this reader next waits for bytes.
                    tokio::task::yield_now().await;
                }
                match reassembly.push(id, more, bytes) {
                    Ok(None) => {}
                    Ok(Some(whole)) => match count(&conn, decode_frame(&whole)) {
                        Ok(Frame::Fragment { .. }) => {
                            inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(peer = %conn.name, "nested fragment skipped");
                        }
                        Ok(frame) => inner.dispatch(&conn, frame, &mut cache),
                        Err(e) => {
                            inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(peer = %conn.name, error = %e, "undecodable frame skipped");
                        }
                    },
                    Err(e) => {
                        inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(peer = %conn.name, error = %e, "closing connection");
                        break DownReason::ConnectionClosed;
                    }
                }
            }
            Ok(frame) => inner.dispatch(&conn, frame, &mut cache),
            Err(e) => {
                // The length prefix keeps frame boundaries intact: skip this one.
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = %conn.name, error = %e, "undecodable frame skipped");
            }
        }
        if body.capacity() > 4 * FRAGMENT_SIZE {
            body = Vec::new(); // a large whole frame: do not hold its buffer
        }
    };
    inner.conn_down(&conn, reason);
}

/// Counts a reassembled frame as received.
fn count<T>(conn: &Conn, decoded: T) -> T {
    conn.frames_in.fetch_add(1, Ordering::Relaxed);
    decoded
}

pub(super) async fn write_loop(inner: Arc<Inner>, conn: Arc<Conn>, mut wr: BoxWrite) {
    let mut round = Round::default();
    let reason = loop {
        if conn.take_round(&mut round).is_none() {
            break DownReason::Disconnect;
        }
        if round.is_empty() {
            conn.wake_writer.notified().await;
            continue;
        }
        conn.room.notify_waiters();
        if write_round(&conn, &mut wr, &mut round).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        round.clear();
    };
    let _ = wr.shutdown().await;
    inner.conn_down(&conn, reason);
}

/// Writes one round: priority frames, then the ordered stream and the pieces of large
/// frames in slices at frame boundaries, with priority frames queued meanwhile (ticks)
/// between slices.
async fn write_round(conn: &Conn, wr: &mut BoxWrite, r: &mut Round) -> std::io::Result<()> {
    if !r.prio.is_empty() {
        wr.write_all(&r.prio).await?;
        r.prio.clear();
    }
    for part in [&r.main, &r.frags] {
        let mut at = 0;
        while at < part.len() {
            let end = slice_end(part, at, SLICE);
            wr.write_all(&part[at..end]).await?;
            at = end;
            if conn.take_prio(&mut r.prio) {
                wr.write_all(&r.prio).await?;
                r.prio.clear();
            }
        }
    }
    Ok(())
}
