mod common;
use actor_core::{ExitReason, Node};
use actor_registry::{Change, Key, Kind, Registry, Timeout};
use common::spawn;
use std::time::Duration;

#[tokio::test]
async fn await_returns_at_once_when_registered() {
    let node = Node::new("await@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    reg.register(Kind::Name, "ready", a.pid(), ()).unwrap();
    assert_eq!(
        reg.await_name("ready", Duration::from_secs(5)).await,
        Ok(a.pid())
    );
}

#[tokio::test]
async fn await_resolves_on_a_later_registration() {
    let node = Node::new("await@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    // On this single-threaded runtime the yield lets the waiter park first; had it not,
    // it would find the name at once: the outcome is the same either way.
    let r2 = reg.clone();
    let waiter =
        tokio::spawn(async move { r2.await_name(("svc", 7), Duration::from_secs(30)).await });
    tokio::task::yield_now().await;
    reg.register(Kind::Name, ("svc", 7), a.pid(), ()).unwrap();
    assert_eq!(waiter.await.unwrap(), Ok(a.pid()));
}

#[tokio::test]
async fn await_past_the_timeout_is_an_error() {
    let node = Node::new("await@test");
    let reg = Registry::new(&node);
    let err = reg
        .await_name("never", Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Timeout {
            key: Key::from("never"),
            after: Duration::from_millis(100)
        }
    );
    // A timed-out waiter leaves nothing behind that breaks a later registration.
    let a = spawn(&node).await;
    reg.register(Kind::Name, "never", a.pid(), ()).unwrap();
    assert_eq!(
        reg.await_name("never", Duration::from_millis(1)).await,
        Ok(a.pid())
    );
}

#[tokio::test]
async fn monitor_sees_registration_unregistration_and_exit() {
    let node = Node::new("monitor@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    let key = Key::from("leader");
    let mut mon = reg.monitor(Kind::Name, key.clone());
    assert!(mon.holders.is_empty());

    reg.register(Kind::Name, key.clone(), a.pid(), ()).unwrap();
    let e = mon.recv().await.unwrap();
    assert_eq!((e.pid, e.change), (a.pid(), Change::Registered));

    reg.unregister(Kind::Name, key.clone(), a.pid()).unwrap();
    let e = mon.recv().await.unwrap();
    assert_eq!((e.pid, e.change), (a.pid(), Change::Unregistered));

    reg.register(Kind::Name, key.clone(), b.pid(), ()).unwrap();
    assert_eq!(mon.recv().await.unwrap().change, Change::Registered);
    b.stop(ExitReason::Shutdown);
    let e = mon.recv().await.unwrap();
    assert_eq!(
        (e.pid, e.change),
        (b.pid(), Change::Exited(ExitReason::Shutdown))
    );
    assert_eq!(reg.where_(&key), None);
    assert!(mon.try_recv().is_none());

    // A second monitor set now reports the current holders.
    reg.register(Kind::Name, key.clone(), a.pid(), ()).unwrap();
    let mon2 = reg.monitor(Kind::Name, key.clone());
    assert_eq!(mon2.holders, vec![a.pid()]);
}

#[tokio::test]
async fn monitor_a_property() {
    let node = Node::new("monitor@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let mut mon = reg.monitor(Kind::Property, "topic");
    reg.register(Kind::Property, "topic", a.pid(), ()).unwrap();
    let e = mon.recv().await.unwrap();
    assert_eq!(
        (e.kind, e.pid, e.change),
        (Kind::Property, a.pid(), Change::Registered)
    );
}
