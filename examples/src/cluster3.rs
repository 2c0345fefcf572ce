//! The three-node governors cluster of the `demo` and `cluster` binaries: nodes `a`, `b`
//! and `c` on 127.0.0.1, each its own OS process with its own journal, hosting the governors
//! as entities over the replicated receipt log (every key on all three nodes).
//!
//! The parent process is node `a`; it starts `b` and `c` as children from its own binary
//! (`<binary> --child <name> --dir <journal dir>`, the cookie in [`COOKIE_ENV`]). A child
//! prints `LISTEN <addr>` once it is up, then serves until its stdin closes (the parent went
//! away) or it is killed. It also takes commands on stdin, `billing <key>` (invoice 1) and
//! `quota <key>` (usage 1), each answered on stdout with a `REPLY ...` line: the demo uses it to write through the child while the child
//! is cut off from the others (no rpc reaches it then).
//!
//! Nodes neither connect on first use (`auto_connect = false`) nor to their peers' peers
//! (`transitive = false`): the mesh is made explicitly ([`CONNECT_RPC`]), so that a
//! partition made with [`ISOLATE_RPC`] stays made until it is healed.

use crate::governors::billing::{self, Billing};
use crate::governors::quota::{self, Quota};
use crate::governors::{Governors, GovernorsConfig, StaticTenants};
use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_entity::log::EntityLog;
use actor_entity::replicated::{ReplicatedConfig, ReplicatedLog, StaticMembers};
use actor_entity::{Entities, EntityConfig};
use actor_journal::{JournalConfig, RedbJournal};
use actor_registry::{GlobalConfig, GlobalRegistry};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// The three members, in order: `a` (the parent), `b`, `c`.
pub const NODES: [&str; 3] = ["a@127.0.0.1", "b@127.0.0.1", "c@127.0.0.1"];

/// The tenants of the demo.
pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// The environment variable that passes the cookie to the children.
pub const COOKIE_ENV: &str = "DEMO_CLUSTER_COOKIE";

/// Rpc: connect to each `(name, addr)` given (`Vec<(String, String)>` → `Vec<String>` of
/// failures).
pub const CONNECT_RPC: &str = "demo.connect";

/// Rpc: drop every connection of this node shortly after answering (the partition).
pub const ISOLATE_RPC: &str = "demo.isolate";

/// Rpc: the node's connected nodes.
pub const NODES_RPC: &str = "demo.nodes";

/// How long the replicated log waits for a majority. Short, so that a refusal is seen soon
/// (a replica that is cut off fails at once anyway), but with room for a loaded machine.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(2);

/// One node of the cluster.
pub struct ClusterNode {
    /// Distribution.
    pub dist: Dist,
    /// The `governors` registry scope.
    pub global: GlobalRegistry,
    /// The entity host.
    pub entities: Entities,
    /// The governors.
    pub govs: Governors,
    /// The replicated receipt log client.
    pub log: ReplicatedLog,
}

/// A fresh random-enough cookie for one run (clock and process id; not a secret store).
pub fn fresh_cookie() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("demo-{:x}", nanos ^ (u128::from(std::process::id()) << 64))
}

/// Starts node `name` with its journal in `dir`: distribution, the registry scope, the
/// replicated log (members: [`NODES`], three replicas), the entity host (least-loaded
/// placement, no passivation, no rebalancing) and the governors; registers the demo rpcs.
pub async fn start_node(name: &str, cookie: &str, dir: &Path) -> ClusterNode {
    let mut cfg = DistConfig::new(Cookie::new(cookie).expect("non-empty cookie"));
    cfg.tick_time = Duration::from_secs(1);
    cfg.auto_connect = false;
    cfg.transitive = false;
    cfg.backoff = (Duration::from_millis(20), Duration::from_millis(200));
    let dist = Dist::start(&Node::new(name), cfg)
        .await
        .expect("listen on 127.0.0.1");
    let global = GlobalRegistry::start(&dist, GlobalConfig::new("governors"))
        .await
        .expect("start the registry scope");
    std::fs::create_dir_all(dir).expect("journal dir");
    let journal = RedbJournal::open(JournalConfig::new(dir)).expect("open the journal");
    let members = NODES.iter().map(|n| n.to_string()).collect();
    let log = ReplicatedLog::start(
        &dist,
        Arc::new(journal),
        ReplicatedConfig {
            replicas: 3,
            members: Some(Arc::new(StaticMembers(members))),
            timeout: LOG_TIMEOUT,
            ..ReplicatedConfig::default()
        },
    )
    .await
    .expect("start the replica server");
    let ecfg = EntityConfig {
        passivate_after: None,
        rebalance: None,
        activation_timeout: Duration::from_secs(4),
        ..EntityConfig::default()
    };
    let entities = Entities::start(
        &dist,
        &global,
        Arc::new(log.clone()) as Arc<dyn EntityLog>,
        ecfg,
    )
    .await;
    let gcfg = GovernorsConfig {
        billing: billing::Config {
            backup_timeout: Duration::from_millis(500),
            ..billing::Config::default()
        },
        ..GovernorsConfig::new(Arc::new(StaticTenants::new(TENANTS)))
    };
    let govs = Governors::start(&entities, &global, gcfg)
        .await
        .expect("start the governors");
    register_rpcs(&dist);
    ClusterNode {
        dist,
        global,
        entities,
        govs,
        log,
    }
}

fn register_rpcs(dist: &Dist) {
    let d = dist.clone();
    dist.register_rpc(CONNECT_RPC, move |peers: Vec<(String, String)>| {
        let d = d.clone();
        async move {
            let mut failed = Vec::new();
            for (name, addr) in peers {
                let ok = match addr.parse::<SocketAddr>() {
                    Ok(a) => d.connect(&name, a).await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    failed.push(name);
                }
            }
            failed
        }
    });
    let d = dist.clone();
    dist.register_rpc(ISOLATE_RPC, move |(): ()| {
        let d = d.clone();
        // The disconnect waits a moment so that this answer leaves first; the caller
        // synchronises on the node-down events, not on this delay.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for n in d.nodes() {
                d.disconnect(&n);
            }
        });
        async move {}
    });
    let d = dist.clone();
    dist.register_rpc(NODES_RPC, move |(): ()| {
        let n = d.nodes();
        async move { n }
    });
}

/// A child node process, seen from the parent.
pub struct ChildNode {
    /// Its node name.
    pub name: String,
    /// Its listening address.
    pub addr: SocketAddr,
    /// The process (killed when dropped).
    pub process: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
}

impl ChildNode {
    /// Starts node `name` as a child process of the running binary, its journal in `dir`.
    pub async fn start(name: &str, cookie: &str, dir: &Path) -> ChildNode {
        let exe = std::env::current_exe().expect("own path");
        let mut process = Command::new(exe)
            .args(["--child", name, "--dir"])
            .arg(dir)
            .env(COOKIE_ENV, cookie)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start a node process");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let first = lines
            .next_line()
            .await
            .ok()
            .flatten()
            .expect("the child's LISTEN line");
        let addr = first
            .strip_prefix("LISTEN ")
            .and_then(|a| a.parse().ok())
            .expect("LISTEN <addr>");
        let (tx, replies) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(r) = line.strip_prefix("REPLY ") {
                    if tx.send(r.to_string()).await.is_err() {
                        break;
                    }
                }
            }
        });
        let stdin = process.stdin.take().expect("stdin");
        ChildNode {
            name: name.to_string(),
            addr,
            process,
            stdin,
            replies,
        }
    }

    /// The child's OS process id.
    pub fn pid(&self) -> u32 {
        self.process.id().unwrap_or(0)
    }

    /// Asks the child to write to governor `kind`/`key` from its own node (`"billing"`:
    /// invoice 1, `"quota"`: usage 1); its answer (`ok ...` or `err ...`), or `None` if it
    /// said nothing within `timeout`.
    pub async fn write(&mut self, kind: &str, key: &str, timeout: Duration) -> Option<String> {
        let cmd = format!("{kind} {key}\n");
        self.stdin.write_all(cmd.as_bytes()).await.ok()?;
        self.stdin.flush().await.ok()?;
        tokio::time::timeout(timeout, self.replies.recv())
            .await
            .ok()
            .flatten()
    }
}

/// The timeout of a child's write command.
pub const CHILD_CALL: Duration = Duration::from_secs(3);

/// The main of a child process (`--child <name> --dir <dir>`): starts the node, prints
/// `LISTEN <addr>`, then serves `billing <key>` and `quota <key>` commands until stdin closes.
pub async fn child_main(name: &str, dir: &Path) {
    let cookie = std::env::var(COOKIE_ENV).unwrap_or_else(|_| "demo-cookie".to_string());
    let node = start_node(name, &cookie, dir).await;
    println!("LISTEN {}", node.dist.local_addr());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match line.split_once(' ') {
            Some(("billing", key)) => {
                let cmd = billing::Cmd::Invoice { amount: 1 };
                match node.govs.call::<Billing, _>(key, cmd, CHILD_CALL).await {
                    Ok(v) => format!("ok {:?} due={}", v.state, v.data.due),
                    Err(e) => format!("err {e}"),
                }
            }
            Some(("quota", key)) => {
                let cmd = quota::Cmd::Usage {
                    window: None,
                    amount: 1,
                };
                match node.govs.call::<Quota, _>(key, cmd, CHILD_CALL).await {
                    Ok(v) => format!("ok {:?} used={}", v.state, v.data.used),
                    Err(e) => format!("err {e}"),
                }
            }
            _ => format!("err unknown command {line:?}"),
        };
        println!("REPLY {reply}");
    }
    node.dist.shutdown();
}

/// Parses `--child <name> --dir <dir>` from the arguments, if present.
pub fn child_args(args: &[String]) -> Option<(String, std::path::PathBuf)> {
    match args {
        [_, flag, name, d, dir, ..] if flag == "--child" && d == "--dir" => {
            Some((name.clone(), dir.into()))
        }
        _ => None,
    }
}

/// Starts the whole cluster from this process: node `a` here, `b` and `c` as children, the
/// journals under `root`; connects the full mesh and waits for the registry to sync.
pub async fn start_cluster(cookie: &str, root: &Path) -> (ClusterNode, Vec<ChildNode>) {
    let a = start_node(NODES[0], cookie, &root.join("a")).await;
    let (bdir, cdir) = (root.join("b"), root.join("c"));
    let (b, c) = tokio::join!(
        ChildNode::start(NODES[1], cookie, &bdir),
        ChildNode::start(NODES[2], cookie, &cdir),
    );
    for ch in [&b, &c] {
        a.dist
            .connect(&ch.name, ch.addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e:?}", ch.name));
    }
    let failed: Vec<String> = a
        .dist
        .call(
            &b.name,
            CONNECT_RPC,
            &vec![(c.name.clone(), c.addr.to_string())],
            Duration::from_secs(5),
        )
        .await
        .expect("mesh b-c");
    assert!(failed.is_empty(), "b could not connect to {failed:?}");
    a.global
        .sync(Duration::from_secs(5))
        .await
        .expect("registry sync");
    (a, vec![b, c])
}

impl ChildNode {
    /// Stops the child: closes its stdin (it shuts down), and kills it if it has not exited
    /// within `grace`.
    pub async fn stop(self, grace: Duration) {
        let ChildNode {
            mut process, stdin, ..
        } = self;
        drop(stdin);
        if tokio::time::timeout(grace, process.wait()).await.is_err() {
            let _ = process.kill().await;
        }
    }
}
