//! Three nodes as OS processes on loopback (this test binary re-executed: the `node_process`
//! "test" runs as a node when `ACTOR_CLUSTER_TEST_NODE` is set), links through proxies in the
//! test process: a silent cut of one node makes it refuse writes while the other two keep
//! writing, a heal makes all three quorate again, and a graceful leave is seen as `shutdown`.
mod common;

use actor_cluster::membership::{MemberEvent, Membership, QuorumState};
use actor_core::Node;
use actor_dist::Dist;
use common::proxy::LinkProxy;
use common::{dist_config, member_config, name, T};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Mutex;

const NODE_ENV: &str = "ACTOR_CLUSTER_TEST_NODE";

/// Runs as a node process when asked (`<i> [<name>=<addr>]...`); otherwise does nothing.
#[test]
fn node_process() {
    let Ok(spec) = std::env::var(NODE_ENV) else {
        return;
    };
    let mut it = spec.split_whitespace();
    let i: usize = it.next().unwrap().parse().unwrap();
    let seeds: Vec<(String, SocketAddr)> = it
        .map(|s| {
            let (n, a) = s.split_once('=').unwrap();
            (n.to_string(), a.parse().unwrap())
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut cfg = dist_config();
        cfg.seeds = seeds;
        let dist = Dist::start(&Node::new(name(i)), cfg).await.unwrap();
        println!("LISTEN {}", dist.local_addr());
        let m = Membership::start(&dist, member_config(i));
        let mut events = m.subscribe();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if let MemberEvent::Down { node, reason } = ev {
                    println!("DOWN {node} {reason:?}");
                }
            }
        });
        let m2 = m.clone();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        // Commands on stdin (read on a thread of its own); the node exits when it closes.
        std::thread::spawn(move || {
            for l in std::io::stdin().lines() {
                let Ok(l) = l else { break };
                let _ = tx.send(l);
            }
            std::process::exit(0);
        });
        tokio::spawn(async move {
            while let Some(l) = rx.recv().await {
                if l == "leave" {
                    m2.leave(T).await;
                    println!("LEFT");
                }
            }
        });
        let mut last = String::new();
        loop {
            let s = m.status();
            let line = format!("STATE {:?} {}", s.quorum, s.quorum_side.join(","));
            if line != last {
                println!("{line}");
                last = line;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

struct Proc {
    _child: Child,
    stdin: ChildStdin,
    /// Every line the node printed.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    async fn last_state(&self) -> Option<String> {
        let l = self.lines.lock().await;
        l.iter().rev().find(|x| x.starts_with("STATE ")).cloned()
    }
    async fn wait_line(&self, what: &str, f: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if self.lines.lock().await.iter().any(|l| f(l)) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "not seen: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    async fn wait_state(&self, what: &str, f: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if self.last_state().await.is_some_and(|s| f(&s)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not reached: {what} (last {:?})",
                self.last_state().await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_processes_cut_heal_and_leave() {
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
            .args(["--exact", "node_process", "--nocapture", "--test-threads=1"])
            .env(NODE_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr: SocketAddr = loop {
            let l = out.next_line().await.unwrap().expect("LISTEN line");
            // The harness may print its "test node_process ... " before it on the same line.
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
            _child: child,
            stdin,
            lines,
        });
    }
    let all = format!("{},{},{}", name(1), name(2), name(3));
    let quorate_with =
        |side: String| move |s: &str| s == format!("STATE {:?} {side}", QuorumState::Quorate);
    for p in &procs {
        p.wait_state("whole", quorate_with(all.clone())).await;
    }

    // n3 is cut off silently: it refuses writes; n1 and n2 keep writing without it.
    links[&(1, 3)].cut();
    links[&(2, 3)].cut();
    procs[2]
        .wait_state("n3 read-only", |s| !s.starts_with("STATE Quorate"))
        .await;
    let pair = format!("{},{}", name(1), name(2));
    for p in &procs[..2] {
        p.wait_state("n1, n2 without n3", quorate_with(pair.clone()))
            .await;
    }
    procs[2]
        .wait_state("n3 decided down", |s| s.starts_with("STATE Minority"))
        .await;

    // Heal: all three quorate again.
    for l in links.values() {
        l.heal();
    }
    for p in &procs {
        p.wait_state("whole again", quorate_with(all.clone())).await;
    }

    // n3 leaves: the others see it go down with reason shutdown.
    procs[2].stdin.write_all(b"leave\n").await.unwrap();
    procs[2].wait_line("n3 left", |l| l == "LEFT").await;
    for p in &procs[..2] {
        p.wait_line("n3 down with shutdown", |l| {
            l == format!("DOWN {} Shutdown", name(3))
        })
        .await;
        p.wait_state("n1, n2 quorate", quorate_with(pair.clone()))
            .await;
    }
}
