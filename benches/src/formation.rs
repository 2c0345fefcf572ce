//! W19 cluster formation (`actor-cluster`): N nodes as OS processes on 127.0.0.1, all started
//! at once, each told one seed (the first node); the time until every node sees N-1 peers,
//! and the median RSS per node then.
//!
//! The bench child picks a free port for the seed, then starts N node processes (this binary
//! re-executed with `--w19-node <index> <n> <seed_port>`) back to back without waiting for any.
//! Every node runs the same configuration, as a deployment would: distribution on
//! 127.0.0.1, and discovery ([`Discovery`]) with a static list of one peer, the seed
//! `f0@127.0.0.1:<seed_port>` (the seed skips itself). A node dials the seed (retrying with
//! backoff while the seed is not up yet), and the seed's peer list and everyone's transitive
//! connects complete the mesh. Each node prints `FORMED` when it sees N-1 peers. `formation`
//! runs from the first process spawn until the last `FORMED` (so it includes process start-up,
//! as Erlang's figure includes the BEAM's); `rss_per_node` is the median of the nodes'
//! `VmRSS` (`/proc/<pid>/status`) read once all have formed.
//!
//! Node processes run a current-thread tokio runtime: a node of a 100-node cluster on a
//! 2-core machine gains nothing from a worker thread per core, and it is what one would
//! deploy many small nodes with. Erlang (100 nodes): 30.9 s, 41 MiB each; targets: within
//! 10 s, at most 10 MiB each.

use crate::Metrics;
use actor_cluster::discovery::{Discovery, DiscoveryConfig, Peer, StaticList};
use actor_core::Node;
use actor_dist::Dist;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// The hidden first argument that makes the bench binary run as a W19 node.
pub const NODE_ARG: &str = "--w19-node";

/// The peer name of W19 with `n` nodes.
const PEER_PREFIX: &str = "actor-cluster-";

/// How long formation may take before the run counts as failed.
const DEADLINE: Duration = Duration::from_secs(120);

fn node_name(i: usize) -> String {
    format!("f{i}@127.0.0.1")
}

/// `--quick` runs only the smallest cluster.
pub fn skipped(workload: &str, peer: &str, quick: bool) -> bool {
    quick && workload == "W19" && peer != "actor-cluster-10"
}

/// The cluster size of a W19 peer name (`actor-cluster-<n>`).
pub fn nodes_of(peer: &str) -> Option<usize> {
    peer.strip_prefix(PEER_PREFIX)?.parse().ok()
}

/// A W19 node: `--w19-node <index> <n> <seed_port>`. Prints `FORMED` once it sees `n - 1`
/// peers and serves until stdin closes.
pub fn node_main(args: &[String]) -> ExitCode {
    let parsed = (|| {
        let i: usize = args.first()?.parse().ok()?;
        let n: usize = args.get(1)?.parse().ok()?;
        let port: u16 = args.get(2)?.parse().ok()?;
        Some((i, n, port))
    })();
    let Some((i, n, port)) = parsed else {
        eprintln!("usage: benches {NODE_ARG} <index> <n> <seed_port>");
        return ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let seed = SocketAddr::from(([127, 0, 0, 1], port));
        let listen = if i == 0 {
            seed
        } else {
            SocketAddr::from(([127, 0, 0, 1], 0))
        };
        let cfg = crate::dist_peer::config(crate::dist_peer::default_tick()).listen(listen);
        let node = Node::new(node_name(i));
        let dist = Dist::start(&node, cfg).await.expect("listen on 127.0.0.1");
        let discovery = Discovery::start(
            &dist,
            StaticList::new([Peer::named(node_name(0), seed)]),
            DiscoveryConfig::default()
                .interval(Duration::from_secs(1))
                .backoff(Duration::from_millis(20), Duration::from_millis(500)),
        );
        if tokio::time::timeout(Duration::from_secs(20), wait_formed(&dist, n - 1))
            .await
            .is_err()
        {
            report_stuck(&dist, n);
            wait_formed(&dist, n - 1).await;
        }
        println!("FORMED");
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(k) = stdin.read(&mut buf).await {
            if k == 0 {
                break;
            }
        }
        drop(discovery);
    });
    // Skip tearing down the runtime.
    std::process::exit(0);
}

/// Returns once `dist` sees `peers` peers.
async fn wait_formed(dist: &Dist, peers: usize) {
    let mut events = dist.subscribe();
    while dist.nodes().len() < peers {
        // Every change of `nodes()` comes with an event; a lost one (the queue is bounded) is
        // made up for by the timeout.
        let _ = tokio::time::timeout(Duration::from_millis(100), events.recv()).await;
    }
}

/// A node that has not seen every peer after a long while says which it misses and what
/// failed (on stderr).
fn report_stuck(dist: &Dist, n: usize) {
    let seen: std::collections::HashSet<String> = dist.nodes().into_iter().collect();
    let missing: Vec<String> = (0..n)
        .map(node_name)
        .filter(|m| m != dist.name() && !seen.contains(m))
        .collect();
    let s = dist.stats();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "W19 {}: {} of {} peers after 20 s, missing {missing:?}; setup_failures={} handshake_timeouts={} preauth_refused={} preauth_evicted={}",
        dist.name(),
        seen.len(),
        n - 1,
        get(&s.setup_failures),
        get(&s.handshake_timeouts),
        get(&s.preauth_refused),
        get(&s.preauth_evicted),
    );
}

/// VmRSS of process `pid` in bytes (0 if unknown).
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// W19 with `n` nodes.
pub async fn w19_formation(n: usize) -> Metrics {
    let seed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("its address").port()
    };
    let exe = std::env::current_exe().expect("own path");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let started = Instant::now();
    let mut children: Vec<Child> = Vec::with_capacity(n);
    for i in 0..n {
        let mut child = Command::new(&exe)
            .args([
                NODE_ARG,
                &i.to_string(),
                &n.to_string(),
                &seed_port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start node process {i}: {e}"));
        let stdout = child.stdout.take().expect("node's stdout");
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == "FORMED" {
                    let _ = tx.send(i);
                }
            }
        });
        children.push(child);
    }
    let mut formed = 0;
    while formed < n {
        match tokio::time::timeout_at((started + DEADLINE).into(), rx.recv()).await {
            Ok(Some(_)) => formed += 1,
            _ => panic!("W19: {formed} of {n} nodes formed within {DEADLINE:?}"),
        }
    }
    let formation = started.elapsed();
    let mut rss: Vec<u64> = children.iter().filter_map(|c| c.id()).map(rss_of).collect();
    rss.sort_unstable();
    let median = rss.get(rss.len() / 2).copied().unwrap_or(0);
    drop(children);
    vec![
        ("formation", formation.as_secs_f64()),
        ("rss_per_node", median as f64 / (1024.0 * 1024.0)),
    ]
}
