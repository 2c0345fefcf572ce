//! W21 split-brain: five nodes as OS processes on 127.0.0.1 (this binary re-executed with the
//! hidden argument `--w21-node`), fully meshed, every link through its own proxy in the bench
//! child (node `i` dials node `j > i` through the proxy of link `i-j`, as a seed, so a link
//! comes back by itself after a heal). Tick time `T` (2 s; 500 ms with `--quick`),
//! keep-majority, membership defaults (heartbeat `T/8`, stable-after `T`).
//!
//! Peers are the three scenarios, each on a fresh cluster:
//! - `silent`: every link between {1,2,3} and {4,5} silently stops (bytes held, connections
//!   open) until the sides have agreed and a further `T`; then the links flow again;
//! - `one-way`: the direction n1 → n4 silently stops (n4 hears nothing from n1, n1 still
//!   hears n4); the cluster must end as clean components, {1,2,3,5} and {4} (the younger end
//!   of the broken link is dropped); then the direction flows again;
//! - `flapping`: the link n1–n4 is reset (closed, refused) and restored every `T/4` (500 ms)
//!   for `10 T` (20 s); then it stays up.
//!
//! Each node process prints a line whenever its quorum state, its quorum side or its last
//! decision changes, stamped with `CLOCK_MONOTONIC` (one clock for every process of the
//! machine). From those timelines the child computes:
//! - `minority_read_only_after`: ms from the cut until the last node of the minority refuses
//!   writes (flapping: until n4, the younger end of the link, first refuses them);
//! - `agreed_after`: ms from the cut until every node's last decision is the expected one
//!   (each side its own side, keep or down); flapping: from the end of the flapping until every
//!   node decided to keep the whole cluster;
//! - `writable_after_heal`: ms from the heal (end of flapping) until every node is quorate;
//! - `double_quorate`: 10 ms samples, from the cut until everyone is quorate again after the
//!   heal, in which two nodes were both quorate while each counted the other out of its side
//!   (two sides quorate at once); must be 0.

use crate::{Counts, Metrics};
use actor_cluster::membership::{Membership, MembershipConfig, QuorumState, Verdict};
use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The hidden first argument that makes the bench binary run as a W21 node.
pub const NODE_ARG: &str = "--w21-node";
const N: usize = 5;
const LIMIT: Duration = Duration::from_secs(120);

fn name(i: usize) -> String {
    format!("n{i}@127.0.0.1")
}

/// `CLOCK_MONOTONIC` in ms: the same clock in every process of this machine.
fn mono_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Node numbers in a side (names `n<i>@...`) as a bit mask.
fn mask(names: &[String]) -> u32 {
    names
        .iter()
        .filter_map(|n| n.strip_prefix('n')?.split('@').next()?.parse::<u32>().ok())
        .fold(0, |m, i| m | (1 << i))
}

fn bits(xs: &[usize]) -> u32 {
    xs.iter().fold(0, |m, &i| m | (1 << i))
}

// ---------------------------------------------------------------------------------------------
// The node process.

/// A node: `--w21-node <i> <tick ms> [<name>=<addr>]...` (its seeds). Prints `LISTEN <addr>`,
/// then `S <ms> <state> <side mask> <decision> <decision side mask>` on every change; exits
/// when stdin closes.
pub fn node_main(args: &[String]) -> ExitCode {
    let i: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .expect("node number");
    let tick: u64 = args.get(1).and_then(|a| a.parse().ok()).expect("tick ms");
    let seeds: Vec<(String, SocketAddr)> = args[2..]
        .iter()
        .filter_map(|s| {
            let (n, a) = s.split_once('=')?;
            Some((n.to_string(), a.parse().ok()?))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut cfg = DistConfig::new(Cookie::new("w21").unwrap());
        cfg.tick_time = Duration::from_millis(tick);
        cfg.setup_timeout = Duration::from_millis(tick / 2);
        cfg.backoff = (Duration::from_millis(50), Duration::from_millis(500));
        cfg.transitive = false;
        cfg.auto_connect = false;
        cfg.seeds = seeds;
        let dist = Dist::start(&Node::new(name(i)), cfg).await.expect("listen");
        println!("LISTEN {}", dist.local_addr());
        let m = Membership::start(&dist, MembershipConfig::new().started(i as u64));
        tokio::spawn(async {
            let mut buf = [0u8; 64];
            let mut stdin = tokio::io::stdin();
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            std::process::exit(0);
        });
        let mut last = String::new();
        loop {
            let s = m.status();
            let state = match s.quorum {
                QuorumState::Quorate => "Q",
                QuorumState::Deciding => "D",
                QuorumState::Minority => "M",
            };
            let (verdict, dside) = match &s.decision {
                Some(d) if d.verdict == Verdict::Keep => ("K", mask(&d.side)),
                Some(d) => ("X", mask(&d.side)),
                None => ("-", 0),
            };
            let line = format!("{state} {} {verdict} {dside}", mask(&s.quorum_side));
            if line != last {
                println!("S {} {line}", mono_ms());
                last = line;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Link proxies: a silent cut holds bytes (as TCP retransmission would); a reset closes and
// refuses connections.

#[derive(Clone)]
struct Link {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    down: watch::Sender<bool>,
    reset: watch::Sender<(u64, bool)>,
    target: watch::Sender<Option<SocketAddr>>,
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if flow.wait_for(|f| *f).await.is_err() {
            return;
        }
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if flow.wait_for(|f| *f).await.is_err() || w.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

impl Link {
    async fn start() -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let l = Link {
            addr: listener.local_addr().expect("addr"),
            up: watch::channel(true).0,
            down: watch::channel(true).0,
            reset: watch::channel((0, false)).0,
            target: watch::channel(None).0,
        };
        let s = l.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (gen, refusing) = *s.reset.borrow();
                let target = *s.target.borrow();
                let (false, Some(target)) = (refusing, target) else {
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_r, in_w) = inbound.into_split();
                    let (out_r, out_w) = outbound.into_split();
                    let a = tokio::spawn(pump(in_r, out_w, s.up.subscribe()));
                    let b = tokio::spawn(pump(out_r, in_w, s.down.subscribe()));
                    let _ = s.reset.subscribe().wait_for(|(g, _)| *g != gen).await;
                    a.abort();
                    b.abort();
                });
            }
        });
        l
    }
    fn cut(&self, up: bool, down: bool) {
        self.up.send_replace(!up);
        self.down.send_replace(!down);
    }
    fn reset(&self) {
        self.reset.send_modify(|(g, r)| {
            *g += 1;
            *r = true;
        });
    }
    fn heal(&self) {
        self.cut(false, false);
        self.reset.send_modify(|(_, r)| *r = false);
    }
}

// ---------------------------------------------------------------------------------------------
// The driver.

/// One node's line: time, state, quorum side, verdict, decision side.
#[derive(Clone, Copy, Debug)]
struct Entry {
    t: u64,
    quorate: bool,
    side: u32,
    verdict: u8,
    dside: u32,
}

type Timelines = Arc<Mutex<BTreeMap<usize, Vec<Entry>>>>;

struct Cluster {
    _procs: Vec<Child>,
    links: BTreeMap<(usize, usize), Link>,
    lines: Timelines,
}

impl Cluster {
    async fn start(tick: Duration) -> Cluster {
        let mut links = BTreeMap::new();
        for i in 1..=N {
            for j in i + 1..=N {
                links.insert((i, j), Link::start().await);
            }
        }
        let lines: Timelines = Arc::default();
        let exe = std::env::current_exe().expect("own path");
        let mut procs = Vec::new();
        for i in 1..=N {
            let mut args = vec![
                NODE_ARG.to_string(),
                i.to_string(),
                tick.as_millis().to_string(),
            ];
            for j in i + 1..=N {
                args.push(format!("{}={}", name(j), links[&(i, j)].addr));
            }
            let mut child = Command::new(&exe)
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start node process");
            let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
            let first = out.next_line().await.ok().flatten().expect("LISTEN line");
            let addr: SocketAddr = first
                .strip_prefix("LISTEN ")
                .and_then(|a| a.trim().parse().ok())
                .expect("LISTEN <addr>");
            for k in 1..i {
                links[&(k, i)].target.send_replace(Some(addr));
            }
            let l = lines.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = out.next_line().await {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() != 6 || f[0] != "S" {
                        continue;
                    }
                    let e = Entry {
                        t: f[1].parse().unwrap_or(0),
                        quorate: f[2] == "Q",
                        side: f[3].parse().unwrap_or(0),
                        verdict: f[4].as_bytes()[0],
                        dside: f[5].parse().unwrap_or(0),
                    };
                    l.lock().entry(i).or_default().push(e);
                }
            });
            procs.push(child);
        }
        Cluster {
            _procs: procs,
            links,
            lines,
        }
    }

    fn link(&self, a: usize, b: usize) -> &Link {
        &self.links[&(a.min(b), a.max(b))]
    }

    /// Each node's last entry.
    fn now(&self) -> BTreeMap<usize, Entry> {
        self.lines
            .lock()
            .iter()
            .filter_map(|(i, v)| Some((*i, *v.last()?)))
            .collect()
    }

    /// Polls until `cond` holds for the nodes' last entries; the time (ms) when it first did.
    async fn until(&self, what: &str, cond: impl Fn(&BTreeMap<usize, Entry>) -> bool) -> u64 {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let now = self.now();
            if now.len() == N && cond(&now) {
                return now.values().map(|e| e.t).max().unwrap_or(0);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "W21: {what} not reached"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn whole(&self) -> u64 {
        let all = bits(&[1, 2, 3, 4, 5]);
        self.until("whole and quorate", |n| {
            n.values()
                .all(|e| e.quorate && e.side == all && e.verdict == b'K' && e.dside == all)
        })
        .await
    }

    /// 10 ms samples in [from, to] in which two nodes were quorate, each counting the other out.
    fn double_quorate(&self, from: u64, to: u64) -> u64 {
        let lines = self.lines.lock();
        let at = |i: usize, t: u64| -> Option<Entry> {
            lines
                .get(&i)?
                .iter()
                .take_while(|e| e.t <= t)
                .last()
                .copied()
        };
        let mut bad = 0;
        let mut t = from;
        while t <= to {
            let es: Vec<(usize, Entry)> = (1..=N).filter_map(|i| Some((i, at(i, t)?))).collect();
            let double = es.iter().any(|(x, ex)| {
                es.iter().any(|(y, ey)| {
                    ex.quorate && ey.quorate && ex.side & (1 << y) == 0 && ey.side & (1 << x) == 0
                })
            });
            bad += double as u64;
            t += 10;
        }
        bad
    }

    /// First time at or after `from` at which node `i` was not quorate.
    fn first_refusal(&self, i: usize, from: u64) -> Option<u64> {
        let lines = self.lines.lock();
        let v = lines.get(&i)?;
        // Not quorate already at `from`?
        if v.iter()
            .take_while(|e| e.t <= from)
            .last()
            .is_some_and(|e| !e.quorate)
        {
            return Some(from);
        }
        v.iter().find(|e| e.t >= from && !e.quorate).map(|e| e.t)
    }
}

/// Which W21 scenario.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scenario {
    /// {1,2,3} | {4,5}, silent.
    Silent,
    /// n1 -> n4 silently dropped.
    OneWay,
    /// n1–n4 reset and restored every T/4 for 10 T.
    Flapping,
}

/// W21 for one scenario.
pub async fn w21_split_brain(c: Counts, s: Scenario) -> Metrics {
    let tick = c.tick;
    let cl = Cluster::start(tick).await;
    cl.whole().await;
    let ms = |d: u64| d as f64;
    match s {
        Scenario::Silent | Scenario::OneWay => {
            let (major, minor): (&[usize], &[usize]) = if s == Scenario::Silent {
                (&[1, 2, 3], &[4, 5])
            } else {
                (&[1, 2, 3, 5], &[4])
            };
            let t_cut = mono_ms();
            if s == Scenario::Silent {
                for &a in major {
                    for &b in minor {
                        cl.link(a, b).cut(true, true);
                    }
                }
            } else {
                // n1 dials n4: the dialler-to-target direction.
                cl.link(1, 4).cut(true, false);
            }
            let ma = bits(major);
            let t_agreed = cl
                .until("sides agreed", |n| {
                    n.iter().all(|(i, e)| {
                        if ma & (1 << i) != 0 {
                            e.verdict == b'K' && e.dside == ma
                        } else {
                            // A dropped node's own decision names itself alone.
                            e.verdict == b'X' && e.dside & (1 << i) != 0 && e.dside & ma == 0
                        }
                    })
                })
                .await;
            let read_only = minor
                .iter()
                .filter_map(|&i| cl.first_refusal(i, t_cut))
                .max()
                .unwrap_or(t_cut);
            tokio::time::sleep(tick).await;
            let t_heal = mono_ms();
            for l in cl.links.values() {
                l.heal();
            }
            let t_whole = cl.whole().await;
            vec![
                (
                    "minority_read_only_after",
                    ms(read_only.saturating_sub(t_cut)),
                ),
                ("agreed_after", ms(t_agreed.saturating_sub(t_cut))),
                ("writable_after_heal", ms(t_whole.saturating_sub(t_heal))),
                ("double_quorate", cl.double_quorate(t_cut, t_whole) as f64),
            ]
        }
        Scenario::Flapping => {
            let link = cl.link(1, 4).clone();
            let t_start = mono_ms();
            let period = tick / 4;
            let mut k = 0u32;
            while mono_ms() < t_start + (tick * 10).as_millis() as u64 {
                if k.is_multiple_of(2) {
                    link.reset();
                } else {
                    link.heal();
                }
                k += 1;
                tokio::time::sleep(period).await;
            }
            link.heal();
            let t_end = mono_ms();
            let t_whole = cl.whole().await;
            let read_only = cl.first_refusal(4, t_start).unwrap_or(t_end);
            vec![
                (
                    "minority_read_only_after",
                    ms(read_only.saturating_sub(t_start)),
                ),
                ("agreed_after", ms(t_whole.saturating_sub(t_end))),
                ("writable_after_heal", ms(t_whole.saturating_sub(t_end))),
                ("double_quorate", cl.double_quorate(t_start, t_whole) as f64),
            ]
        }
    }
}
