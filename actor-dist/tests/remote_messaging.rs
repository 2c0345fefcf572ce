//! Location transparency: remote send and call behave like local ones; pids and reply
//! handles inside messages keep working, even forwarded to a third node; per-pair order.
mod common;
use actor_core::{CallError, ExitReason};
use actor_dist::SpawnOnOpts;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tell_and_call_work_like_local_ones() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
    assert_eq!(b.nodes(), vec!["a@127.0.0.1".to_string()]);
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert!(!remote.is_local());
    assert_eq!(remote.call(|r| Cmd::Echo(41, r), T).await, Ok(42));
    for i in 0..1000 {
        remote.tell(Cmd::Note(i)).unwrap();
    }
    let log = remote.call(Cmd::Log, T).await.unwrap();
    assert_eq!(
        log,
        (0..1000).map(Event::Msg).collect::<Vec<_>>(),
        "per-pair order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_handles_forwarded_to_a_third_node_still_reach_the_caller() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let c = start("c@127.0.0.1").await;
    connect(&a, &b).await;
    connect(&a, &c).await;
    connect(&b, &c).await;
    // On b: a forwarder; on c: the echo that answers the caller on a directly.
    let fwd = b
        .spawn_on::<Cmd, _>("b@127.0.0.1", "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    let echo = a
        .spawn_on::<Cmd, _>("c@127.0.0.1", "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    let fwd_from_a = a.actor_ref::<Cmd>(fwd.pid()).unwrap();
    // a -> b (forwarder) -> c (echo) -> reply straight back to the caller on a.
    let res = fwd_from_a.call(|r| Cmd::Forward(echo.pid(), 9, r), T).await;
    assert_eq!(res, Ok(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_to_a_dead_remote_actor_fails_fast() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    remote.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    b.node().wait_exit(on_b.pid()).await;
    let start = std::time::Instant::now();
    let res = remote
        .call(|r| Cmd::Echo(1, r), std::time::Duration::from_secs(30))
        .await;
    assert_eq!(res, Err(CallError::Exit(ExitReason::NoProc)));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "failed fast: {res:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_refs_inside_messages_work_on_the_receiving_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    let c = start("c@127.0.0.1").await;
    connect(&a, &b).await;
    connect(&a, &c).await;
    connect(&b, &c).await;
    let relay_on_b = a
        .actor_ref::<Cmd>(b.node().spawn(Probe::new()).await.unwrap().pid())
        .unwrap();
    let sink_on_c = c.node().spawn(Probe::new()).await.unwrap();
    let sink_on_b = b.node().spawn(Probe::new()).await.unwrap();
    // A reference to an actor on a third node, handed over in a message.
    let to_c = a.actor_ref::<Cmd>(sink_on_c.pid()).unwrap();
    assert_eq!(
        relay_on_b.call(|r| Cmd::Relay(to_c, 7, r), T).await,
        Ok(true)
    );
    // A reference to an actor on the receiving node itself becomes a local one there.
    let to_b = a.actor_ref::<Cmd>(sink_on_b.pid()).unwrap();
    assert_eq!(
        relay_on_b.call(|r| Cmd::Relay(to_b, 8, r), T).await,
        Ok(true)
    );
    assert_eq!(
        sink_on_b.call(Cmd::Log, T).await.unwrap(),
        vec![Event::Msg(8)]
    );
    assert_eq!(
        a.actor_ref::<Cmd>(sink_on_c.pid())
            .unwrap()
            .call(Cmd::Log, T)
            .await
            .unwrap(),
        vec![Event::Msg(7)]
    );
    // A reference to a dead actor arrives as a dead reference: sending through it is noproc.
    let dead = b.node().spawn(Probe::new()).await.unwrap();
    let dead_pid = dead.pid();
    dead.tell(Cmd::Stop(ExitReason::Normal)).unwrap();
    b.node().wait_exit(dead_pid).await;
    let to_dead = a.actor_ref::<Cmd>(dead_pid).unwrap();
    assert_eq!(
        relay_on_b.call(|r| Cmd::Relay(to_dead, 9, r), T).await,
        Ok(false)
    );
}
