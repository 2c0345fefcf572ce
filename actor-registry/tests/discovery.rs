//! Discovery never gives up while two nodes are connected but not peered: here both scopes
//! answer "not running" to every discovery for 30 s (paused time), then become findable,
//! and the replicas peer without any new node event to prompt them.
mod common;
use actor_core::Pid;
use actor_registry::{GlobalConfig, Key, Kind};
use common::cluster::{config, member_with, synced, Member, SCOPE, T};
use common::spawn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Makes `m`'s scope answer "not running" to discovery until `open` is set; counts the
/// questions in `asked`.
async fn gate(m: &Member, open: &Arc<AtomicBool>, asked: &Arc<AtomicU64>) {
    let f = format!("actor_registry.whereis/{SCOPE}");
    let server: Pid = m
        .dist
        .call::<(), Option<Pid>>(m.name(), &f, &(), T)
        .await
        .unwrap()
        .unwrap();
    let (open, asked) = (open.clone(), asked.clone());
    m.dist.register_rpc(&f, move |()| {
        asked.fetch_add(1, Ordering::SeqCst);
        let found = open.load(Ordering::SeqCst).then_some(server);
        async move { found }
    });
}

#[tokio::test]
async fn discovery_succeeds_after_thirty_seconds_of_failed_attempts() {
    // Ticks far apart: the paused clock jumps over idle stretches.
    let mut cfg = config();
    cfg.tick_time = Duration::from_secs(3600);
    let a = member_with("a@127.0.0.1", cfg.clone(), GlobalConfig::new(SCOPE)).await;
    let b = member_with("b@127.0.0.1", cfg, GlobalConfig::new(SCOPE)).await;
    let open = Arc::new(AtomicBool::new(false));
    let asked = Arc::new(AtomicU64::new(0));
    gate(&a, &open, &asked).await;
    gate(&b, &open, &asked).await;
    let on_a = spawn(a.node()).await;
    a.global.register(Kind::Name, "x", on_a.pid(), ()).unwrap();
    a.dist.connect(b.name(), b.dist.local_addr()).await.unwrap();

    tokio::time::pause();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(a.global.peers().is_empty() && b.global.peers().is_empty());
    let before = asked.load(Ordering::SeqCst);
    // Both sides kept asking (the old discovery gave up after ten attempts, or at once on
    // "not running").
    assert!(before > 20, "{before} discovery attempts in 30 s");

    open.store(true, Ordering::SeqCst);
    synced(&a, 1).await;
    synced(&b, 1).await;
    assert_eq!(b.global.await_name("x", T).await, Ok(on_a.pid()));
    assert_eq!(b.global.where_(&Key::from("x")), Some(on_a.pid()));
}
