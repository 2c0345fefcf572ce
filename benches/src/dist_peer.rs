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

use crate::blackhole::Proxy;
use crate::{rate, Counts, Latencies, Medians, Metrics};
use actor_core::{Actor, ActorRef, CallError, Context, Node, Pid, ReplyTo};
use actor_dist::{Cookie, Dist, DistConfig, DownReason, Message, NodeEvent, SpawnOnOpts};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The hidden first argument that makes the bench binary run as node B.
pub const NODE_ARG: &str = "--dist-node";

/// The hidden first argument that makes the bench binary run as W20's node B.
pub const W20_NODE_ARG: &str = "--w20-node";

const A: &str = "a@127.0.0.1";
const B: &str = "b@127.0.0.1";
mod head_of_line;
pub use head_of_line::w13_head_of_line;

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

/// Bytes as one postcard byte string (a copy), not a sequence of `u8`s (a loop per byte):
/// how a user sends a large binary.
mod bytes {
    use serde::de::{Deserializer, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// W13's bulk messages.
#[derive(Serialize, Deserialize)]
enum SinkMsg {
    Data(#[serde(with = "bytes")] Vec<u8>),
    /// Bytes received so far.
    Total(ReplyTo<u64>),
}

impl Message for SinkMsg {
    const NAME: &'static str = "bench.SinkMsg";
}

/// W13 (on B): counts bulk bytes.
struct Sink(u64);

impl Actor for Sink {
    type Msg = SinkMsg;
    async fn handle(&mut self, msg: SinkMsg, _ctx: &mut Context<Self>) {
        match msg {
            SinkMsg::Data(b) => self.0 += b.len() as u64,
            SinkMsg::Total(r) => {
                r.send(self.0);
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
        dist.register_kind("bench.sink", |(): ()| Sink(0));
    })
}

/// W20's node B: `--w20-node <a_addr>`: node B with node A as its seed (it reconnects to A
/// by itself). Prints `LISTEN <addr>`, serves until stdin closes.
pub fn w20_node_main(args: &[String]) -> ExitCode {
    let Some(a_addr) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("usage: benches {W20_NODE_ARG} <a_addr>");
        return ExitCode::from(2);
    };
    let mut cfg = config(default_tick()).seed(A, a_addr);
    cfg.backoff = (Duration::from_millis(10), Duration::from_millis(200));
    serve_node_cfg(B, cfg, |_| async {})
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
    serve_node_cfg(name, config(tick), setup)
}

/// [`serve_node`] with a whole configuration.
pub(crate) fn serve_node_cfg<F, Fut>(name: &str, cfg: DistConfig, setup: F) -> ExitCode
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
        let dist = Dist::start(&node, cfg).await.expect("listen on 127.0.0.1");
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
    child: Child,
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
        NodeProc { child, addr }
    }

    /// Kills the node process with SIGKILL (no clean-up of any kind runs in it).
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        self.child.start_kill()
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

/// W12: `trials` times: a fresh node A connects to B through a proxy; after at least 3 ticks
/// plus a random part of one tick (so the cut falls at every phase of the tick cycle), the
/// proxy blackholes the link. Measured from the cut: A's nodedown for B, and the failure of
/// a call from A to B that was pending; ms (min, median, max over the trials) and how many
/// trials fell within [1.0, 1.25] ticks.
pub async fn w12_failure_detection(c: Counts) -> Metrics {
    let b = start_b(c.tick).await;
    let trials = c.w12_trials;
    let mut rng = Rng::from_clock();
    let (mut downs, mut fails, mut after_down) = (Vec::new(), Vec::new(), Vec::new());
    let mut in_range = 0;
    for _ in 0..trials {
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
        let phase = c.tick.mul_f64(rng.unit());
        tokio::time::sleep(c.tick * 3 + phase).await;

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
        assert_eq!(r, Err(CallError::NodeDown(B.to_string())));
        let ms = |t: Instant| t.duration_since(cut).as_secs_f64() * 1e3;
        let ticks = ms(down_at) / (c.tick.as_secs_f64() * 1e3);
        if (1.0..=1.25).contains(&ticks) {
            in_range += 1;
        }
        downs.push(ms(down_at));
        fails.push(ms(failed_at));
        after_down.push(ms(failed_at) - ms(down_at));
        dist.shutdown();
    }
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let (downs, fails, after_down) = (sorted(downs), sorted(fails), sorted(after_down));
    let tick_ms = c.tick.as_secs_f64() * 1e3;
    vec![
        ("nodedown_min", downs[0]),
        ("nodedown_median", downs[downs.len() / 2]),
        ("nodedown_max", downs[downs.len() - 1]),
        ("nodedown_max_ticks", downs[downs.len() - 1] / tick_ms),
        ("nodedown_min_ticks", downs[0] / tick_ms),
        ("call_failed_median", fails[fails.len() / 2]),
        (
            "call_failed_after_down_max",
            after_down[after_down.len() - 1],
        ),
        ("trials_in_range", in_range as f64),
        ("trials", trials as f64),
    ]
}

/// A small xorshift source for the W12 phases (seeded from the clock: a different phase
/// sequence each run).
struct Rng(u64);

impl Rng {
    fn from_clock() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(t | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// W20: node A with node B connected (B reconnects to A by itself: A is its seed). The
/// connection is dropped by A; time until A sees B up again. Once with no other sockets
/// (`reconnect_clean`), once with 500 TCP connections to A's listen port that send nothing
/// (`reconnect_flood`); ms.
pub async fn w20_preauth_flood(c: Counts) -> Metrics {
    let node = Node::new(A);
    let dist = Dist::start(&node, config(default_tick()))
        .await
        .expect("listen on 127.0.0.1");
    let mut events = dist.subscribe();
    let _b = NodeProc::start(&[W20_NODE_ARG, &dist.local_addr().to_string()]).await;
    wait_up(&mut events).await;
    async fn reconnect(dist: &Dist, events: &mut tokio::sync::mpsc::Receiver<NodeEvent>) -> f64 {
        let start = Instant::now();
        assert!(dist.disconnect(B), "connected to B");
        wait_up(events).await;
        start.elapsed().as_secs_f64() * 1e3
    }
    let clean = reconnect(&dist, &mut events).await;
    let mut idle = Vec::new();
    for _ in 0..c.w20_sockets {
        match TcpStream::connect(dist.local_addr()).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("idle socket: {e}"),
        }
    }
    let flood = reconnect(&dist, &mut events).await;
    drop(idle);
    vec![("reconnect_clean", clean), ("reconnect_flood", flood)]
}

/// Waits for B's next `Up`.
async fn wait_up(events: &mut tokio::sync::mpsc::Receiver<NodeEvent>) {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(NodeEvent::Up(info))) if info.name == B => return,
            Ok(Some(_)) => continue,
            _ => panic!("B did not come up within 60 s"),
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
    let c = if quick { Counts::QUICK } else { Counts::FULL };
    if let (Some(lo), Some(hi), Some(after), Some(inr)) = (
        median(all, "W12", "actor-dist", "nodedown_min_ticks"),
        median(all, "W12", "actor-dist", "nodedown_max_ticks"),
        median(all, "W12", "actor-dist", "call_failed_after_down_max"),
        median(all, "W12", "actor-dist", "trials_in_range"),
    ) {
        println!(
            "# W12: tick {} ms, {} trials at random phases; nodedown between {lo:.3} and {hi:.3} x tick, {inr} trials in [1.0, 1.25] (target: all); pending call failed at most {after:.1} ms after nodedown (target <= 100)",
            c.tick.as_millis(),
            c.w12_trials,
        );
    }
    if let (Some(p99), Some(mbs), Some(downs)) = (
        median(all, "W13", "actor-dist", "bulk_call_p99"),
        median(all, "W13", "actor-dist", "bulk_throughput"),
        median(all, "W13", "actor-dist", "nodedowns"),
    ) {
        if let (Some(base), Some(floor)) = (
            median(all, "W13", "actor-dist", "base_call_p99"),
            median(all, "W13", "actor-dist", "floor_call_p99"),
        ) {
            println!(
                "# W13 floor of the method: the same 1 ms open-loop probe against an echo actor in node A itself gives p99 {floor:.0} us (baseline over the link {base:.0} us): what the link adds is the difference"
            );
        }
        let pipe = median(all, "W7b", "raw-tokio", "throughput")
            .map(|f| format!("{:.0} MB/s", f * 12.0 / 1e6))
            .unwrap_or_else(|| "not run".into());
        println!(
            "# W13: call p99 during bulk {p99:.0} us (target <= 10000), nodedowns {downs} (target 0); bulk {mbs:.0} MB/s beside the raw TCP pipe W7b {pipe}"
        );
    }
    if let (Some(clean), Some(flood)) = (
        median(all, "W20", "actor-dist", "reconnect_clean"),
        median(all, "W20", "actor-dist", "reconnect_flood"),
    ) {
        println!(
            "# W20: reconnect with {} idle unauthenticated sockets {flood:.1} ms, without {clean:.1} ms: {:.2}x (target <= 2)",
            c.w20_sockets,
            flood / clean
        );
    }
}
