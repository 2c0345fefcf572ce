//! `demo`: the governors on a three-node cluster of OS processes on loopback, with a node
//! cut off in a partition and then a node killed with SIGKILL.
//!
//! Run with `cargo run --release -p examples --bin demo`. No set-up: this process is node `a`
//! and drives the script; it starts `b` and `c` as child processes of its own binary, each
//! with its own journal in a temporary directory, and every governor's receipts replicated on
//! all three (the replicated log: a write needs two of three). The timeline:
//!
//! 1. governors of three tenants placed by the entity layer (least-loaded nodes);
//! 2. grants, invoices, payments and usage flowing;
//! 3. a partition: one child cut off (rpc `demo.isolate`), a write on it refused (no
//!    quorum), the same governor served by the majority; the heal and the time until the
//!    cut-off node serves again;
//! 4. the child hosting the most governors killed with SIGKILL: each of its governors
//!    answering again from a survivor (RTO per key), their state and every receipt written
//!    before the kill still there;
//! 5. a receipt query per tenant.
//!
//! Lines start with `[t+seconds]`; facts are `key=value` words (`rto_p50_ms=...`,
//! `receipts_intact=true`, `minority_write_refused=true`, ...); the last line is
//! `demo_ok=true|false`, and the exit status is 0 only if every fact held. The demo gives up
//! after 60 s (exit 2). `tests/demo.rs` runs it and checks the facts.
//!
//! `demo --node <name>` runs the older accounts node that `tests/os_processes.rs` uses.

use actor_core::NodeId;
use actor_dist::NodeEvent;
use examples::cluster3::{
    child_args, child_main, fresh_cookie, start_cluster, ClusterNode, CONNECT_RPC, ISOLATE_RPC,
    NODES, NODES_RPC, TENANTS,
};
use examples::governors::billing::{self, Billing};
use examples::governors::entitlement::{self, Entitlement};
use examples::governors::quota::{self, Quota};
use examples::governors::{GovernorError, Governors};
use examples::run_node_process;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Per attempt of a governor call.
const CALL: Duration = Duration::from_secs(3);
/// How long any one step may take before the demo calls it failed.
const STEP: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Gov {
    Entitlement,
    Billing,
    Quota,
}

impl Gov {
    fn kind(self) -> &'static str {
        match self {
            Gov::Entitlement => "entitlement",
            Gov::Billing => "billing",
            Gov::Quota => "quota",
        }
    }

    fn key(self, tenant: &str) -> String {
        match self {
            Gov::Entitlement => format!("{tenant}/pro"),
            Gov::Billing => format!("{tenant}/main"),
            Gov::Quota => format!("{tenant}/api"),
        }
    }
}

/// The governors of the demo: three per tenant.
fn all_govs() -> Vec<(Gov, String)> {
    TENANTS
        .iter()
        .flat_map(|t| [Gov::Entitlement, Gov::Billing, Gov::Quota].map(|g| (g, g.key(t))))
        .collect()
}

/// A governor's state and data, read through its activation (writes nothing).
async fn status(govs: &Governors, g: Gov, key: &str) -> Result<String, GovernorError> {
    Ok(match g {
        Gov::Entitlement => {
            let v = govs
                .call::<Entitlement, _>(key, entitlement::Cmd::Status, CALL)
                .await?;
            format!("{:?}", v.state)
        }
        Gov::Billing => {
            let v = govs
                .call::<Billing, _>(key, billing::Cmd::Status, CALL)
                .await?;
            format!(
                "{:?} due={} paid={}",
                v.state, v.data.due, v.data.paid_total
            )
        }
        Gov::Quota => {
            let v = govs.call::<Quota, _>(key, quota::Cmd::Status, CALL).await?;
            format!("{:?} used={}", v.state, v.data.used)
        }
    })
}

/// A write of 1 (billing: invoice, quota: usage; entitlement: a read) through `a`.
async fn write(govs: &Governors, g: Gov, key: &str) -> Result<String, GovernorError> {
    match g {
        Gov::Billing => {
            let v = govs
                .call::<Billing, _>(key, billing::Cmd::Invoice { amount: 1 }, CALL)
                .await?;
            Ok(format!("{:?} due={}", v.state, v.data.due))
        }
        Gov::Quota => {
            let usage = quota::Cmd::Usage {
                window: None,
                amount: 1,
            };
            let v = govs.call::<Quota, _>(key, usage, CALL).await?;
            Ok(format!("{:?} used={}", v.state, v.data.used))
        }
        Gov::Entitlement => status(govs, g, key).await,
    }
}

/// The node hosting `g`/`key` now, as seen from `a`'s registry.
fn host(a: &ClusterNode, g: Gov, key: &str) -> Option<&'static str> {
    let pid = a.entities.whereis(g.kind(), key)?;
    NODES
        .iter()
        .copied()
        .find(|n| NodeId::from_name(n) == pid.node)
}

fn short(node: &str) -> &str {
    node.split('@').next().unwrap_or(node)
}

struct Timeline(Instant);

impl Timeline {
    fn say(&self, msg: impl AsRef<str>) {
        println!(
            "[t+{:.2}s] {}",
            self.0.elapsed().as_secs_f64(),
            msg.as_ref()
        );
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// Receipt ids per tenant, read from node `a`.
async fn receipt_ids(a: &ClusterNode) -> Result<BTreeMap<String, BTreeSet<u128>>, String> {
    let mut out = BTreeMap::new();
    for t in TENANTS {
        let rs = a
            .entities
            .receipts_by_tenant(t, 0..u64::MAX, 10_000)
            .await
            .map_err(|e| e.to_string())?;
        out.insert(t.to_string(), rs.iter().map(|r| r.id).collect());
    }
    Ok(out)
}

/// Waits for `node` to go down in `events`, at most `within`.
async fn await_down(
    events: &mut tokio::sync::mpsc::Receiver<NodeEvent>,
    node: &str,
    within: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(NodeEvent::Down { node: n, .. })) if n == node => return true,
            Ok(Some(_)) => continue,
            _ => return false,
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 3 && args[1] == "--node" {
        return run_node_process(&args[2], Duration::from_secs(2)).await;
    }
    if let Some((name, dir)) = child_args(&args) {
        return child_main(&name, &dir).await;
    }
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        println!("demo_ok=false reason=gave_up_after_60s");
        std::process::exit(2);
    });
    let code = match run().await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            println!("demo_ok=false error={e:?}");
            1
        }
    };
    std::process::exit(code);
}

async fn run() -> Result<bool, String> {
    let tl = Timeline(Instant::now());
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cookie = fresh_cookie();
    let (a, mut children) = start_cluster(&cookie, root.path()).await;
    tl.say(format!(
        "cluster up: a (this process, pid {}), b (pid {}), c (pid {}) on 127.0.0.1; \
         every governor's receipts on 3 replicas, a write needs 2",
        std::process::id(),
        children[0].pid(),
        children[1].pid()
    ));

    // 1. Placement: the first call to each governor activates it where placement says.
    tl.say("1. governors placed by the entity layer (least-loaded node):");
    for t in TENANTS {
        let ek = Gov::Entitlement.key(t);
        a.govs
            .call::<Entitlement, _>(&ek, entitlement::Cmd::Grant, CALL)
            .await
            .map_err(|e| format!("grant {ek}: {e}"))?;
        let bk = Gov::Billing.key(t);
        a.govs
            .call::<Billing, _>(&bk, billing::Cmd::Invoice { amount: 500 }, CALL)
            .await
            .map_err(|e| format!("invoice {bk}: {e}"))?;
        let qk = Gov::Quota.key(t);
        let usage = quota::Cmd::Usage {
            window: None,
            amount: 100,
        };
        a.govs
            .call::<Quota, _>(&qk, usage, CALL)
            .await
            .map_err(|e| format!("usage {qk}: {e}"))?;
        let at = |g: Gov| host(&a, g, &g.key(t)).map(short).unwrap_or("?");
        tl.say(format!(
            "   {t:<8} entitlement@{} billing@{} quota@{}",
            at(Gov::Entitlement),
            at(Gov::Billing),
            at(Gov::Quota)
        ));
    }
    let placed = all_govs().iter().filter_map(|(g, k)| host(&a, *g, k)).fold(
        BTreeMap::<&str, usize>::new(),
        |mut m, n| {
            *m.entry(short(n)).or_default() += 1;
            m
        },
    );
    tl.say(format!(
        "   placed={}",
        placed
            .iter()
            .map(|(n, c)| format!("{n}:{c}"))
            .collect::<Vec<_>>()
            .join(",")
    ));

    // 2. Traffic.
    tl.say("2. grants, charges and usage:");
    for t in TENANTS {
        let e = a
            .govs
            .call::<Entitlement, _>(&Gov::Entitlement.key(t), entitlement::Cmd::Approve, CALL)
            .await
            .map_err(|e| format!("approve: {e}"))?;
        a.govs
            .call::<Billing, _>(
                &Gov::Billing.key(t),
                billing::Cmd::Pay { amount: 200 },
                CALL,
            )
            .await
            .map_err(|e| format!("pay: {e}"))?;
        let b = a
            .govs
            .call::<Billing, _>(
                &Gov::Billing.key(t),
                billing::Cmd::Invoice { amount: 50 },
                CALL,
            )
            .await
            .map_err(|e| format!("invoice: {e}"))?;
        let usage = quota::Cmd::Usage {
            window: None,
            amount: 150,
        };
        let q = a
            .govs
            .call::<Quota, _>(&Gov::Quota.key(t), usage, CALL)
            .await
            .map_err(|e| format!("usage: {e}"))?;
        tl.say(format!(
            "   {t:<8} grant+approve -> {:?} | invoice 500, pay 200, invoice 50 -> {:?} due={} paid={} | usage 100+150 -> {:?} used={}",
            e.state, b.state, b.data.due, b.data.paid_total, q.state, q.data.used
        ));
    }
    let bad = a
        .govs
        .call::<Billing, _>(
            &Gov::Billing.key(TENANTS[0]),
            billing::Cmd::Pay { amount: -5 },
            CALL,
        )
        .await;
    tl.say(format!(
        "   bad input is a typed error, no receipt: pay -5 -> {}",
        bad.err().map(|e| format!("{e:?}")).unwrap_or_default()
    ));

    // 3. Partition: the child hosting the most governors is cut off.
    let count_on = |node: &str| {
        all_govs()
            .iter()
            .filter(|(g, k)| host(&a, *g, k) == Some(node))
            .count()
    };
    let iso = if count_on(NODES[1]) > count_on(NODES[2]) {
        0
    } else {
        1
    };
    let other = 1 - iso;
    let iso_name = children[iso].name.clone();
    // A governor living on the cut-off node (billing or quota: the child can write to
    // those), else any billing governor (activated anew there, or refused).
    let (mgov, minority_key) = all_govs()
        .into_iter()
        .find(|(g, k)| *g != Gov::Entitlement && host(&a, *g, k) == Some(NODES[iso + 1]))
        .unwrap_or_else(|| (Gov::Billing, Gov::Billing.key(TENANTS[0])));
    let mkind = mgov.kind();
    tl.say(format!(
        "3. partition: {} (hosting {} governors) cut off from the other two (rpc demo.isolate)",
        short(&iso_name),
        count_on(&iso_name)
    ));
    let mut events = a.dist.subscribe();
    let _ = a
        .dist
        .call::<(), ()>(&iso_name, ISOLATE_RPC, &(), Duration::from_secs(2))
        .await;
    if !await_down(&mut events, &iso_name, STEP).await {
        return Err(format!("no nodedown for {iso_name}"));
    }
    let deadline = Instant::now() + STEP;
    loop {
        let seen: Vec<String> = a
            .dist
            .call(&children[other].name, NODES_RPC, &(), CALL)
            .await
            .map_err(|e| format!("nodes of {}: {e}", children[other].name))?;
        if !seen.contains(&iso_name) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{} still sees {iso_name}", children[other].name));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t_part = Instant::now();
    tl.say(format!(
        "   partitioned: a sees {:?}; {} alone is a minority (1 of 3 replicas)",
        a.dist.nodes(),
        short(&iso_name)
    ));
    let minority = children[iso]
        .write(mkind, &minority_key, STEP)
        .await
        .unwrap_or_else(|| "err no answer".into());
    let minority_refused = minority.starts_with("err");
    tl.say(format!(
        "   write on {} to {mkind}/{minority_key}: {minority}",
        short(&iso_name)
    ));
    tl.say(format!(
        "   minority_write_refused={minority_refused} minority_write_ms={}",
        ms(t_part.elapsed())
    ));
    let t_maj = Instant::now();
    let mut majority_ok = false;
    let mut majority_reply = String::new();
    while t_maj.elapsed() < STEP {
        match write(&a.govs, mgov, &minority_key).await {
            Ok(v) => {
                majority_ok = true;
                majority_reply = v;
                break;
            }
            Err(e) => majority_reply = e.to_string(),
        }
    }
    tl.say(format!(
        "   same write on a (majority a+{}): {majority_reply}, now hosted on {}",
        short(&children[other].name),
        host(&a, mgov, &minority_key).map(short).unwrap_or("?")
    ));
    tl.say(format!(
        "   majority_write_ok={majority_ok} majority_write_ms={}",
        ms(t_maj.elapsed())
    ));
    let t_heal = Instant::now();
    tl.say(format!("   heal: reconnecting {}", short(&iso_name)));
    a.dist
        .connect(&iso_name, children[iso].addr)
        .await
        .map_err(|e| format!("reconnect {iso_name}: {e:?}"))?;
    let failed: Vec<String> = a
        .dist
        .call(
            &iso_name,
            CONNECT_RPC,
            &vec![(
                children[other].name.clone(),
                children[other].addr.to_string(),
            )],
            CALL,
        )
        .await
        .map_err(|e| format!("heal rpc: {e}"))?;
    if !failed.is_empty() {
        return Err(format!("heal: {iso_name} could not reach {failed:?}"));
    }
    let _ = a.global.sync(CALL).await;
    let mut served_again = false;
    let mut heal_reply = String::new();
    while t_heal.elapsed() < STEP {
        heal_reply = children[iso]
            .write(mkind, &minority_key, STEP)
            .await
            .unwrap_or_else(|| "err no answer".into());
        if heal_reply.starts_with("ok") {
            served_again = true;
            break;
        }
    }
    tl.say(format!(
        "   write on {} after the heal: {heal_reply}",
        short(&iso_name)
    ));
    tl.say(format!(
        "   served_after_heal={served_again} heal_to_served_ms={}",
        ms(t_heal.elapsed())
    ));

    // 4. SIGKILL the child hosting the most governors now.
    let victim = if count_on(NODES[1]) >= count_on(NODES[2]) {
        0
    } else {
        1
    };
    let victim_name = children[victim].name.clone();
    let mut on_victim: Vec<(Gov, String)> = all_govs()
        .into_iter()
        .filter(|(g, k)| host(&a, *g, k) == Some(victim_name.as_str()))
        .collect();
    if on_victim.is_empty() {
        on_victim = all_govs();
    }
    let mut before = BTreeMap::new();
    for (g, k) in &on_victim {
        before.insert(
            (*g, k.clone()),
            status(&a.govs, *g, k).await.map_err(|e| e.to_string())?,
        );
    }
    let ids_before = receipt_ids(&a).await?;
    tl.say(format!(
        "4. SIGKILL {} (pid {}), hosting {}: {}",
        short(&victim_name),
        children[victim].pid(),
        on_victim.len(),
        on_victim
            .iter()
            .map(|(g, k)| format!("{}/{k}", g.kind()))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let mut events = a.dist.subscribe();
    let t_kill = Instant::now();
    children[victim]
        .process
        .start_kill()
        .map_err(|e| format!("kill: {e}"))?;
    let down_wait = tokio::spawn(async move {
        let got = await_down(&mut events, &victim_name, STEP).await;
        (got, t_kill.elapsed())
    });
    let mut rto = tokio::task::JoinSet::new();
    for (g, k) in on_victim.iter().cloned() {
        let govs = a.govs.clone();
        rto.spawn(async move {
            loop {
                match status(&govs, g, &k).await {
                    Ok(v) => return Some((g, k, t_kill.elapsed(), v)),
                    Err(_) if t_kill.elapsed() < STEP => {
                        tokio::time::sleep(Duration::from_millis(10)).await
                    }
                    Err(_) => return None,
                }
            }
        });
    }
    let mut rtos = Vec::new();
    let mut state_intact = true;
    let mut answered = Vec::new();
    while let Some(r) = rto.join_next().await {
        if let Ok(Some((g, k, d, v))) = r {
            state_intact &= before.get(&(g, k.clone())) == Some(&v);
            rtos.push(d);
            answered.push((g, k, d, v));
        }
    }
    let (down_seen, down_after) = down_wait.await.map_err(|e| e.to_string())?;
    tl.say(format!(
        "   nodedown {} seen={down_seen} after {} ms",
        short(&children[victim].name),
        ms(down_after)
    ));
    answered.sort_by_key(|x| x.2);
    for (g, k, d, v) in &answered {
        tl.say(format!(
            "   {}/{k} answers again on {} after {} ms: {v}",
            g.kind(),
            host(&a, *g, k).map(short).unwrap_or("?"),
            ms(*d)
        ));
    }
    rtos.sort();
    let all_back = rtos.len() == on_victim.len();
    let p50 = rtos
        .get(rtos.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default();
    let max = rtos.last().copied().unwrap_or_default();
    tl.say(format!(
        "   failover_keys={} answered={} rto_p50_ms={} rto_max_ms={}",
        on_victim.len(),
        rtos.len(),
        ms(p50),
        ms(max)
    ));
    let ids_after = receipt_ids(&a).await?;
    let n_before: usize = ids_before.values().map(|s| s.len()).sum();
    let n_after: usize = ids_after.values().map(|s| s.len()).sum();
    let receipts_intact = ids_before
        .iter()
        .all(|(t, ids)| ids_after.get(t).is_some_and(|a| ids.is_subset(a)));
    tl.say(format!(
        "   receipts_intact={receipts_intact} receipts_before_kill={n_before} receipts_now={n_after} state_intact={state_intact}"
    ));

    // 5. Receipts per tenant, from a (a majority node).
    tl.say("5. receipts per tenant (query on a):");
    tl.say(format!(
        "   {:<8} {:>8} {:>12} {:>8} {:>6}  last",
        "tenant", "receipts", "entitlement", "billing", "quota"
    ));
    let mut table_ok = true;
    for t in TENANTS {
        let rs = a
            .entities
            .receipts_by_tenant(t, 0..u64::MAX, 10_000)
            .await
            .map_err(|e| e.to_string())?;
        let of = |k: &str| rs.iter().filter(|r| r.kind == k).count();
        table_ok &= !rs.is_empty();
        let last = rs
            .last()
            .map(|r| {
                format!(
                    "{}/{} {}->{}",
                    r.kind,
                    String::from_utf8_lossy(&r.key),
                    r.from,
                    r.to
                )
            })
            .unwrap_or_default();
        tl.say(format!(
            "   {t:<8} {:>8} {:>12} {:>8} {:>6}  {last}",
            rs.len(),
            of("entitlement"),
            of("billing"),
            of("quota")
        ));
    }

    let ok = minority_refused
        && majority_ok
        && served_again
        && down_seen
        && all_back
        && receipts_intact
        && state_intact
        && table_ok;
    for ch in children.drain(..) {
        ch.stop(Duration::from_secs(3)).await;
    }
    a.dist.shutdown();
    tl.say(format!("demo_ok={ok} total_ms={}", ms(tl.0.elapsed())));
    Ok(ok)
}
