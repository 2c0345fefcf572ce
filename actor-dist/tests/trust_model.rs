//! The trust model: a peer speaks only for its own processes (a forged signal is refused and
//! counted), spawn and rpc answers are taken only from the node that was asked, and per-node
//! allow-lists restrict what a peer may spawn and call.
mod common;
use actor_core::{Actor, Context, ExitReason, NodeId, Pid};
use actor_dist::handshake::{initiate, Identity};
use actor_dist::wire::{decode_frame, encode_frame, frame_len, Frame};
use actor_dist::{AllowList, DistConfig, RemoteSpawnError, RpcError, SpawnOnError, SpawnOnOpts};
use common::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

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
            capabilities: actor_dist::wire::capability::ALL,
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

    /// Reads frames until an rpc request for `func`; returns its request id.
    async fn wait_request(&mut self, func: &str) -> u64 {
        loop {
            let mut prefix = [0u8; 4];
            self.0.read_exact(&mut prefix).await.unwrap();
            let mut body = vec![0u8; frame_len(prefix, 1 << 24).unwrap()];
            self.0.read_exact(&mut body).await.unwrap();
            if let Ok(Frame::Rpc { req, func: f, .. }) = decode_frame(&body) {
                if f == func {
                    return req;
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

/// A probe whose start waits for a permit of `gate` (after saying so on `entered`).
struct Gated {
    gate: Arc<Semaphore>,
    entered: mpsc::UnboundedSender<&'static str>,
}

impl Actor for Gated {
    type Msg = Cmd;
    async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let _ = self.entered.send("spawn");
        self.gate.acquire().await.unwrap().forget();
        Ok(())
    }
    async fn handle(&mut self, msg: Cmd, _: &mut Context<Self>) {
        if let Cmd::Echo(n, r) = msg {
            r.send(n + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_and_rpc_answers_from_a_node_that_was_not_asked_are_refused() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    a.register_rpc("nop", |(): ()| async {});
    // On b, a spawn and an rpc that wait until the test lets them answer.
    let gate = Arc::new(Semaphore::new(0));
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    {
        let (gate, entered) = (gate.clone(), entered_tx.clone());
        b.register_kind("gated", move |(): ()| Gated {
            gate: gate.clone(),
            entered: entered.clone(),
        });
    }
    {
        let (gate, entered) = (gate.clone(), entered_tx);
        b.register_rpc("slow", move |(): ()| {
            let (gate, entered) = (gate.clone(), entered.clone());
            async move {
                let _ = entered.send("rpc");
                gate.acquire().await.unwrap().forget();
                42u32
            }
        });
    }
    connect(&a, &b).await;
    let spawn = {
        let a = a.clone();
        tokio::spawn(async move {
            a.spawn_on::<Cmd, _>("b@127.0.0.1", "gated", &(), SpawnOnOpts::default())
                .await
        })
    };
    let rpc = {
        let a = a.clone();
        tokio::spawn(async move { a.call::<_, u32>("b@127.0.0.1", "slow", &(), T).await })
    };
    // Both requests reached b, so both are pending on a.
    let mut seen = vec![entered.recv().await.unwrap(), entered.recv().await.unwrap()];
    seen.sort();
    assert_eq!(seen, ["rpc", "spawn"]);

    // x, a third authenticated node, answers every request id a may have used, with both
    // kinds of answer.
    let mut x = Raw::connect(&a, "x@127.0.0.1").await;
    let of_x = Pid {
        node: NodeId::from_name("x@127.0.0.1"),
        id: 1,
        creation: 1,
    };
    const IDS: u64 = 2000;
    for req in 1..=IDS {
        x.send(&Frame::RpcResult {
            req,
            result: Ok(&[7]),
        })
        .await;
        x.send(&Frame::SpawnResult {
            req,
            result: Ok(of_x),
        })
        .await;
    }
    x.sync(1).await;
    // Two pending requests, each answered twice by x: four refusals; the rest answered
    // nothing anyone waits for.
    let stats = a.stats();
    assert_eq!(stats.forged_answers.load(Ordering::Relaxed), 4);
    assert_eq!(stats.late_replies.load(Ordering::Relaxed), 2 * IDS - 4);
    assert!(
        !spawn.is_finished() && !rpc.is_finished(),
        "still waiting for b"
    );

    // b's real answers are taken.
    gate.add_permits(2);
    assert_eq!(rpc.await.unwrap(), Ok(42));
    let p = spawn.await.unwrap().unwrap();
    assert_eq!(p.pid().node, NodeId::from_name("b@127.0.0.1"));
    assert_eq!(p.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(stats.forged_answers.load(Ordering::Relaxed), 4);
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()], "x is hidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_another_kind_than_asked_is_refused() {
    let a = start("a@127.0.0.1").await;
    a.register_rpc("nop", |(): ()| async {});
    let mut r = Raw::connect(&a, "r@127.0.0.1").await;
    let call = {
        let a = a.clone();
        tokio::spawn(async move { a.call::<_, u32>("r@127.0.0.1", "f", &(), T).await })
    };
    let req = r.wait_request("f").await;
    // The node asked answers an rpc with a spawn result: refused.
    let of_r = Pid {
        node: NodeId::from_name("r@127.0.0.1"),
        id: 1,
        creation: 1,
    };
    r.send(&Frame::SpawnResult {
        req,
        result: Ok(of_r),
    })
    .await;
    r.sync(u64::MAX).await;
    assert_eq!(a.stats().forged_answers.load(Ordering::Relaxed), 1);
    assert!(!call.is_finished());
    // Its rpc result is taken.
    let five = postcard::to_allocvec(&5u32).unwrap();
    r.send(&Frame::RpcResult {
        req,
        result: Ok(&five),
    })
    .await;
    assert_eq!(call.await.unwrap(), Ok(5));
}
