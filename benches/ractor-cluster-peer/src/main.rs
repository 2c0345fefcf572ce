//! The ractor_cluster 0.16 peer of W5 (remote tell) and W6 (remote ask), written as a
//! ractor_cluster user writes them: `#[derive(RactorClusterMessage)]` with `#[rpc]` for calls,
//! a `NodeServer` in each process, `client_connect`, discovery through a `ractor::pg` group.
//!
//! Built on its own (its own workspace, lock file and target directory) so that ractor's
//! `cluster` feature never reaches the local ractor lines of the main bench binary, which runs
//! this one as a child process:
//!
//! ```text
//! ractor-cluster-peer <W5|W6> <main|task> [--quick]   # node A: prints metric=value lines
//! ractor-cluster-peer --node-b                       # node B: prints LISTEN <port>
//! ```
//!
//! Node A re-executes this binary as node B (a second OS process), connects to it, finds B's
//! actor in the pg group `bench`, then measures as `WORKLOADS.md` says. W5: A casts the
//! numbers, then polls the rpc `Count` until B's actor has counted them all (the poll queues
//! behind the casts, so the first answer that shows them all comes right after the last one).
//! W6: sequential `call`s of the `#[rpc]` variant `Incr(n) -> n + 1` after a warm-up.
//! `main`: the driver in `block_on` on the main thread; `task`: spawned onto a worker.

use hdrhistogram::Histogram;
use ractor::concurrency::Duration;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{NodeServer, RactorClusterMessage};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const COOKIE: &str = "bench-cookie";
const GROUP: &str = "bench";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What B's actor takes; crosses the network.
#[derive(RactorClusterMessage)]
enum BenchMsg {
    /// W5: counted.
    Tell(u64),
    /// W5: how many `Tell`s so far.
    #[rpc]
    Count(RpcReplyPort<u64>),
    /// W6: replies `n + 1`.
    #[rpc]
    Incr(u64, RpcReplyPort<u64>),
}

/// B's actor: counts `Tell`s, answers `Count` and `Incr`.
struct Bench;

impl Actor for Bench {
    type Msg = BenchMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, me: ActorRef<BenchMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        ractor::pg::join(GROUP.to_string(), vec![me.get_cell()]);
        Ok(0)
    }

    async fn handle(
        &self,
        _me: ActorRef<BenchMsg>,
        msg: BenchMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BenchMsg::Tell(_) => *count += 1,
            BenchMsg::Count(reply) => {
                let _ = reply.send(*count);
            }
            BenchMsg::Incr(n, reply) => {
                let _ = reply.send(n + 1);
            }
        }
        Ok(())
    }
}

/// A free port on 127.0.0.1 (`NodeServer` does not report the port it bound).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

async fn start_node_server(name: &str, port: u16) {
    let server = NodeServer::new(
        port,
        COOKIE.to_string(),
        name.to_string(),
        "localhost".to_string(),
        None,
        None,
    )
    .with_listen_addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (server, _) = Actor::spawn(Some(name.to_string()), server, ())
        .await
        .expect("start NodeServer");
    // Keep the server alive for the life of the process.
    std::mem::forget(server);
}

/// Node B: a `NodeServer` and the bench actor; serves until stdin closes.
async fn node_b() {
    let port = free_port();
    start_node_server("bench_b", port).await;
    let (bench, _) = Actor::spawn(None, Bench, ()).await.expect("spawn bench");
    println!("LISTEN {port}");
    let _ = std::io::stdout().flush();
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    bench.stop(None);
}

/// Node A's set-up (not timed): start B, connect, find B's actor in the pg group.
async fn connect_to_b() -> (tokio::process::Child, ActorRef<BenchMsg>) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg("--node-b")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node B");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines
        .next_line()
        .await
        .expect("read B")
        .expect("B's LISTEN line");
    let port: u16 = line
        .strip_prefix("LISTEN ")
        .and_then(|p| p.trim().parse().ok())
        .expect("LISTEN <port>");

    let name = "bench_a";
    let server = NodeServer::new(
        free_port(),
        COOKIE.to_string(),
        name.to_string(),
        "localhost".to_string(),
        None,
        None,
    )
    .with_listen_addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (server, _) = Actor::spawn(Some(name.to_string()), server, ())
        .await
        .expect("start NodeServer");
    ractor_cluster::client_connect(&server, ("127.0.0.1", port))
        .await
        .expect("connect to B");
    std::mem::forget(server);

    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let cell = loop {
        let remote = ractor::pg::get_members(&GROUP.to_string())
            .into_iter()
            .find(|c| !c.get_id().is_local());
        if let Some(c) = remote {
            break c;
        }
        assert!(Instant::now() < deadline, "B's actor never joined pg");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    (child, ActorRef::<BenchMsg>::from(cell))
}

async fn count(b: &ActorRef<BenchMsg>) -> u64 {
    match b
        .call(BenchMsg::Count, Some(CALL_TIMEOUT))
        .await
        .expect("call Count")
    {
        CallResult::Success(n) => n,
        other => panic!("Count failed: {other:?}"),
    }
}

async fn incr(b: &ActorRef<BenchMsg>, n: u64) -> u64 {
    match b
        .call(|r| BenchMsg::Incr(n, r), Some(CALL_TIMEOUT))
        .await
        .expect("call Incr")
    {
        CallResult::Success(v) => v,
        other => panic!("Incr failed: {other:?}"),
    }
}

type Metrics = Vec<(&'static str, f64)>;

/// W5: cast `n` numbers to B's actor; the clock stops when it has counted them all.
async fn w5(n: u64) -> Metrics {
    let (_child, b) = connect_to_b().await;
    let at_start = count(&b).await;
    let start = Instant::now();
    for i in 0..n {
        b.cast(BenchMsg::Tell(i)).expect("cast");
    }
    while count(&b).await - at_start < n {}
    let elapsed = start.elapsed();
    vec![("throughput", n as f64 / elapsed.as_secs_f64())]
}

/// W6: `calls` sequential calls after `warmup` unmeasured ones; µs.
async fn w6(calls: u64, warmup: u64) -> Metrics {
    let (_child, b) = connect_to_b().await;
    for i in 0..warmup {
        assert_eq!(incr(&b, i).await, i + 1);
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let mut sum_ns: u128 = 0;
    for i in 0..calls {
        let sent = Instant::now();
        let r = incr(&b, i).await;
        let ns = sent.elapsed().as_nanos();
        sum_ns += ns;
        hist.saturating_record(ns as u64);
        assert_eq!(r, i + 1);
    }
    vec![
        ("mean", sum_ns as f64 / calls as f64 / 1e3),
        ("p50", hist.value_at_quantile(0.50) as f64 / 1e3),
        ("p99", hist.value_at_quantile(0.99) as f64 / 1e3),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if args.first().map(String::as_str) == Some("--node-b") {
        rt.block_on(node_b());
        std::process::exit(0);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (workload, placement) = match (args.first(), args.get(1)) {
        (Some(w), Some(p)) if (w == "W5" || w == "W6") && (p == "main" || p == "task") => {
            (w.clone(), p.clone())
        }
        _ => {
            eprintln!("usage: ractor-cluster-peer <W5|W6> <main|task> [--quick] | --node-b");
            std::process::exit(2);
        }
    };
    let (tells, calls, warmup) = if quick {
        (10_000, 1_000, 100)
    } else {
        (1_000_000, 100_000, 1_000)
    };
    let limit = std::time::Duration::from_secs(if quick { 60 } else { 600 });
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("ractor-cluster-peer: did not finish within {limit:?}");
        std::process::exit(3);
    });
    let metrics = rt.block_on(async move {
        let fut = async move {
            if workload == "W5" {
                w5(tells).await
            } else {
                w6(calls, warmup).await
            }
        };
        if placement == "task" {
            tokio::spawn(fut).await.expect("driver task panicked")
        } else {
            fut.await
        }
    });
    let mut out = std::io::stdout().lock();
    for (name, value) in metrics {
        let _ = writeln!(out, "{name}={value}");
    }
    let _ = out.flush();
    // Skip tearing down the runtime, the node server and node B's session.
    std::process::exit(0);
}
