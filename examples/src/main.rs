//! `demo`: a three-node cluster on loopback, as three OS processes.
//!
//! The parent starts two child node processes, spawns accounts on them, calls them from
//! here, then kills one node with SIGKILL: the node-down event arrives, the link and the
//! monitor to the dead node's actor fire with `noconnection`, a pending call fails at once,
//! and the survivors carry on. Then it exits by itself.
//!
//! Run with `cargo run --release -p examples --bin demo`.

use actor_core::{Actor, Context, Down, ExitReason, Pid};
use actor_dist::{NodeEvent, SpawnOnOpts};
use actor_registry::{Key, Kind};
use examples::{run_node_process, start_demo_node_with_registry, AccountMsg, ACCOUNTS};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const TICK: Duration = Duration::from_secs(2);
const T: Duration = Duration::from_secs(5);

/// Links to and monitors `target` (on another node), trapping exits: prints what arrives
/// and says so on `seen`.
struct Watcher {
    target: Pid,
    seen: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(true);
        ctx.link(self.target)
            .map_err(|e| ExitReason::error(e.to_string()))?;
        ctx.monitor(self.target);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, _: &mut Context<Self>) {
        println!("  watcher: linked actor {from} exited: {reason}");
        let _ = self.seen.send(());
    }
    async fn handle_down(&mut self, d: Down, _: &mut Context<Self>) {
        println!("  watcher: monitor fired for {}: {}", d.pid, d.reason);
        let _ = self.seen.send(());
    }
}

async fn start_child(name: &str) -> (Child, std::net::SocketAddr) {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--node", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("LISTEN line");
    let addr = line
        .strip_prefix("LISTEN ")
        .expect("LISTEN line")
        .parse()
        .unwrap();
    println!(
        "started node {name} as OS process {} on {addr}",
        child.id().unwrap_or(0)
    );
    (child, addr)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 3 && args[1] == "--node" {
        return run_node_process(&args[2], TICK).await;
    }
    let t0 = Instant::now();
    let (me, accounts) = start_demo_node_with_registry("main@127.0.0.1", TICK).await;
    let mut events = me.subscribe();
    let (_n1, addr1) = start_child("alpha@127.0.0.1").await;
    let (mut n2, addr2) = start_child("beta@127.0.0.1").await;
    me.connect("alpha@127.0.0.1", addr1)
        .await
        .expect("connect alpha");
    me.connect("beta@127.0.0.1", addr2)
        .await
        .expect("connect beta");
    // alpha and beta learn of each other through us (transitive connect).
    println!("cluster up; this node sees {:?}", me.nodes());

    let alice = me
        .spawn_on::<AccountMsg, _>(
            "alpha@127.0.0.1",
            "account",
            &("alice".to_string(), 100u64),
            SpawnOnOpts::default(),
        )
        .await
        .expect("spawn on alpha");
    let bob = me
        .spawn_on::<AccountMsg, _>(
            "beta@127.0.0.1",
            "account",
            &("bob".to_string(), 50u64),
            SpawnOnOpts::default(),
        )
        .await
        .expect("spawn on beta");
    alice.tell(AccountMsg::Deposit(25)).unwrap();
    for (who, acc) in [("alice", &alice), ("bob", &bob)] {
        let (bal, node) = acc.call(AccountMsg::Balance, T).await.unwrap();
        println!(
            "{who}'s account {} lives on {node}: balance {bal}",
            acc.pid()
        );
    }
    // Each account named itself in the cluster-wide registry when it started, on its own
    // node; every node sees the names (lookups are local), and finds the accounts by name.
    let bob_key = Key::from(("account", "bob"));
    accounts.await_name(("account", "alice"), T).await.unwrap();
    let found = accounts.await_name(bob_key.clone(), T).await.unwrap();
    let by_name = me.actor_ref::<AccountMsg>(found).unwrap();
    let (bal, node) = by_name.call(AccountMsg::Balance, T).await.unwrap();
    println!("registry: {bob_key:?} -> {found} (on {node}, balance {bal}), looked up on main");
    let members = accounts.members(&Key::from(ACCOUNTS));
    println!(
        "registry: group {ACCOUNTS:?} has {} members cluster-wide",
        members.len()
    );
    let twin = me
        .spawn_on::<AccountMsg, _>(
            "beta@127.0.0.1",
            "account",
            &("alice".to_string(), 1u64),
            SpawnOnOpts::default(),
        )
        .await;
    println!(
        "registry: a second account for alice is refused: {}",
        twin.err().map(|e| e.to_string()).unwrap_or_default()
    );
    let mut bob_watch = accounts.monitor(Kind::Name, bob_key.clone());

    let who = me
        .multicall::<_, (String, u64)>(&me.nodes(), "whoami", &(), T)
        .await;
    for (node, r) in &who.results {
        println!("rpc whoami on {node}: {:?}", r.as_ref().unwrap());
    }

    // A local watcher links to bob's account and monitors it, across the node boundary.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let _watcher = me
        .node()
        .spawn(Watcher {
            target: bob.pid(),
            seen: seen_tx,
        })
        .await
        .unwrap();

    println!("killing beta with SIGKILL ...");
    let killed_at = Instant::now();
    n2.start_kill().expect("kill beta");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(NodeEvent::Down { node, reason })) if node == "beta@127.0.0.1" => {
                println!(
                    "nodedown {node}: {reason:?} after {:?}",
                    killed_at.elapsed()
                );
                break;
            }
            Ok(Some(_)) => continue,
            _ => panic!("no nodedown for beta"),
        }
    }
    let asked = Instant::now();
    let r = bob.call(AccountMsg::Balance, Duration::from_secs(60)).await;
    println!(
        "a call to bob's account fails at once: {r:?} in {:?}",
        asked.elapsed()
    );
    // The names of beta's processes vanish everywhere with beta.
    if let Ok(Some(ev)) = tokio::time::timeout(T, bob_watch.recv()).await {
        println!(
            "registry: {:?} of {} gone: {:?}; where_ now {:?}; group {ACCOUNTS:?} has {} members",
            ev.key,
            ev.pid,
            ev.change,
            accounts.where_(&bob_key),
            accounts.members(&Key::from(ACCOUNTS)).len()
        );
    }
    // Both the exit signal and the Down reach the watcher.
    for _ in 0..2 {
        let _ = tokio::time::timeout(T, seen.recv()).await;
    }

    // The survivors carry on.
    let (bal, node) = alice.call(AccountMsg::Balance, T).await.unwrap();
    println!("alice's account on {node} still answers: balance {bal}");
    let carol = me
        .spawn_on_least_loaded::<AccountMsg, _>(
            "account",
            &("carol".to_string(), 7u64),
            SpawnOnOpts::default(),
        )
        .await
        .unwrap();
    let (_, node) = carol.call(AccountMsg::Balance, T).await.unwrap();
    println!("carol's new account placed on the least loaded node: {node}");
    println!("cluster now: {:?}", me.nodes());
    me.shutdown();
    println!("done in {:?}", t0.elapsed());
}
