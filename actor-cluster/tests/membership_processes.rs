//! Three nodes as OS processes on loopback (this test binary re-executed: the `node_process`
//! "test" runs as a node when `ACTOR_CLUSTER_TEST_NODE` is set), links through proxies in the
//! test process: a silent cut of one node makes it refuse writes while the other two keep
//! writing, a heal makes all three quorate again, and a graceful leave is seen as `shutdown`.
mod common;

use actor_cluster::membership::{MemberEvent, Membership, QuorumState};
use common::procs::{node_dist, node_spec, start_three, stdin_lines, Proc};
use common::{member_config, name, T};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const NODE_ENV: &str = "ACTOR_CLUSTER_TEST_NODE";

/// Runs as a node process when asked (`<i> [<name>=<addr>]...`); otherwise does nothing.
#[test]
fn node_process() {
    let Some((i, seeds)) = node_spec(NODE_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let dist = node_dist(i, seeds).await;
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
        // Commands on stdin; the node exits when it closes.
        let mut rx = stdin_lines();
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

async fn last_state(p: &Proc) -> Option<String> {
    let l = p.lines.lock().await;
    l.iter().rev().find(|x| x.starts_with("STATE ")).cloned()
}

/// Waits until the node's last `STATE` line is one for which `f` holds.
async fn wait_state(p: &Proc, what: &str, f: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if last_state(p).await.is_some_and(|s| f(&s)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reached: {what} (last {:?})",
            last_state(p).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_processes_cut_heal_and_leave() {
    let (links, mut procs) = start_three("node_process", NODE_ENV).await;
    let all = format!("{},{},{}", name(1), name(2), name(3));
    let quorate_with =
        |side: String| move |s: &str| s == format!("STATE {:?} {side}", QuorumState::Quorate);
    for p in &procs {
        wait_state(p, "whole", quorate_with(all.clone())).await;
    }

    // n3 is cut off silently: it refuses writes; n1 and n2 keep writing without it.
    links[&(1, 3)].cut();
    links[&(2, 3)].cut();
    wait_state(&procs[2], "n3 read-only", |s| {
        !s.starts_with("STATE Quorate")
    })
    .await;
    let pair = format!("{},{}", name(1), name(2));
    for p in &procs[..2] {
        wait_state(p, "n1, n2 without n3", quorate_with(pair.clone())).await;
    }
    wait_state(&procs[2], "n3 decided down", |s| {
        s.starts_with("STATE Minority")
    })
    .await;

    // Heal: all three quorate again.
    for l in links.values() {
        l.heal();
    }
    for p in &procs {
        wait_state(p, "whole again", quorate_with(all.clone())).await;
    }

    // n3 leaves: the others see it go down with reason shutdown.
    procs[2].stdin.write_all(b"leave\n").await.unwrap();
    procs[2].wait_line("n3 left", |l| l == "LEFT").await;
    for p in &procs[..2] {
        p.wait_line("n3 down with shutdown", |l| {
            l == format!("DOWN {} Shutdown", name(3))
        })
        .await;
        wait_state(p, "n1, n2 quorate", quorate_with(pair.clone())).await;
    }
}
