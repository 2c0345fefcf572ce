//! The global scope across three in-process nodes: replication, removal on exit and on
//! nodedown, late joiners, acknowledged registration, taken names, await across nodes.
mod common;
use actor_core::ExitReason;
use actor_registry::{Change, GlobalStats, Key, Kind, Pattern, RegistryError, Value};
use common::cluster::{cluster, eventually, member, synced, T};
use common::{spawn, Msg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_on_a_is_visible_on_b_and_c() {
    let ms = cluster(3).await;
    let w = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, ("account", 1), w.pid(), "gold")
        .unwrap();
    // Visible locally at once.
    assert_eq!(
        ms[0].global.where_(&Key::from(("account", 1))),
        Some(w.pid())
    );
    for m in &ms[1..] {
        let found = m.global.await_name(("account", 1), T).await.unwrap();
        assert_eq!(found, w.pid());
        assert_eq!(
            m.global
                .lookup_value(Kind::Name, &Key::from(("account", 1))),
            Ok(Value::from("gold"))
        );
    }
    // A value change and a property travel too.
    ms[0]
        .global
        .set_value(Kind::Name, ("account", 1), w.pid(), "platinum")
        .unwrap();
    ms[0]
        .global
        .register(Kind::Property, "tier", w.pid(), 3)
        .unwrap();
    for m in &ms[1..] {
        eventually(|| {
            m.global.lookup_values(Kind::Property, &Key::from("tier"))
                == vec![(w.pid(), Value::Int(3))]
        })
        .await;
        assert_eq!(
            m.global
                .lookup_value(Kind::Name, &Key::from(("account", 1))),
            Ok(Value::from("platinum"))
        );
        assert_eq!(
            m.global
                .count(Kind::Name, &Pattern::prefix(&Key::from("account"))),
            1
        );
    }
    // The same name is taken on every node.
    let other = spawn(ms[2].node()).await;
    assert_eq!(
        ms[2]
            .global
            .register(Kind::Name, ("account", 1), other.pid(), ()),
        Err(RegistryError::AlreadyRegistered {
            kind: Kind::Name,
            key: Key::from(("account", 1)),
            holder: w.pid()
        })
    );
    // The local scope of each node is untouched by the global one.
    for m in &ms {
        assert_eq!(GlobalStats::get(&m.global.stats().malformed), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_removes_the_entries_everywhere() {
    let ms = cluster(3).await;
    let w = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, "leader", w.pid(), ())
        .unwrap();
    ms[0]
        .global
        .register(Kind::Property, "shard", w.pid(), 7)
        .unwrap();
    ms[0].global.join("workers", [w.pid()]).unwrap();
    for m in &ms[1..] {
        m.global.await_name("leader", T).await.unwrap();
    }
    let mut watch_b = ms[1].global.monitor(Kind::Name, "leader");
    let mut watch_c = ms[2].global.monitor(Kind::Property, "shard");
    assert_eq!(watch_b.holders, vec![w.pid()]);
    eventually(|| watch_c_holders(&ms[2]) == 1).await;
    let _ = w.tell(Msg::Panic);
    let ev = tokio::time::timeout(T, watch_b.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(ev.change, Change::Exited(ExitReason::Panic(_))),
        "{ev:?}"
    );
    loop {
        let ev = tokio::time::timeout(T, watch_c.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(ev.change, Change::Exited(_)) {
            break;
        }
    }
    for m in &ms {
        eventually(|| {
            m.global.where_(&Key::from("leader")).is_none()
                && m.global
                    .lookup_pids(Kind::Property, &Key::from("shard"))
                    .is_empty()
                && m.global.members(&Key::from("workers")).is_empty()
        })
        .await;
    }
}

fn watch_c_holders(m: &common::cluster::Member) -> usize {
    m.global
        .lookup_pids(Kind::Property, &Key::from("shard"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_purges_its_entries_on_the_others() {
    let ms = cluster(3).await;
    let on_a = spawn(ms[0].node()).await;
    let on_b = spawn(ms[1].node()).await;
    ms[0]
        .global
        .register(Kind::Name, ("svc", "a"), on_a.pid(), ())
        .unwrap();
    ms[0].global.join("all", [on_a.pid()]).unwrap();
    ms[1]
        .global
        .register(Kind::Name, ("svc", "b"), on_b.pid(), ())
        .unwrap();
    for m in &ms {
        m.global.await_name(("svc", "a"), T).await.unwrap();
        m.global.await_name(("svc", "b"), T).await.unwrap();
    }
    let mut watch = ms[2].global.monitor(Kind::Name, ("svc", "a"));
    let mut groups = ms[2].global.monitor_group("all");
    eventually(|| ms[2].global.members(&Key::from("all")) == vec![on_a.pid()]).await;
    // Node A goes away: connections close, its processes die with it.
    ms[0].dist.shutdown();
    ms[0].node().shutdown();
    let ev = tokio::time::timeout(T, watch.recv())
        .await
        .unwrap()
        .unwrap();
    // A's dist is shut down first, so nothing of the kill reaches C: only the nodedown.
    assert_eq!(ev.change, Change::Exited(ExitReason::NoConnection));
    loop {
        let ev = tokio::time::timeout(T, groups.recv())
            .await
            .unwrap()
            .unwrap();
        if ev.pids == vec![on_a.pid()] && ev.change == actor_registry::GroupChange::Left {
            break;
        }
    }
    for m in &ms[1..] {
        eventually(|| m.global.where_(&Key::from(("svc", "a"))).is_none()).await;
        assert!(m.global.members(&Key::from("all")).is_empty());
        // B's own entry is untouched.
        assert_eq!(m.global.where_(&Key::from(("svc", "b"))), Some(on_b.pid()));
        // (The entry may go by A's own exit message before A's connection is seen down.)
        eventually(|| m.global.peers().len() == 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_receives_the_full_state() {
    let ms = cluster(2).await;
    let w = spawn(ms[0].node()).await;
    let v = spawn(ms[1].node()).await;
    ms[0]
        .global
        .register(Kind::Name, "first", w.pid(), 1)
        .unwrap();
    ms[1]
        .global
        .register(Kind::Counter, "jobs", v.pid(), 5)
        .unwrap();
    ms[1]
        .global
        .register(Kind::AggregatedCounter, "jobs", v.pid(), ())
        .unwrap();
    ms[0]
        .global
        .register(Kind::Counter, "jobs", w.pid(), 2)
        .unwrap();
    ms[1].global.join("g", [v.pid(), v.pid()]).unwrap();
    let late = member("late@127.0.0.1").await;
    common::cluster::join_cluster(&late, &[&ms[0], &ms[1]]).await;
    synced(&late, 2).await;
    assert_eq!(late.global.await_name("first", T).await, Ok(w.pid()));
    eventually(|| {
        late.global
            .lookup_value(Kind::AggregatedCounter, &Key::from("jobs"))
            == Ok(Value::Int(7))
            && late.global.members(&Key::from("g")) == vec![v.pid(), v.pid()]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_sync_returns_once_every_peer_has_it() {
    let ms = cluster(3).await;
    for i in 0..50 {
        let w = spawn(ms[0].node()).await;
        ms[0]
            .global
            .register_sync(Kind::Name, ("sync", i), w.pid(), (), T)
            .await
            .unwrap();
        // No waiting: the peers applied it before register_sync returned.
        assert_eq!(ms[1].global.where_(&Key::from(("sync", i))), Some(w.pid()));
        assert_eq!(ms[2].global.where_(&Key::from(("sync", i))), Some(w.pid()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_across_nodes() {
    let ms = cluster(3).await;
    let c = ms[2].global.clone();
    let waiter = tokio::spawn(async move { c.await_name(("job", "x"), T).await });
    // A timeout is a typed error.
    assert!(ms[1]
        .global
        .await_name("never", std::time::Duration::from_millis(20))
        .await
        .is_err());
    let w = spawn(ms[0].node()).await;
    ms[0]
        .global
        .register(Kind::Name, ("job", "x"), w.pid(), ())
        .unwrap();
    assert_eq!(waiter.await.unwrap(), Ok(w.pid()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_processes_cannot_be_registered_here() {
    let ms = cluster(2).await;
    let w = spawn(ms[1].node()).await;
    assert_eq!(
        ms[0].global.register(Kind::Name, "x", w.pid(), ()),
        Err(RegistryError::NotLocal(w.pid()))
    );
    assert_eq!(
        ms[0].global.join("g", [w.pid()]),
        Err(RegistryError::NotLocal(w.pid()))
    );
    // Nor changed here: each node owns its processes' entries.
    ms[1].global.register(Kind::Name, "y", w.pid(), ()).unwrap();
    ms[1]
        .global
        .register(Kind::Counter, "c", w.pid(), 1)
        .unwrap();
    ms[1].global.join("g", [w.pid()]).unwrap();
    ms[0].global.await_name("y", T).await.unwrap();
    let not_local = Err(RegistryError::NotLocal(w.pid()));
    assert_eq!(ms[0].global.unregister(Kind::Name, "y", w.pid()), not_local);
    assert_eq!(
        ms[0].global.set_value(Kind::Name, "y", w.pid(), 3),
        not_local
    );
    assert_eq!(
        ms[0].global.update_counter("c", w.pid(), 1),
        Err(RegistryError::NotLocal(w.pid()))
    );
    assert_eq!(ms[0].global.leave("g", [w.pid()]), not_local);
    assert_eq!(ms[0].global.where_(&Key::from("y")), Some(w.pid()));
    ms[0].global.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_state_arrives_in_chunks() {
    let ms = cluster(1).await;
    let w = spawn(ms[0].node()).await;
    for i in 0..5000 {
        ms[0]
            .global
            .register(Kind::Name, ("bulk", i), w.pid(), i)
            .unwrap();
    }
    ms[0].global.join("bulk", vec![w.pid(); 10]).unwrap();
    let late = member("late@127.0.0.1").await;
    late.dist
        .connect(ms[0].name(), ms[0].dist.local_addr())
        .await
        .unwrap();
    synced(&late, 1).await;
    let all = Pattern::prefix(&Key::from("bulk"));
    eventually(|| late.global.count(Kind::Name, &all) == 5000).await;
    assert_eq!(late.global.members(&Key::from("bulk")).len(), 10);
    assert_eq!(
        late.global
            .lookup_value(Kind::Name, &Key::from(("bulk", 4999))),
        Ok(Value::Int(4999))
    );
    late.global.assert_consistent();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_runs_once_per_node() {
    let ms = cluster(1).await;
    let again = actor_registry::GlobalRegistry::start(
        &ms[0].dist,
        actor_registry::GlobalConfig::new(common::cluster::SCOPE),
    )
    .await;
    assert!(matches!(
        again,
        Err(actor_registry::StartError::AlreadyStarted(_))
    ));
    // Another scope is independent.
    let other = actor_registry::GlobalRegistry::start(
        &ms[0].dist,
        actor_registry::GlobalConfig::new("other"),
    )
    .await
    .unwrap();
    let w = spawn(ms[0].node()).await;
    other.register(Kind::Name, "x", w.pid(), ()).unwrap();
    assert_eq!(ms[0].global.where_(&Key::from("x")), None);
}
