mod common;
use actor_core::{ExitReason, Node};
use actor_registry::{Change, Key, Kind, Pattern, Registry, Value};
use common::{spawn, Msg};

/// Registers one key of every kind for a fresh actor, ends it with `end`, waits for the
/// registry's cleanup (observed through a monitor, no sleeps) and checks nothing is left.
async fn check_cleanup(end: impl FnOnce(&Node, &actor_core::ActorRef<Msg>), expected: ExitReason) {
    let node = Node::new("cleanup@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let survivor = spawn(&node).await;
    let pid = a.pid();
    reg.register(Kind::AggregatedCounter, "c", survivor.pid(), ())
        .unwrap();
    reg.register(Kind::Counter, "c", survivor.pid(), 1).unwrap();
    reg.register(Kind::Name, ("n", 1), pid, ()).unwrap();
    reg.register(Kind::Name, ("n", 2), pid, ()).unwrap();
    reg.register(Kind::Property, "p", pid, ()).unwrap();
    reg.register(Kind::Counter, "c", pid, 10).unwrap();
    assert_eq!(
        reg.lookup_value(Kind::AggregatedCounter, &Key::from("c")),
        Ok(Value::Int(11))
    );

    // Monitor the counter: cleanup of all keys happens in one critical section, so once its
    // event arrives every other entry of the pid is gone too.
    let mut mon = reg.monitor(Kind::Counter, "c");
    end(&node, &a);
    let e = mon.recv().await.unwrap();
    assert_eq!((e.pid, e.change), (pid, Change::Exited(expected)));

    assert_eq!(reg.where_(&Key::from(("n", 1))), None);
    assert_eq!(reg.where_(&Key::from(("n", 2))), None);
    assert!(reg.lookup_pids(Kind::Property, &Key::from("p")).is_empty());
    assert_eq!(
        reg.lookup_value(Kind::AggregatedCounter, &Key::from("c")),
        Ok(Value::Int(1))
    );
    assert!(reg.keys_of(pid).is_empty());
    assert_eq!(reg.count(Kind::Name, &Pattern::all()), 0);
    assert_eq!(reg.list().len(), 2);
    // The name is free again.
    reg.register(Kind::Name, ("n", 1), survivor.pid(), ())
        .unwrap();
}

#[tokio::test]
async fn normal_stop() {
    check_cleanup(
        |_, a| {
            a.tell(Msg::Stop).unwrap();
        },
        ExitReason::Normal,
    )
    .await;
}

#[tokio::test]
async fn external_stop() {
    check_cleanup(
        |_, a| {
            a.stop(ExitReason::Shutdown);
        },
        ExitReason::Shutdown,
    )
    .await;
}

#[tokio::test]
async fn kill() {
    check_cleanup(
        |node, a| node.exit(a.pid(), ExitReason::Kill),
        ExitReason::Killed,
    )
    .await;
}

#[tokio::test]
async fn panic_in_handler() {
    let node = Node::new("cleanup@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    reg.register(Kind::Name, "p", a.pid(), ()).unwrap();
    let mut mon = reg.monitor(Kind::Name, "p");
    a.tell(Msg::Panic).unwrap();
    let e = mon.recv().await.unwrap();
    assert!(matches!(e.change, Change::Exited(_)));
    assert_eq!(reg.where_(&Key::from("p")), None);
}

#[tokio::test]
async fn many_keys_one_watcher_per_pid_and_unregister_all_then_exit() {
    let node = Node::new("cleanup@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    for i in 0..1000 {
        reg.register(Kind::Name, ("k", i), a.pid(), ()).unwrap();
    }
    for i in 0..1000 {
        reg.unregister(Kind::Name, ("k", i), a.pid()).unwrap();
    }
    // Registering again after everything was unregistered still cleans up on exit.
    reg.register(Kind::Name, "last", a.pid(), ()).unwrap();
    let mut mon = reg.monitor(Kind::Name, "last");
    node.shutdown();
    assert_eq!(
        mon.recv().await.unwrap().change,
        Change::Exited(ExitReason::Killed)
    );
    assert!(reg.list().is_empty());
}
