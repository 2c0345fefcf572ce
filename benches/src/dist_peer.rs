//! The `actor-dist` peer: W5 remote tell, W6 remote ask, W11 remote spawn and W12 failure
//! detection, across two OS processes on 127.0.0.1.
//!
//! The bench child that runs a workload is node A. It re-executes the bench binary as node B
//! (hidden arguments `--dist-node <tick_ms>`), reads B's `LISTEN <addr>` line, connects with
//! [`Dist::connect`] and starts B's actor with [`Dist::spawn_on`] (B registered its kinds).
//! Starting B, connecting and spawning are not timed. B serves until its stdin closes, which
//! happens when A exits. The node-process mechanism ([`NodeProc`] on A's side,
//! [`serve_node`] in the node's process) is shared with W10 (`registry_global.rs`).
//!
//! - W5: the driver `send(n).await`s (waits only if the connection's outbound buffer is full)
//!   the numbers to a counting actor on B; when it has counted them all, it tells a `u64` to
//!   an actor on A (whose pid it got in its spawn arguments), which completes a oneshot: that
//!   stops the clock.
//! - W6: sequential `call`s of `Incr(n, reply) -> n + 1` after a warm-up; µs.
//! - W11: sequential `spawn_on(B, "bench.idle", ())`, each awaited until B's actor runs and its
//!   ref is back; a short unmeasured warm-up first; p50/p99 µs and spawns/s.
//! - W12: the A-B connection goes through a TCP proxy inside A's process. A call to a B actor
//!   that holds the request unanswered is pending; then the proxy blackholes both directions
//!   (keeps the sockets open, drops what arrives, forwards no FIN). Measured from the cut:
//!   A's `NodeEvent::Down` for B, and the pending call's failure; ms.

use crate::{rate, Counts, Latencies, Medians, Metrics};
use actor_core::{Actor, ActorRef, CallError, Context, ExitReason, Node, Pid, ReplyTo};
use actor_dist::{Cookie, Dist, DistConfig, DownReason, Message, NodeEvent, SpawnOnOpts};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The hidden first argument that makes the bench binary run as node B.
pub const NODE_ARG: &str = "--dist-node";

const A: &str = "a@127.0.0.1";
const B: &str = "b@127.0.0.1";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn cookie() -> Cookie {
    Cookie::new("bench-cookie").expect("non-empty cookie")
}

pub(crate) fn config(tick: Duration) -> DistConfig {
    DistConfig::new(cookie()).tick_time(tick)
}

/// The default tick time (W5, W6, W11 run with the defaults; only W12 sets the tick).
pub(crate) fn default_tick() -> Duration {
    DistConfig::new(cookie()).tick_time
}

// ---------------------------------------------------------------------------------------------
// The actors.

/// W5 (on B): counts `u64`s; at `target`, tells the count to `notify` (on A).
struct Counter {
    n: u64,
    target: u64,
    notify: ActorRef<u64>,
}

impl Actor for Counter {
    type Msg = u64;
    async fn handle(&mut self, _msg: u64, _ctx: &mut Context<Self>) {
        self.n += 1;
        if self.n == self.target {
            self.notify.tell(self.n).expect("notify A");
        }
    }
}

/// W5 (on A): completes the oneshot when B's counter reports.
struct Done(Option<oneshot::Sender<u64>>);

impl Actor for Done {
    type Msg = u64;
    async fn handle(&mut self, n: u64, _ctx: &mut Context<Self>) {
        if let Some(done) = self.0.take() {
            let _ = done.send(n);
        }
    }
}

/// W6's request: replies `n + 1`.
#[derive(Serialize, Deserialize)]
struct IncrReq(u64, ReplyTo<u64>);

impl Message for IncrReq {
    const NAME: &'static str = "bench.IncrReq";
}

/// W6 (on B).
struct Incr;

impl Actor for Incr {
    type Msg = IncrReq;
    async fn handle(&mut self, IncrReq(n, reply): IncrReq, _ctx: &mut Context<Self>) {
        reply.send(n + 1);
    }
}

/// W11 (on B): does nothing.
struct Idle;

impl Actor for Idle {
    type Msg = u64;
    async fn handle(&mut self, _msg: u64, _ctx: &mut Context<Self>) {}
}

/// W12's requests.
#[derive(Serialize, Deserialize)]
enum HoldMsg {
    /// Kept unanswered.
    Hold(ReplyTo<u64>),
    /// Answered `n + 1` (after the `Hold`s sent before it were taken).
    Ping(u64, ReplyTo<u64>),
}

impl Message for HoldMsg {
    const NAME: &'static str = "bench.HoldMsg";
}

/// W12 (on B): holds every `Hold` request unanswered.
#[derive(Default)]
struct Holder(Vec<ReplyTo<u64>>);

impl Actor for Holder {
    type Msg = HoldMsg;
    async fn handle(&mut self, msg: HoldMsg, _ctx: &mut Context<Self>) {
        match msg {
            HoldMsg::Hold(reply) => self.0.push(reply),
            HoldMsg::Ping(n, reply) => {
                reply.send(n + 1);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node B.

/// Node B's process: `--dist-node <tick_ms>`. Prints `LISTEN <addr>`, serves until stdin
/// closes.
pub fn node_main(args: &[String]) -> ExitCode {
    let tick = match args.first().and_then(|t| t.parse::<u64>().ok()) {
        Some(ms) => Duration::from_millis(ms),
        None => {
            eprintln!("usage: benches {NODE_ARG} <tick_ms>");
            return ExitCode::from(2);
        }
    };
    serve_node(B, tick, |dist| async move {
        let d = dist.clone();
        dist.register_kind("bench.counter", move |(target, notify): (u64, Pid)| {
            Counter {
                n: 0,
                target,
                notify: d.actor_ref::<u64>(notify).expect("remote ref"),
            }
        });
        dist.register_kind("bench.incr", |(): ()| Incr);
        dist.register_kind("bench.idle", |(): ()| Idle);
        dist.register_kind("bench.holder", |(): ()| Holder::default());
    })
}

/// Runs this process as the node `name` (a node process the bench child started): starts
/// distribution with tick time `tick`, runs `setup` (whose output lives as long as the
/// node), prints `LISTEN <addr>` and serves until stdin closes, which happens when the bench
/// child exits.
pub(crate) fn serve_node<F, Fut>(name: &str, tick: Duration, setup: F) -> ExitCode
where
    F: FnOnce(Dist) -> Fut,
    Fut: Future,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let node = Node::new(name);
        let dist = Dist::start(&node, config(tick))
            .await
            .expect("listen on 127.0.0.1");
        let _keep = setup(dist.clone()).await;
        println!("LISTEN {}", dist.local_addr());
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    // Skip tearing down the runtime and the actors.
    std::process::exit(0);
}

/// A node process started by the bench child (this binary re-executed with hidden
/// arguments), as seen from node A: its process (killed when dropped) and its listen address.
pub(crate) struct NodeProc {
    _child: Child,
    pub(crate) addr: SocketAddr,
}

impl NodeProc {
    /// Starts the bench binary with `args` and waits for its `LISTEN <addr>` line.
    pub(crate) async fn start(args: &[&str]) -> NodeProc {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start node process {args:?}: {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("node's stdout")).lines();
        let line = lines
            .next_line()
            .await
            .expect("read node's stdout")
            .expect("node's LISTEN line");
        let addr = line
            .strip_prefix("LISTEN ")
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("expected LISTEN <addr>, got {line:?}"));
        NodeProc {
            _child: child,
            addr,
        }
    }
}

/// Starts node B of W5, W6, W11 and W12 with tick time `tick`.
async fn start_b(tick: Duration) -> NodeProc {
    NodeProc::start(&[NODE_ARG, &tick.as_millis().to_string()]).await
}

/// Node A (this process) connected to a fresh node B at `via` (B's own address if `None`).
async fn start_a(tick: Duration, b: &NodeProc, via: Option<SocketAddr>) -> Dist {
    let node = Node::new(A);
    let dist = Dist::start(&node, config(tick))
        .await
        .expect("listen on 127.0.0.1");
    dist.connect(B, via.unwrap_or(b.addr))
        .await
        .expect("connect to B");
    dist
}

async fn spawn_on_b<M: Message, Args: Serialize>(
    dist: &Dist,
    kind: &str,
    args: &Args,
) -> ActorRef<M> {
    dist.spawn_on::<M, _>(B, kind, args, SpawnOnOpts::default())
        .await
        .unwrap_or_else(|e| panic!("spawn_on {kind}: {e}"))
}

/// `mean`, `p50`, `p99` of `lat` in µs.
pub(crate) fn micros(lat: &Latencies, wall: Duration) -> Metrics {
    lat.metrics(wall)
        .into_iter()
        .filter(|(m, _)| matches!(*m, "mean" | "p50" | "p99"))
        .map(|(m, v)| (m, v / 1e3))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The workloads (node A's side).

/// W5: `remote_tells` numbers to one counting actor on B.
pub async fn w5_remote_tell(c: Counts) -> Metrics {
    let tick = default_tick();
    let b = start_b(tick).await;
    let dist = start_a(tick, &b, None).await;
    dist.register::<u64>();
    let (done, finished) = oneshot::channel();
    let notify = dist
        .node()
        .spawn(Done(Some(done)))
        .await
        .expect("spawn notify");
    let n = c.remote_tells;
    let counter: ActorRef<u64> = spawn_on_b(&dist, "bench.counter", &(n, notify.pid())).await;
    let start = Instant::now();
    for i in 0..n {
        counter.send(i).await.expect("remote send");
    }
    let counted = finished.await.expect("B's counter signal");
    let elapsed = start.elapsed();
    assert_eq!(counted, n);
    vec![("throughput", rate(n, elapsed))]
}

/// W6: sequential calls to an actor on B, after an unmeasured warm-up; µs.
pub async fn w6_remote_ask(c: Counts) -> Metrics {
    let tick = default_tick();
    let b = start_b(tick).await;
    let dist = start_a(tick, &b, None).await;
    let incr: ActorRef<IncrReq> = spawn_on_b(&dist, "bench.incr", &()).await;
    for i in 0..c.remote_warmup {
        let r = incr.call(|reply| IncrReq(i, reply), CALL_TIMEOUT).await;
        assert_eq!(r, Ok(i + 1));
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for i in 0..c.remote_calls {
        let sent = Instant::now();
        let r = incr.call(|reply| IncrReq(i, reply), CALL_TIMEOUT).await;
        lat.record_since(sent);
        assert_eq!(r, Ok(i + 1));
    }
    micros(&lat, start.elapsed())
}

/// W11: sequential `spawn_on(B, ...)`, each awaited; p50/p99 µs and spawns/s.
pub async fn w11_remote_spawn(c: Counts) -> Metrics {
    let tick = default_tick();
    let b = start_b(tick).await;
    let dist = start_a(tick, &b, None).await;
    let warmup = (c.remote_spawns / 100).max(10);
    for _ in 0..warmup {
        let _: ActorRef<u64> = spawn_on_b(&dist, "bench.idle", &()).await;
    }
    let mut lat = Latencies::default();
    let start = Instant::now();
    for _ in 0..c.remote_spawns {
        let sent = Instant::now();
        let r = dist
            .spawn_on::<u64, _>(B, "bench.idle", &(), SpawnOnOpts::default())
            .await;
        lat.record_since(sent);
        r.expect("spawn_on");
    }
    let wall = start.elapsed();
    let mut m = micros(&lat, wall);
    m.retain(|(name, _)| *name != "mean");
    m.push(("throughput", rate(c.remote_spawns, wall)));
    m
}

/// W12: time from blackholing the A-B link until A's nodedown, and until a pending call
/// from A to B fails; ms.
pub async fn w12_failure_detection(c: Counts) -> Metrics {
    let b = start_b(c.tick).await;
    let proxy = Proxy::start(b.addr).await;
    let dist = start_a(c.tick, &b, Some(proxy.addr)).await;
    let mut events = dist.subscribe();
    let holder: ActorRef<HoldMsg> = spawn_on_b(&dist, "bench.holder", &()).await;

    let pending = {
        let holder = holder.clone();
        tokio::spawn(async move {
            let r = holder.call(HoldMsg::Hold, Duration::from_secs(600)).await;
            (r, Instant::now())
        })
    };
    // The `Hold` is at B's actor once this answer is back (same sender, same connection).
    let r = holder
        .call(|reply| HoldMsg::Ping(1, reply), CALL_TIMEOUT)
        .await;
    assert_eq!(r, Ok(2));

    let cut = proxy.cut();
    let limit = c.tick * 10;
    let (reason, down_at) = loop {
        match tokio::time::timeout(limit, events.recv()).await {
            Ok(Some(NodeEvent::Down { node, reason })) if node == B => {
                break (reason, Instant::now())
            }
            Ok(Some(_)) => continue,
            Ok(None) => panic!("node event subscription closed"),
            Err(_) => panic!("no nodedown for B within {limit:?} of the cut"),
        }
    };
    assert_eq!(reason, DownReason::NetTickTimeout, "nodedown reason");
    let (r, failed_at) = tokio::time::timeout(limit, pending)
        .await
        .expect("the pending call did not fail")
        .expect("pending call task");
    assert_eq!(r, Err(CallError::Exit(ExitReason::NoConnection)));
    let ms = |t: Instant| t.duration_since(cut).as_secs_f64() * 1e3;
    vec![
        ("nodedown_after", ms(down_at)),
        ("call_failed_after", ms(failed_at)),
    ]
}

// ---------------------------------------------------------------------------------------------
// W12's proxy.

/// A TCP proxy to one address that can blackhole every connection through it.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(to: SocketAddr) -> Proxy {
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
    fn cut(&self) -> Instant {
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

// ---------------------------------------------------------------------------------------------
// Comment lines against the targets.

pub(crate) fn median(all: &Medians, workload: &str, peer: &str, metric: &str) -> Option<f64> {
    all.iter()
        .find_map(|((w, p, m), v)| (*w == workload && *p == peer && *m == metric).then_some(*v))
}

/// `#` lines comparing the distribution figures with their peers and targets, for what ran.
pub fn print_ratios(all: &Medians, quick: bool) {
    let ratio = |w: &str, metric: &str, ours: &str, theirs: &str| {
        Some(median(all, w, ours, metric)? / median(all, w, theirs, metric)?)
    };
    for suffix in ["", "-task"] {
        let (ours, theirs) = (
            format!("actor-dist{suffix}"),
            format!("ractor_cluster{suffix}"),
        );
        if let Some(r) = ratio("W5", "throughput", &ours, &theirs) {
            println!("# W5 throughput: {ours}/{theirs}={r:.2} (target >= 10)");
        }
        for metric in ["p50", "p99", "mean"] {
            if let Some(r) = ratio("W6", metric, &ours, &theirs) {
                let target = if metric == "p50" && suffix == "-task" {
                    " (target <= 0.5)"
                } else {
                    ""
                };
                println!("# W6 {metric}: {ours}/{theirs}={r:.2}{target}");
            }
        }
        let raw = format!("raw-tokio{suffix}");
        if let (Some(w6), Some(w7c)) = (
            median(all, "W6", &ours, "p50"),
            median(all, "W7c", &raw, "p50"),
        ) {
            println!(
                "# W6 p50 over raw TCP round trip W7c p50: {ours}/{raw}={:.2}",
                w6 / w7c
            );
        }
    }
    if let (Some(down), Some(failed)) = (
        median(all, "W12", "actor-dist", "nodedown_after"),
        median(all, "W12", "actor-dist", "call_failed_after"),
    ) {
        let tick = if quick { Counts::QUICK } else { Counts::FULL }.tick;
        println!(
            "# W12: tick {} ms; nodedown after {:.3} x tick (target <= 1.25); call failed {:.1} ms after nodedown (target <= 100)",
            tick.as_millis(),
            down / (tick.as_secs_f64() * 1e3),
            failed - down
        );
    }
}
