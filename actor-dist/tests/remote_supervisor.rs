//! Supervisors driven from another node (OTP `supervisor:start_child({Sup, Node}, ...)`):
//! an application starts a supervised worker on the node it chose.
mod common;
use actor_core::supervisor::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, Started, Strategy, Supervisor,
    SupervisorError, SupervisorSpec,
};
use actor_core::{Actor, Context, ExitReason};
use actor_dist::{Message, RemoteSupervisorError, RpcError};
use common::*;
use serde::{Deserialize, Serialize};

/// A worker that knows its number.
struct Worker;

impl Actor for Worker {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

#[derive(Clone, Serialize, Deserialize)]
struct Job {
    n: u32,
}

impl Message for Job {
    const NAME: &'static str = "test.Job";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_supervisor_is_driven_from_another_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    b.register_child("worker", |n: u32| {
        ChildSpec::worker(format!("worker-{n}"), || Worker)
    });
    connect(&a, &b).await;
    let sup = Supervisor::start(
        b.node(),
        SupervisorSpec::new(Strategy::OneForOne).intensity(10, std::time::Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let remote = a.remote_supervisor(b.name(), sup.pid());

    let Started::Pid(w1) = remote.start_child("worker", &1u32).await.unwrap() else {
        panic!("ignored")
    };
    assert_eq!(
        w1.node,
        b.node().id(),
        "the child runs on the supervisor's node"
    );
    assert!(b.node().is_alive(w1));
    remote.start_child("worker", &2u32).await.unwrap();
    let kids = remote.which_children().await.unwrap();
    assert_eq!(
        kids.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["worker-2", "worker-1"],
        "OTP order: newest first"
    );
    assert_eq!(remote.count_children().await.unwrap().active, 2);
    assert_eq!(
        remote.start_child("worker", &1u32).await,
        Err(RemoteSupervisorError::Supervisor(
            SupervisorError::AlreadyStarted(w1)
        ))
    );

    // The child is supervised where it runs: a crash there is restarted there.
    let exit = b.node().wait_exit(w1);
    b.node().exit(w1, ExitReason::error("crash"));
    exit.await;
    let again = loop {
        let kids = remote.which_children().await.unwrap();
        let pid = kids.iter().find(|c| c.id == "worker-1").and_then(|c| c.pid);
        if let Some(p) = pid.filter(|p| *p != w1) {
            break p;
        }
        tokio::task::yield_now().await;
    };
    assert!(b.node().is_alive(again));

    remote.terminate_child("worker-1").await.unwrap();
    assert!(!b.node().is_alive(again));
    assert!(matches!(
        remote.restart_child("worker-1").await,
        Ok(Started::Pid(_))
    ));
    remote.terminate_child("worker-1").await.unwrap();
    remote.delete_child("worker-1").await.unwrap();
    assert_eq!(remote.count_children().await.unwrap().specs, 1);

    // Bad requests: typed answers.
    assert_eq!(
        remote.start_child("nope", &1u32).await,
        Err(RemoteSupervisorError::UnknownChildKind("nope".into()))
    );
    assert!(matches!(
        remote
            .start_child("worker", &"not a number".to_string())
            .await,
        Err(RemoteSupervisorError::BadArgs(_))
    ));
    let not_a_sup = b.node().spawn(Worker).await.unwrap();
    assert!(matches!(
        a.remote_supervisor(b.name(), not_a_sup.pid())
            .which_children()
            .await,
        Err(RemoteSupervisorError::NotASupervisor(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_supervisor_is_driven_from_another_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    b.register_dynamic::<Job>();
    connect(&a, &b).await;
    let sup = DynamicSupervisor::start(b.node(), DynamicSupervisorSpec::worker(|_: Job| Worker))
        .await
        .unwrap();
    let remote = a.remote_dynamic_supervisor::<Job>(b.name(), sup.pid());
    let mut pids = Vec::new();
    for n in 0..10 {
        let started = remote.start_child(&Job { n }).await.unwrap();
        pids.push(started.pid().unwrap());
    }
    assert!(pids.iter().all(|p| b.node().is_alive(*p)));
    assert_eq!(remote.count_children().await.unwrap().active, 10);
    assert_eq!(remote.which_children().await.unwrap().len(), 10);
    for p in &pids[..5] {
        remote.terminate_child(*p).await.unwrap();
        assert!(!b.node().is_alive(*p));
    }
    assert_eq!(remote.count_children().await.unwrap().active, 5);

    // A type the supervisor's node did not register is named in the error.
    #[derive(Clone, Serialize, Deserialize)]
    struct Other;
    impl Message for Other {
        const NAME: &'static str = "test.Other";
    }
    let other = a.remote_dynamic_supervisor::<Other>(b.name(), sup.pid());
    assert_eq!(
        other.start_child(&Other).await,
        Err(RemoteSupervisorError::UnknownArgsType("test.Other".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_registered_nothing_refuses_remote_supervision() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let sup = Supervisor::start(b.node(), SupervisorSpec::new(Strategy::OneForOne))
        .await
        .unwrap();
    assert!(matches!(
        a.remote_supervisor(b.name(), sup.pid())
            .start_child("worker", &1u32)
            .await,
        Err(RemoteSupervisorError::Rpc(RpcError::NoSuchFunction(_)))
    ));
}
