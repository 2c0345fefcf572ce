//! The trust model: a peer speaks only for its own processes (a forged signal is refused and
//! counted), and per-node allow-lists restrict what a peer may spawn and call.
mod common;
use actor_core::{ExitReason, NodeId, Pid};
use actor_dist::handshake::{initiate, Identity};
use actor_dist::wire::{decode_frame, encode_frame, frame_len, Frame};
use actor_dist::{AllowList, DistConfig, RemoteSpawnError, RpcError, SpawnOnError, SpawnOnOpts};
use common::*;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An authenticated raw client: speaks frames to a node directly.
struct Raw(TcpStream);

impl Raw {
    async fn connect(to: &actor_dist::Dist, name: &str) -> Raw {
        let mut s = TcpStream::connect(to.local_addr()).await.unwrap();
        let cookie = cookie();
        let me = Identity {
            name,
            creation: 1,
            hidden: true,
            listen: "127.0.0.1:1".parse().unwrap(),
            app_version: env!("CARGO_PKG_VERSION"),
            cookie: &cookie,
        };
        initiate(&mut s, &me, [3; 32]).await.unwrap();
        Raw(s)
    }

    async fn send(&mut self, f: &Frame<'_>) {
        let mut out = Vec::new();
        encode_frame(f, 1 << 20, &mut out).unwrap();
        self.0.write_all(&out).await.unwrap();
    }

    /// Reads frames until an rpc result for `req` (a round trip: everything sent before it
    /// has been handled).
    async fn wait_rpc(&mut self, req: u64) {
        loop {
            let mut prefix = [0u8; 4];
            self.0.read_exact(&mut prefix).await.unwrap();
            let mut body = vec![0u8; frame_len(prefix, 1 << 24).unwrap()];
            self.0.read_exact(&mut body).await.unwrap();
            if let Ok(Frame::RpcResult { req: r, .. }) = decode_frame(&body) {
                if r == req {
                    return;
                }
            }
        }
    }

    /// A round trip through the node's reader.
    async fn sync(&mut self, req: u64) {
        let args = postcard::to_allocvec(&()).unwrap();
        self.send(&Frame::Rpc {
            req,
            func: "nop",
            args: &args,
        })
        .await;
        self.wait_rpc(req).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_from_a_pid_of_another_node_is_refused_and_counted() {
    let b = start("b@127.0.0.1").await;
    b.register_rpc("nop", |(): ()| async {});
    let target = b.node().spawn(Probe::new()).await.unwrap();
    let mut raw = Raw::connect(&b, "x@127.0.0.1").await;

    // An exit "from" a process of c, a node that is not the sender: refused.
    let of_c = Pid {
        node: NodeId::from_name("c@127.0.0.1"),
        id: 5,
        creation: 1,
    };
    let kill = |from| Frame::Signal {
        to: target.pid(),
        signal: actor_core::Signal::Exit {
            from,
            reason: ExitReason::Kill,
            link: false,
        },
    };
    raw.send(&kill(of_c)).await;
    // A link and a monitor on behalf of c: refused too.
    raw.send(&Frame::Signal {
        to: target.pid(),
        signal: actor_core::Signal::Link { from: of_c },
    })
    .await;
    raw.sync(1).await;
    assert_eq!(b.stats().forged_signals.load(Ordering::Relaxed), 2);
    assert!(target.is_alive());
    assert_eq!(
        target.call(|r| Cmd::Echo(1, r), T).await,
        Ok(2),
        "target alive"
    );
    assert_eq!(b.tracked().links, 0, "no link recorded for a forged signal");

    // The same exit from one of the sender's own processes is taken (the check is not a
    // blanket refusal).
    let of_x = Pid {
        node: NodeId::from_name("x@127.0.0.1"),
        id: 5,
        creation: 1,
    };
    let down = {
        let watcher = b.node().spawn(Probe::new()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = target.pid();
        let w = watcher.clone();
        tokio::spawn(async move {
            let _ = w.call(|r| Cmd::Monitor(t, r), T).await;
            let _ = tx.send(());
        });
        rx.await.unwrap();
        watcher
    };
    raw.send(&kill(of_x)).await;
    raw.sync(2).await;
    let log = down.call(Cmd::Log, T).await.unwrap();
    assert_eq!(log, vec![Event::Down(target.pid(), ExitReason::Killed)]);
    assert_eq!(b.stats().forged_signals.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_restrict_what_each_peer_may_spawn_and_call() {
    let cfg = DistConfig::new(cookie())
        .allow_spawn(AllowList::new().allow("a@127.0.0.1", ["probe"]))
        .allow_rpc(
            AllowList::new()
                .allow("a@127.0.0.1", ["add"])
                .allow("*", ["pub.*"]),
        );
    let b = start_with("b@127.0.0.1", cfg).await;
    b.register_rpc("add", |(x, y): (u64, u64)| async move { x + y });
    b.register_rpc("pub.version", |(): ()| async { 7u32 });
    let a = start("a@127.0.0.1").await;
    let c = start("c@127.0.0.1").await;
    connect(&a, &b).await;
    connect(&c, &b).await;

    // a may spawn probes and call add; c may do neither, only pub.*.
    let p = a
        .spawn_on::<Cmd, _>("b@127.0.0.1", "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    assert_eq!(p.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    let refused = c
        .spawn_on::<Cmd, _>("b@127.0.0.1", "probe", &false, SpawnOnOpts::default())
        .await;
    assert_eq!(
        refused.err(),
        Some(SpawnOnError::Remote(RemoteSpawnError::NotAllowed(
            "probe".into()
        )))
    );
    assert_eq!(
        a.call::<_, u64>("b@127.0.0.1", "add", &(1u64, 2u64), T)
            .await,
        Ok(3)
    );
    assert_eq!(
        c.call::<_, u64>("b@127.0.0.1", "add", &(1u64, 2u64), T)
            .await,
        Err(RpcError::NotAllowed("add".into()))
    );
    assert_eq!(
        c.call::<_, u32>("b@127.0.0.1", "pub.version", &(), T).await,
        Ok(7)
    );
    assert_eq!(b.stats().refused_requests.load(Ordering::Relaxed), 2);
}
