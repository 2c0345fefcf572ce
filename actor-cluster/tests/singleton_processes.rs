//! A cluster singleton across three OS processes on loopback (this test binary re-executed:
//! the `singleton_node` "test" runs as a node when `ACTOR_CLUSTER_SINGLETON_NODE` is set),
//! links through proxies in the test process: the instance runs on the oldest process; a
//! SIGKILL of that process restarts it on the next oldest, and the third never runs one.
mod common;

use actor_cluster::locks::Locks;
use actor_cluster::membership::Membership;
use actor_cluster::singleton::{Singleton, SingletonConfig, SingletonEvent};
use actor_core::{Actor, Context, Message, ReplyTo};
use common::procs::{node_dist, node_spec, start_three, stdin_lines};
use common::{member_config, name};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const NODE_ENV: &str = "ACTOR_CLUSTER_SINGLETON_NODE";

#[derive(Serialize, Deserialize)]
enum Ask {
    Where(ReplyTo<String>),
}
impl Message for Ask {
    const NAME: &'static str = "test.singleton_processes.Ask";
}

struct Inst(String);
impl Actor for Inst {
    type Msg = Ask;
    async fn handle(&mut self, Ask::Where(r): Ask, _: &mut Context<Self>) {
        r.send(self.0.clone());
    }
}

/// Runs as a node process when asked (`<i> [<name>=<addr>]...`); otherwise does nothing.
#[test]
fn singleton_node() {
    let Some((i, seeds)) = node_spec(NODE_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let dist = node_dist(i, seeds).await;
        // Nobody is quorate (and hosts) before all three are up together.
        let m = Membership::start(&dist, member_config(i).min_members(3));
        let locks = Locks::start(&dist).await.unwrap();
        let me = name(i);
        let s = Singleton::start(&m, &locks, SingletonConfig::new("p"), move || {
            Inst(me.clone())
        })
        .await;
        let mut events = s.subscribe();
        // The node exits when stdin closes (the test ended).
        let _stdin = stdin_lines();
        let p = s.proxy();
        while let Some(ev) = events.recv().await {
            match ev {
                SingletonEvent::Started { .. } => println!("STARTED"),
                SingletonEvent::Stopped { cause, .. } => println!("STOPPED {cause:?}"),
                SingletonEvent::HostChanged { to: Some(h), .. } => {
                    // Reached through the proxy from here.
                    match p.call(Ask::Where, Duration::from_secs(5)).await {
                        Ok(at) => println!("HOST {h} REACHED {at}"),
                        Err(e) => println!("HOST {h} ERROR {e}"),
                    }
                }
                SingletonEvent::HostChanged { to: None, .. } => println!("HOST none"),
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_sigkill_of_the_host_moves_the_singleton() {
    let (_links, mut procs) = start_three("singleton_node", NODE_ENV).await;

    // n1 (the oldest) hosts it; every node reaches it through its proxy.
    procs[0].wait_line("n1 started", |l| l == "STARTED").await;
    for p in &procs {
        let want = format!("HOST {} REACHED {}", name(1), name(1));
        p.wait_line("n1 reached", |l| l == want).await;
    }

    // SIGKILL n1: n2, the oldest left, starts it; n3 reaches it there.
    procs[0].child.kill().await.unwrap();
    procs[1].wait_line("n2 started", |l| l == "STARTED").await;
    let want = format!("HOST {} REACHED {}", name(2), name(2));
    procs[2]
        .wait_line("n2 reached from n3", |l| l == want)
        .await;
    // n3 never hosts it: without n1 and n2 it is alone, one of three, never quorate.
    assert_eq!(procs[2].count("STARTED").await, 0);
}
