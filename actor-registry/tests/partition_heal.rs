//! A partition made with proxies: A is cut off from B and C, the same name is registered on
//! both sides, and after the heal exactly one holder survives everywhere and the loser is
//! told (by exit, or by a callback, as configured; with the default or a custom resolver).
mod common;
use actor_core::{ExitReason, NodeId, Pid};
use actor_dist::DistConfig;
use actor_registry::{GlobalConfig, GlobalStats, Key, Kind, NameConflict, OnConflict};
use common::cluster::{config, eventually, member_with, synced, Member, Proxy, SCOPE, T};
use common::spawn;
use std::sync::Arc;
use tokio::sync::mpsc;

/// B and C connected directly; A reaches each through its own proxy, and only A dials
/// (no transitive or automatic connections, so the partition cannot be bypassed).
async fn split_cluster(g: GlobalConfig) -> (Vec<Member>, Proxy, Proxy) {
    let quiet = |cfg: DistConfig| {
        let mut cfg = cfg;
        cfg.transitive = false;
        cfg.auto_connect = false;
        cfg
    };
    let b = member_with("b@127.0.0.1", quiet(config()), g.clone()).await;
    let c = member_with("c@127.0.0.1", quiet(config()), g.clone()).await;
    let to_b = Proxy::start(b.dist.local_addr()).await;
    let to_c = Proxy::start(c.dist.local_addr()).await;
    let a_cfg = quiet(config())
        .seed(b.name(), to_b.addr)
        .seed(c.name(), to_c.addr);
    let a = member_with("a@127.0.0.1", a_cfg, g).await;
    b.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    let ms = vec![a, b, c];
    for m in &ms {
        synced(m, 2).await;
    }
    (ms, to_b, to_c)
}

async fn partition(ms: &[Member], to_b: &Proxy, to_c: &Proxy) {
    to_b.partition();
    to_c.partition();
    synced(&ms[0], 0).await;
    synced(&ms[1], 1).await;
    synced(&ms[2], 1).await;
}

async fn heal(ms: &[Member], to_b: &Proxy, to_c: &Proxy) {
    to_b.heal();
    to_c.heal();
    for m in ms {
        synced(m, 2).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_heal_one_holder_survives_and_the_loser_exits() {
    let (ms, to_b, to_c) = split_cluster(GlobalConfig::new(SCOPE)).await;
    partition(&ms, &to_b, &to_c).await;

    // Both sides take the same name. The two registrations are concurrent (neither side
    // knows of the other's), so the stamps order them: B's side registers a few other names
    // first, so B's clock is ahead and A's holder is the logically earlier registration.
    let on_a = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, "primary", on_a.pid(), "a")
        .unwrap();
    let on_b = spawn(ms[1].node()).await;
    for i in 0..3 {
        ms[1]
            .global
            .register(Kind::Name, ("busy", i), on_b.pid(), ())
            .unwrap();
    }
    ms[1]
        .global
        .register(Kind::Name, "primary", on_b.pid(), "b")
        .unwrap();
    ms[2].global.await_name("primary", T).await.unwrap();
    // Names only one side has survive the heal untouched.
    let only_c = spawn(ms[2].node()).await;
    ms[2]
        .global
        .register(Kind::Name, "only_c", only_c.pid(), ())
        .unwrap();
    let key = Key::from("primary");
    assert_eq!(ms[0].global.where_(&key), Some(on_a.pid()));
    assert_eq!(ms[2].global.where_(&key), Some(on_b.pid()));

    let loser_exit = ms[1].node().wait_exit(on_b.pid());
    heal(&ms, &to_b, &to_c).await;

    // The default resolver keeps the logically earlier registration, on every node.
    assert_eq!(
        tokio::time::timeout(T, loser_exit).await.unwrap(),
        ExitReason::error(actor_core::Term::atom("name_conflict"))
    );
    for m in &ms {
        eventually(|| m.global.where_(&key) == Some(on_a.pid())).await;
        assert_eq!(m.global.await_name("only_c", T).await, Ok(only_c.pid()));
        assert_eq!(
            m.global.lookup_value(Kind::Name, &key),
            Ok(actor_registry::Value::from("a"))
        );
    }
    assert!(ms[0].node().is_alive(on_a.pid()));
    let conflicts: u64 = ms
        .iter()
        .map(|m| GlobalStats::get(&m.global.stats().conflicts))
        .sum();
    assert!(
        conflicts >= 2,
        "each side met the other's holder: {conflicts}"
    );
    for m in &ms {
        assert_eq!(GlobalStats::get(&m.global.stats().malformed), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_resolver_and_a_notified_loser() {
    // Prefer the holder on node "b"; the loser is told by a callback on its own node.
    let b_id = NodeId::from_name("b@127.0.0.1");
    let (tx, mut told) = mpsc::unbounded_channel::<NameConflict>();
    let g = GlobalConfig::new(SCOPE)
        .resolver(move |_key, x, y| if y.pid.node == b_id { y.pid } else { x.pid })
        .on_conflict(OnConflict::Notify(Arc::new(move |c| {
            let _ = tx.send(c);
        })));
    let (ms, to_b, to_c) = split_cluster(g).await;
    partition(&ms, &to_b, &to_c).await;

    let on_a = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, "lock", on_a.pid(), ())
        .unwrap();
    ms[0]
        .global
        .register(Kind::Name, "a_only", on_a.pid(), ())
        .unwrap();
    let on_b = spawn(ms[1].node()).await;
    ms[1]
        .global
        .register(Kind::Name, "lock", on_b.pid(), ())
        .unwrap();
    heal(&ms, &to_b, &to_c).await;

    // A's holder lost, although it registered first; it was told once, and lives on.
    let c = tokio::time::timeout(T, told.recv()).await.unwrap().unwrap();
    assert_eq!(
        c,
        NameConflict {
            kind: Kind::Name,
            key: Key::from("lock"),
            loser: on_a.pid(),
            winner: on_b.pid(),
            both_lost: false,
        }
    );
    for m in &ms {
        eventually(|| m.global.where_(&Key::from("lock")) == Some(on_b.pid())).await;
        assert_eq!(m.global.await_name("a_only", T).await, Ok(on_a.pid()));
    }
    assert!(ms[0].node().is_alive(on_a.pid()));
    assert_eq!(
        ms[0].global.keys_of(on_a.pid()),
        vec![(Kind::Name, Key::from("a_only"))]
    );
    assert!(told.try_recv().is_err(), "the loser is told once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_the_far_side_vanish_during_the_partition_and_return_after() {
    let (ms, to_b, to_c) = split_cluster(GlobalConfig::new(SCOPE)).await;
    let on_a = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, "svc", on_a.pid(), ())
        .unwrap();
    ms[0].global.join("pool", [on_a.pid()]).unwrap();
    ms[1].global.await_name("svc", T).await.unwrap();
    let mut watch = ms[1].global.monitor(Kind::Name, "svc");
    assert_eq!(watch.holders, vec![on_a.pid()]);
    partition(&ms, &to_b, &to_c).await;
    for m in &ms[1..] {
        eventually(|| m.global.where_(&Key::from("svc")).is_none()).await;
        assert!(m.global.members(&Key::from("pool")).is_empty());
    }
    heal(&ms, &to_b, &to_c).await;
    let members = |m: &Member| -> Vec<Pid> { m.global.members(&Key::from("pool")) };
    for m in &ms {
        assert_eq!(m.global.await_name("svc", T).await, Ok(on_a.pid()));
        eventually(|| members(m) == vec![on_a.pid()]).await;
    }
    // B's monitor saw it go (noconnection) and come back.
    let mut changes = Vec::new();
    while changes.len() < 2 {
        let ev = tokio::time::timeout(T, watch.recv())
            .await
            .unwrap()
            .unwrap();
        changes.push(ev.change);
    }
    assert_eq!(
        changes,
        vec![
            actor_registry::Change::Exited(ExitReason::NoConnection),
            actor_registry::Change::Registered
        ]
    );
}

/// A partial mesh (the shape a one-way cut leaves: A and B cannot reach each other, both
/// still reach C): the two holders' nodes never meet, so C, which sees both, settles the
/// name and tells the loser's node. One holder while the fault lasts, not only after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_mesh_settles_a_name_while_the_cut_lasts() {
    let (ms, to_b, _to_c) = split_cluster(GlobalConfig::new(SCOPE)).await;
    // Only A <-> B is cut; A <-> C and B <-> C stay up.
    to_b.partition();
    synced(&ms[0], 1).await;
    synced(&ms[1], 1).await;
    synced(&ms[2], 2).await;

    let on_a = spawn(ms[0].node()).await;
    let on_b = spawn(ms[1].node()).await;
    // B's clock runs ahead: A's registration is the logically earlier one and wins.
    for i in 0..3 {
        ms[1]
            .global
            .register(Kind::Name, ("busy", i), on_b.pid(), ())
            .unwrap();
    }
    let loser_exit = ms[1].node().wait_exit(on_b.pid());
    ms[0]
        .global
        .register(Kind::Name, "primary", on_a.pid(), "a")
        .unwrap();
    ms[1]
        .global
        .register(Kind::Name, "primary", on_b.pid(), "b")
        .unwrap();
    assert_eq!(
        tokio::time::timeout(T, loser_exit).await.unwrap(),
        ExitReason::error(actor_core::Term::atom("name_conflict")),
        "B's holder is told by way of C while A and B cannot talk"
    );
    let key = Key::from("primary");
    for m in &ms {
        eventually(|| m.global.where_(&key) != Some(on_b.pid())).await;
    }
    assert_eq!(ms[0].global.where_(&key), Some(on_a.pid()));
    assert_eq!(ms[2].global.where_(&key), Some(on_a.pid()));
    assert_eq!(ms[1].global.where_(&key), None, "B does not see A's holder");
    assert!(ms[0].node().is_alive(on_a.pid()));
}

/// A real one-way cut: A's packets reach B, B's never reach A (the proxy drops them without
/// closing anything). A stops hearing B, declares it down and cannot reconnect while the cut
/// lasts; C still hears both. The same name taken on A and on B ends with one holder while
/// the cut lasts, settled through C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_cut_leaves_one_holder_while_it_lasts() {
    use common::cluster::OneWayProxy;
    let quiet = |cfg: DistConfig| {
        let mut cfg = cfg;
        cfg.transitive = false;
        cfg.auto_connect = false;
        cfg
    };
    let g = GlobalConfig::new(SCOPE);
    let b = member_with("b@127.0.0.1", quiet(config()), g.clone()).await;
    let c = member_with("c@127.0.0.1", quiet(config()), g.clone()).await;
    let to_b = OneWayProxy::start(b.dist.local_addr()).await;
    let a = member_with("a@127.0.0.1", quiet(config()).seed(b.name(), to_b.addr), g).await;
    a.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    b.dist.connect(c.name(), c.dist.local_addr()).await.unwrap();
    synced(&a, 2).await;
    synced(&b, 2).await;
    synced(&c, 2).await;

    let mut a_events = a.dist.subscribe();
    to_b.cut();
    // A stops hearing B (net tick) and drops it; B then sees the connection end.
    loop {
        let ev = tokio::time::timeout(T, a_events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(&ev, actor_dist::NodeEvent::Down { node, .. } if node == b.name()) {
            break;
        }
    }
    synced(&a, 1).await;
    synced(&b, 1).await;
    synced(&c, 2).await;

    let on_a = spawn(a.node()).await;
    let on_b = spawn(b.node()).await;
    for i in 0..3 {
        b.global
            .register(Kind::Name, ("busy", i), on_b.pid(), ())
            .unwrap();
    }
    let loser_exit = b.node().wait_exit(on_b.pid());
    a.global
        .register(Kind::Name, "primary", on_a.pid(), ())
        .unwrap();
    b.global
        .register(Kind::Name, "primary", on_b.pid(), ())
        .unwrap();
    assert_eq!(
        tokio::time::timeout(T, loser_exit).await.unwrap(),
        ExitReason::error(actor_core::Term::atom("name_conflict"))
    );
    let key = Key::from("primary");
    eventually(|| c.global.where_(&key) == Some(on_a.pid())).await;
    assert_eq!(a.global.where_(&key), Some(on_a.pid()));
    assert!(
        a.dist.nodes().iter().all(|n| n != b.name()),
        "the cut still lasts"
    );
}
