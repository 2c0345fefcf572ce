//! `cluster_node`: one cluster node with membership (keep-majority), global locks and a
//! singleton (`ticker`), printing what it sees and decides, one line per event. It is what
//! `scripts/netns-split-brain.sh` starts in each network namespace; it runs anywhere.
//!
//! ```text
//! cluster_node <i> <listen ip:port> [<name>=<ip:port>]...
//! ```
//!
//! The node is named `n<i>@<listen ip>`, its start stamp is `i` (so `n1` is the oldest), and it
//! dials every `<name>=<addr>` given as a seed; nobody is quorate before a majority of the nodes
//! named (itself and its seeds) are up together (`min_members`). Environment: `COOKIE` (default
//! `netns-demo`), `TICK_MS` (the net tick time, default 1000). Output lines start with the
//! node name, then one of: `quorum <state> side=[..]`, `decided <verdict> side=[..]`,
//! `member <event>`, `singleton <event>`, and every second `status quorum=.. side=[..]
//! up=[..] host=..`. SIGTERM or SIGINT leaves the cluster gracefully (the singleton hands over
//! first) and exits.

use actor_cluster::locks::Locks;
use actor_cluster::membership::{MemberEvent, Membership, MembershipConfig, Strategy};
use actor_cluster::singleton::{Singleton, SingletonConfig};
use actor_core::{Actor, Context, Message, Node, ReplyTo};
use actor_dist::{Cookie, Dist, DistConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Serialize, Deserialize)]
enum Tick {
    Count(ReplyTo<u64>),
}
impl Message for Tick {
    const NAME: &'static str = "example.cluster_node.Tick";
}

struct Ticker(u64);
impl Actor for Ticker {
    type Msg = Tick;
    async fn handle(&mut self, Tick::Count(r): Tick, _: &mut Context<Self>) {
        self.0 += 1;
        r.send(self.0);
    }
}

fn usage() -> ! {
    eprintln!("usage: cluster_node <i> <listen ip:port> [<name>=<ip:port>]...");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(i), Some(listen)) = (args.first(), args.get(1)) else {
        usage()
    };
    let i: u64 = i.parse().unwrap_or_else(|_| usage());
    let listen: SocketAddr = listen.parse().unwrap_or_else(|_| usage());
    let name = format!("n{i}@{}", listen.ip());
    // A majority of the nodes named (this one and its seeds): nobody is quorate alone.
    let min_members = (args.len() - 1) / 2 + 1;
    let cookie = std::env::var("COOKIE").unwrap_or_else(|_| "netns-demo".into());
    let tick = std::env::var("TICK_MS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1000);
    let mut cfg = DistConfig::new(Cookie::new(cookie).expect("a cookie"))
        .listen(listen)
        .tick_time(Duration::from_millis(tick));
    cfg.backoff = (Duration::from_millis(50), Duration::from_millis(500));
    for s in &args[2..] {
        let Some((n, a)) = s.split_once('=') else {
            usage()
        };
        cfg = cfg.seed(n, a.parse().unwrap_or_else(|_| usage()));
    }
    let dist = Dist::start(&Node::new(name.clone()), cfg)
        .await
        .expect("distribution starts");
    let m = Membership::start(
        &dist,
        MembershipConfig::new()
            .strategy(Strategy::KeepMajority { role: None })
            .min_members(min_members)
            .started(i),
    );
    let locks = Locks::start(&dist).await.expect("locks start");
    let ticker = Singleton::start(&m, &locks, SingletonConfig::new("ticker"), || Ticker(0)).await;
    println!("{name} listening {}", dist.local_addr());

    let mut members = m.subscribe();
    let mut singles = ticker.subscribe();
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    loop {
        tokio::select! {
            Some(ev) = members.recv() => match ev {
                MemberEvent::Quorum(q) => {
                    println!("{name} quorum {q:?} side={:?}", m.quorum().info().side)
                }
                MemberEvent::Decided(d) => {
                    println!("{name} decided {:?} side={:?}", d.verdict, d.side)
                }
                MemberEvent::Picture(_) | MemberEvent::Health { .. } => {}
                other => println!("{name} member {other:?}"),
            },
            Some(ev) = singles.recv() => println!("{name} singleton {ev:?}"),
            _ = every.tick() => {
                let s = m.status();
                println!(
                    "{name} status quorum={:?} side={:?} up={:?} host={:?} local={}",
                    s.quorum,
                    s.quorum_side,
                    s.up(),
                    ticker.status().host,
                    ticker.local().is_some()
                );
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    println!("{name} leaving");
    let confirmed = m.leave(Duration::from_secs(5)).await;
    println!("{name} left, confirmed by {confirmed:?}");
}
