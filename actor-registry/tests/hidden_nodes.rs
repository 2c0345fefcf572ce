//! Hidden nodes take no part in global scopes unless they opt in: a hidden node's replica is
//! neither discovered nor accepted by visible nodes, and its entries and theirs stay apart;
//! a hidden node that opts in syncs both ways.
mod common;
use actor_registry::{GlobalConfig, GlobalStats, Key, Kind};
use common::cluster::{config, eventually, member_with, synced, SCOPE, T};
use common::spawn;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_node_takes_no_part() {
    let v = member_with("v@127.0.0.1", config(), GlobalConfig::new(SCOPE)).await;
    let h = member_with(
        "h@127.0.0.1",
        config().hidden(true),
        GlobalConfig::new(SCOPE),
    )
    .await;
    let on_v = spawn(v.node()).await;
    v.global.register(Kind::Name, "v", on_v.pid(), ()).unwrap();
    let on_h = spawn(h.node()).await;
    h.global.register(Kind::Name, "h", on_h.pid(), ()).unwrap();
    h.dist.connect(v.name(), v.dist.local_addr()).await.unwrap();

    // The hidden node's discovery reaches the visible one, which refuses it.
    eventually(|| GlobalStats::get(&v.global.stats().hidden_refused) >= 1).await;
    assert!(v.global.peers().is_empty());
    assert!(h.global.peers().is_empty());
    assert_eq!(v.global.where_(&Key::from("h")), None);
    assert_eq!(h.global.where_(&Key::from("v")), None);
    // A change on either side after the refusal does not cross either.
    let later = spawn(v.node()).await;
    v.global
        .register(Kind::Name, "later", later.pid(), ())
        .unwrap();
    assert_eq!(h.global.where_(&Key::from("later")), None);
    assert_eq!(v.global.list().len(), 2);
    assert_eq!(h.global.list().len(), 1);
    // Connected all along, as a hidden node.
    assert!(v.dist.nodes().is_empty());
    assert!(
        h.dist.nodes().is_empty(),
        "its connections are hidden (OTP)"
    );
    assert_eq!(h.dist.nodes_hidden(), vec![v.name().to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_node_that_opts_in_syncs_both_ways() {
    let v = member_with("v@127.0.0.1", config(), GlobalConfig::new(SCOPE)).await;
    let h = member_with(
        "h@127.0.0.1",
        config().hidden(true),
        GlobalConfig::new(SCOPE).take_part_when_hidden(true),
    )
    .await;
    let on_v = spawn(v.node()).await;
    v.global.register(Kind::Name, "v", on_v.pid(), ()).unwrap();
    let on_h = spawn(h.node()).await;
    h.global.register(Kind::Name, "h", on_h.pid(), ()).unwrap();
    h.dist.connect(v.name(), v.dist.local_addr()).await.unwrap();

    synced(&v, 1).await;
    synced(&h, 1).await;
    assert_eq!(v.global.await_name("h", T).await, Ok(on_h.pid()));
    assert_eq!(h.global.await_name("v", T).await, Ok(on_v.pid()));
    assert_eq!(GlobalStats::get(&v.global.stats().hidden_refused), 0);
    // When the hidden node goes, its entries go with it.
    h.dist.disconnect(v.name());
    eventually(|| v.global.where_(&Key::from("h")).is_none()).await;
}
