//! DynamicSupervisor (simple_one_for_one): children from one template, each with its args.
mod common;
use actor_core::supervisor::{
    DynamicMsg, DynamicSupervisor, DynamicSupervisorSpec, Restart, SupervisorError,
};
use actor_core::{ExitReason, Node};
use common::sup::*;
use std::time::Duration;
use tokio::sync::mpsc;

fn spec(tx: &mpsc::UnboundedSender<Ev>) -> DynamicSupervisorSpec<String> {
    let tx = tx.clone();
    DynamicSupervisorSpec::worker(move |name: String| Worker::new(&name, &tx))
}

#[tokio::test]
async fn children_start_on_demand_and_restart_with_their_args() {
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = DynamicSupervisor::start(&node, spec(&tx).intensity(5, Duration::from_secs(5)))
        .await
        .unwrap();
    let x = sup.start_child("x".into()).await.unwrap().pid().unwrap();
    let y = sup.start_child("y".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("x"), started("y")]).await;
    assert_eq!(sup.count_children().await.unwrap().active, 2);

    node.actor_ref::<WMsg>(x)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("x")))
        .unwrap();
    expect(
        &mut rx,
        &[stopped("x", ExitReason::error("x")), started("x")],
    )
    .await;
    let kids = sup.which_children().await.unwrap();
    assert_eq!(kids.len(), 2);
    assert!(kids.iter().all(|c| c.pid != Some(x)));

    sup.terminate_child(y).await.unwrap();
    expect(&mut rx, &[stopped("y", ExitReason::Shutdown)]).await;
    // As OTP: a pid that is no longer alive terminates fine; a live stranger is not found.
    assert_eq!(sup.terminate_child(y).await, Ok(()));
    assert_eq!(
        sup.terminate_child(sup.pid()).await,
        Err(SupervisorError::NotFound)
    );
    assert_eq!(sup.count_children().await.unwrap().active, 1);

    // Stopping the supervisor stops every child.
    let z = sup.start_child("z".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("z")]).await;
    let down = node.wait_exit(sup.pid());
    let z_down = node.wait_exit(z);
    node.stop(sup.pid(), ExitReason::Shutdown);
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(z_down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn temporary_and_transient_children_and_intensity() {
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sup = DynamicSupervisor::start(&node, spec(&tx).restart(Restart::Transient))
        .await
        .unwrap();
    let a = sup.start_child("a".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("a")]).await;
    node.actor_ref::<WMsg>(a)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::Normal))
        .unwrap();
    expect(&mut rx, &[stopped("a", ExitReason::Normal)]).await;
    assert_eq!(
        sup.count_children().await.unwrap().active,
        0,
        "transient: clean exit not restarted"
    );

    // Default intensity 1 in 5 s: the second crash makes the supervisor give up.
    let b = sup.start_child("b".into()).await.unwrap().pid().unwrap();
    expect(&mut rx, &[started("b")]).await;
    let down = node.wait_exit(sup.pid());
    node.actor_ref::<WMsg>(b)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("1")))
        .unwrap();
    expect(
        &mut rx,
        &[stopped("b", ExitReason::error("1")), started("b")],
    )
    .await;
    let b2 = sup.which_children().await.unwrap()[0].pid.unwrap();
    node.actor_ref::<WMsg>(b2)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("2")))
        .unwrap();
    expect(&mut rx, &[stopped("b", ExitReason::error("2"))]).await;
    assert_eq!(down.await, ExitReason::Shutdown);
}

#[tokio::test]
async fn a_dynamic_supervisor_is_a_child_spec_and_addressable_from_its_pid() {
    use actor_core::supervisor::{
        ChildSpec, ChildType, DynamicMsg, DynamicSupervisorRef, Shutdown, Strategy, Supervisor,
        SupervisorSpec,
    };
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let top = Supervisor::start(
        &node,
        SupervisorSpec::new(Strategy::OneForOne)
            .child(ChildSpec::dynamic_supervisor("pool", spec(&tx))),
    )
    .await
    .unwrap();
    let pool = top.get_childspec("pool").await.unwrap();
    assert_eq!(
        (pool.child_type(), pool.shutdown_policy()),
        (ChildType::Supervisor, Shutdown::Infinity)
    );
    let pid = pid_of(&top, "pool").await.unwrap();
    let pool = DynamicSupervisorRef::<String>::from_pid(&node, pid).unwrap();
    let _: &actor_core::ActorRef<DynamicMsg<String>> = pool.actor_ref();
    pool.start_child("x".into()).await.unwrap();
    expect(&mut rx, &[started("x")]).await;
    // The wrong Args type is refused.
    assert!(DynamicSupervisorRef::<u32>::from_pid(&node, pid).is_err());
    // Stopping the tree stops the pool's children, which trap exits: their `stopped` runs
    // with the parent's shutdown.
    let down = node.wait_exit(top.pid());
    top.actor_ref().stop(ExitReason::Shutdown);
    expect(&mut rx, &[stopped("x", ExitReason::Shutdown)]).await;
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}

#[tokio::test]
async fn a_custom_start_can_fail_or_ignore_without_spawning() {
    use actor_core::supervisor::{child_opts, ChildType, Started};
    use actor_core::{Pid, SpawnError};
    use futures::future::BoxFuture;
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = DynamicSupervisorSpec::from_fn(move |node: Node, sup: Pid, name: String| {
        let w = Worker::new(&name, &tx);
        Box::pin(async move {
            match name.as_str() {
                "fail" => Err(SpawnError::Init(ExitReason::error("no"))),
                "skip" => Ok(Started::Ignore),
                _ => node
                    .spawn_opts(w, child_opts(sup))
                    .await
                    .map(|r| Started::Pid(r.pid())),
            }
        }) as BoxFuture<'static, Result<Started, SpawnError>>
    })
    .kind(ChildType::Supervisor);
    let sup = DynamicSupervisor::start(&node, spec).await.unwrap();
    assert_eq!(
        sup.start_child("fail".into()).await,
        Err(SupervisorError::StartFailed {
            id: None,
            reason: SpawnError::Init(ExitReason::error("no")),
        })
    );
    assert_eq!(sup.start_child("skip".into()).await, Ok(Started::Ignore));
    assert_eq!(node.process_count(), 1);
    sup.start_child("ok".into()).await.unwrap();
    expect(&mut rx, &[started("ok")]).await;
    let c = sup.count_children().await.unwrap();
    assert_eq!((c.specs, c.active, c.supervisors, c.workers), (1, 1, 1, 0));
    assert_eq!(
        sup.which_children().await.unwrap()[0].kind,
        ChildType::Supervisor
    );
}

#[tokio::test]
async fn a_failed_dynamic_restart_shows_restarting_and_is_retried() {
    use actor_core::supervisor::{child_opts, ChildState, Started};
    use actor_core::{Pid, SpawnError};
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let node = Node::new("dyn@localhost");
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Start 1 succeeds, start 2 (the first restart) fails, start 3 succeeds.
    let starts = Arc::new(AtomicU32::new(0));
    let (gate_tx, mut gate) = mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<()>>();
    let n = starts.clone();
    let spec = DynamicSupervisorSpec::from_fn(move |node: Node, sup: Pid, name: String| {
        let w = Worker::new(&name, &tx);
        let k = n.fetch_add(1, Ordering::SeqCst);
        let (go, wait) = tokio::sync::oneshot::channel();
        let _ = gate_tx.send(go);
        Box::pin(async move {
            let _ = wait.await;
            if k == 1 {
                return Err(SpawnError::Init(ExitReason::error("no")));
            }
            node.spawn_opts(w, child_opts(sup))
                .await
                .map(|r| Started::Pid(r.pid()))
        }) as BoxFuture<'static, Result<Started, SpawnError>>
    })
    .intensity(5, Duration::from_secs(5));
    let sup = DynamicSupervisor::start(&node, spec).await.unwrap();
    let start = sup.start_child("x".into());
    let go = async { gate.recv().await.unwrap().send(()).unwrap() };
    let (x, ()) = tokio::join!(start, go);
    let x = x.unwrap().pid().unwrap();
    expect(&mut rx, &[started("x")]).await;

    node.actor_ref::<WMsg>(x)
        .unwrap()
        .tell(WMsg::Crash(ExitReason::error("e")))
        .unwrap();
    // The restart (start 2) is waiting: queue requests, then let it fail.
    let go2 = gate.recv().await.unwrap();
    let (r1, which) = actor_core::ReplyTo::pair();
    let (r2, count) = actor_core::ReplyTo::pair();
    sup.actor_ref().tell(DynamicMsg::WhichChildren(r1)).unwrap();
    sup.actor_ref().tell(DynamicMsg::CountChildren(r2)).unwrap();
    go2.send(()).unwrap();
    let kids = which.await.unwrap().unwrap();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].state, ChildState::Restarting);
    let c = count.await.unwrap().unwrap();
    assert_eq!((c.active, c.workers), (0, 1));
    // The retry (start 3) succeeds.
    gate.recv().await.unwrap().send(()).unwrap();
    expect(
        &mut rx,
        &[stopped("x", ExitReason::error("e")), started("x")],
    )
    .await;
    let kids = sup.which_children().await.unwrap();
    assert!(matches!(kids[0].state, ChildState::Running(p) if p != x));
    assert_eq!(starts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn many_children_start_and_stop_in_logarithmic_time_each() {
    // 20,000 children through the public API; start, exit and terminate are map operations
    // keyed by pid (O(log n)), so this stays fast (a quadratic path would take minutes).
    let node = Node::new("dyn@localhost");
    let (tx, _rx) = mpsc::unbounded_channel();
    let sup = DynamicSupervisor::start(&node, spec(&tx).restart(Restart::Temporary))
        .await
        .unwrap();
    const N: usize = 20_000;
    let mut pids = Vec::with_capacity(N);
    for i in 0..N {
        pids.push(sup.start_child(i.to_string()).await.unwrap().pid().unwrap());
    }
    assert_eq!(sup.count_children().await.unwrap().active, N);
    for pid in pids.iter().step_by(2) {
        sup.terminate_child(*pid).await.unwrap();
    }
    assert_eq!(sup.count_children().await.unwrap().active, N / 2);
    let down = node.wait_exit(sup.pid());
    node.stop(sup.pid(), ExitReason::Shutdown);
    assert_eq!(down.await, ExitReason::Shutdown);
    assert_eq!(node.process_count(), 0);
}
