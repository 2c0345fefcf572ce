//! A connection's I/O loops: the reader decodes frames and dispatches them, the writer
//! flushes the outbound buffer in whole batches.

use super::Inner;
use crate::conn::Conn;
use crate::conn::{slice_end, Round, SLICE};
use crate::events::DownReason;
use crate::message::Decoder;
use crate::transport::{BoxRead, BoxWrite};
use crate::wire::{
    decode_frame, fragment_head, frame_len, FragmentError, Frame, Reassembly, FRAGMENT_HEAD_MAX,
    FRAGMENT_SIZE,
};
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

/// Frames at least this long are looked at for a fragment head first, so that a fragment's
/// bytes are read straight into its frame's reassembly buffer (one copy from the socket,
/// none through a frame buffer); shorter ones are read whole and decoded.
const DIRECT_MIN: usize = 4 * 1024;

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
        // The first bytes of a long frame: a fragment's head?
        let mut head = [0u8; FRAGMENT_HEAD_MAX];
        let mut head_read = 0;
        if len >= DIRECT_MIN {
            if rd.read_exact(&mut head).await.is_err() {
                break DownReason::ConnectionClosed;
            }
            head_read = head.len();
            if let Some(h) = fragment_head(&head).filter(|h| h.head_len + h.len == len) {
                let piece = match reassembly.open(h.id, h.more, h.len) {
                    Ok(buf) => {
                        buf.extend_from_slice(&head[h.head_len..]);
                        let rest = h.len - (head.len() - h.head_len);
                        if read_append(&mut rd, buf, rest).await.is_err() {
                            break DownReason::ConnectionClosed;
                        }
                        Ok(reassembly.close(h.id, h.more))
                    }
                    Err(e) => Err(e),
                };
                match taken(&inner, &conn, h.len, h.more, &mut unacked, piece).await {
                    Ok(Some(whole)) => dispatch_whole(&inner, &conn, &whole, &mut cache),
                    Ok(None) => {}
                    Err(reason) => break reason,
                }
                continue;
            }
        }
        body.clear();
        body.extend_from_slice(&head[..head_read]);
        body.resize(len, 0);
        if rd.read_exact(&mut body[head_read..]).await.is_err() {
            break DownReason::ConnectionClosed;
        }
        // Frames are counted as logical ones: a fragmented frame once, when whole.
        match decode_frame(&body) {
            Ok(Frame::Fragment { id, more, bytes }) => {
                let piece = reassembly.push(id, more, bytes);
                match taken(&inner, &conn, bytes.len(), more, &mut unacked, piece).await {
                    Ok(Some(whole)) => dispatch_whole(&inner, &conn, &whole, &mut cache),
                    Ok(None) => {}
                    Err(reason) => break reason,
                }
            }
            Ok(frame) => {
                conn.frames_in.fetch_add(1, Ordering::Relaxed);
                inner.dispatch(&conn, frame, &mut cache);
            }
            Err(e) => {
                // The length prefix keeps frame boundaries intact: skip this one.
                conn.frames_in.fetch_add(1, Ordering::Relaxed);
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

/// Appends exactly `n` bytes from `rd` to `buf`, into its spare capacity (not zeroed first).
async fn read_append<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut Vec<u8>,
    mut n: usize,
) -> std::io::Result<()> {
    while n > 0 {
        let got = (&mut *rd).take(n as u64).read_buf(buf).await?;
        if got == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        n -= got;
    }
    Ok(())
}

/// A fragment of `len` bytes was taken (into reassembly: `piece`). Acknowledges fragment
/// bytes in batches (the sender's window moves on); the whole frame once its last piece is
/// in; the reason to close the connection if reassembly refused the piece.
async fn taken(
    inner: &Inner,
    conn: &Conn,
    len: usize,
    more: bool,
    unacked: &mut u64,
    piece: Result<Option<Vec<u8>>, FragmentError>,
) -> Result<Option<Vec<u8>>, DownReason> {
    *unacked += len as u64;
    if *unacked >= FRAGMENT_SIZE as u64 || !more {
        inner.send_prio(conn, &Frame::FragmentAck { bytes: *unacked });
        *unacked = 0;
        // The writer was just woken on this worker thread, in its next-task slot (which
        // other workers cannot steal): let it send the acknowledgement now rather than when
        // this reader next waits for bytes.
        tokio::task::yield_now().await;
    }
    piece.map_err(|e| {
        inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(peer = %conn.name, error = %e, "closing connection");
        DownReason::ConnectionClosed
    })
}

/// Decodes and dispatches a reassembled frame body (borrowed: no copy of its bytes).
fn dispatch_whole(inner: &Arc<Inner>, conn: &Arc<Conn>, whole: &[u8], cache: &mut ReaderCache) {
    match count(conn, decode_frame(whole)) {
        Ok(Frame::Fragment { .. }) => {
            inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %conn.name, "nested fragment skipped");
        }
        Ok(frame) => inner.dispatch(conn, frame, cache),
        Err(e) => {
            inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = %conn.name, error = %e, "undecodable frame skipped");
        }
    }
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
