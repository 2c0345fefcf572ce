//! W12's proxy: a TCP proxy to one address that can blackhole every connection through it
//! (no FIN, no reset: the far side only sees silence).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to one address that can blackhole every connection through it.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    pub(crate) async fn start(to: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(to).await else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pump(ri, wo, flag.clone()));
                tokio::spawn(pump(ro, wi, flag.clone()));
            }
        });
        Proxy { addr, cut }
    }

    /// Blackholes the link from now on; returns when it was cut.
    pub(crate) fn cut(&self) -> Instant {
        let at = Instant::now();
        self.cut.store(true, Ordering::SeqCst);
        at
    }
}

/// Forwards `rd` to `wr` until cut; then drops whatever arrives, and holds both sockets open
/// (no FIN, no reset) even when the sending side closes.
async fn pump(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut buf).await.unwrap_or(0);
        if cut.load(Ordering::SeqCst) {
            if n == 0 {
                // Keep `wr` (and so the other socket) open: the far side sees silence.
                std::future::pending::<()>().await;
            }
            continue;
        }
        if n == 0 {
            let _ = wr.shutdown().await;
            return;
        }
        if wr.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
