//! Three nodes as OS processes on loopback: the test binary re-executed, one of its "tests"
//! running as a node when an environment variable carries its spec (`<i> [<name>=<addr>]...`:
//! its number and the higher-numbered nodes it dials); every link through a [`LinkProxy`] in
//! the test process. A node prints `LISTEN <addr>` first, then lines the test waits for.

use super::proxy::LinkProxy;
use super::{dist_config, name, T};
use actor_core::Node;
use actor_dist::Dist;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Mutex;

/// In a node process: its number and seeds from `env`; `None` in the test process.
pub fn node_spec(env: &str) -> Option<(usize, Vec<(String, SocketAddr)>)> {
    let spec = std::env::var(env).ok()?;
    let mut it = spec.split_whitespace();
    let i: usize = it.next().unwrap().parse().unwrap();
    let seeds = it
        .map(|s| {
            let (n, a) = s.split_once('=').unwrap();
            (n.to_string(), a.parse().unwrap())
        })
        .collect();
    Some((i, seeds))
}

/// In a node process: starts node `i`'s distribution, dialing `seeds`, and tells the test
/// process its address (`LISTEN <addr>`).
pub async fn node_dist(i: usize, seeds: Vec<(String, SocketAddr)>) -> Dist {
    let mut cfg = dist_config();
    cfg.seeds = seeds;
    let dist = Dist::start(&Node::new(name(i)), cfg).await.unwrap();
    println!("LISTEN {}", dist.local_addr());
    dist
}

/// In a node process: the lines the test process writes to its stdin (read on a thread of
/// their own); the process exits when stdin closes (the test ended).
pub fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for l in std::io::stdin().lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
        std::process::exit(0);
    });
    rx
}

/// One node process.
pub struct Proc {
    pub child: Child,
    /// Its stdin: the node exits when it closes.
    pub stdin: ChildStdin,
    /// Every line the node printed after `LISTEN`.
    pub lines: Arc<Mutex<Vec<String>>>,
}

/// The links between three nodes, by (lower, higher) node number.
pub type Links = BTreeMap<(usize, usize), LinkProxy>;

/// Starts nodes 1..=3 by running the test `node_test` of this binary with `env` set to each
/// node's spec; node `i` dials node `j > i` through the proxy `links[&(i, j)]`.
pub async fn start_three(node_test: &str, env: &str) -> (Links, Vec<Proc>) {
    let mut links = BTreeMap::new();
    for i in 1..=3 {
        for j in i + 1..=3 {
            links.insert((i, j), LinkProxy::start().await);
        }
    }
    let exe = std::env::current_exe().unwrap();
    let mut procs = Vec::new();
    for i in 1..=3usize {
        let mut spec = i.to_string();
        for j in i + 1..=3 {
            spec.push_str(&format!(" {}={}", name(j), links[&(i, j)].addr));
        }
        let mut child = Command::new(&exe)
            .args(["--exact", node_test, "--nocapture", "--test-threads=1"])
            .env(env, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr: SocketAddr = loop {
            let l = out.next_line().await.unwrap().expect("LISTEN line");
            // The harness may print its "test <node_test> ... " before it on the same line.
            if let Some(a) = l.split("LISTEN ").nth(1) {
                break a.trim().parse().unwrap();
            }
        };
        for k in 1..i {
            links[&(k, i)].set_target(addr);
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                l.lock().await.push(line);
            }
        });
        let stdin = child.stdin.take().unwrap();
        procs.push(Proc {
            child,
            stdin,
            lines,
        });
    }
    (links, procs)
}

impl Proc {
    /// Waits (up to [`T`]) until the node has printed a line for which `f` holds.
    pub async fn wait_line(&self, what: &str, f: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if self.lines.lock().await.iter().any(|l| f(l)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not seen: {what}; lines {:?}",
                self.lines.lock().await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many lines the node printed that start with `prefix`.
    pub async fn count(&self, prefix: &str) -> usize {
        let l = self.lines.lock().await;
        l.iter().filter(|x| x.starts_with(prefix)).count()
    }
}
