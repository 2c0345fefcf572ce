//! `{Name, Node}`: sending to, calling and monitoring a process registered on another node,
//! following the name to a new holder.
mod common;
use actor_core::ExitReason;
use actor_dist::RemoteNameError;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_by_name_and_node_follow_a_new_holder() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let remote = a.remote_name::<Cmd>(b.name(), "svc");
    assert_eq!(
        remote.call(|r| Cmd::Echo(1, r), T).await,
        Err(RemoteNameError::NotRegistered {
            name: "svc".into(),
            node: b.name().into()
        })
    );
    assert_eq!(a.whereis_on(b.name(), "svc").await, Ok(None));

    let first = b.node().spawn(Probe::new()).await.unwrap();
    b.node().register("svc", first.pid()).unwrap();
    assert_eq!(a.whereis_on(b.name(), "svc").await, Ok(Some(first.pid())));
    assert_eq!(remote.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    remote.tell(Cmd::Note(7)).await.unwrap();

    // The holder is replaced: the cached pid is noproc, the name is resolved again.
    let exit = b.node().wait_exit(first.pid());
    first.stop(ExitReason::Normal);
    exit.await;
    let second = b.node().spawn(Probe::new()).await.unwrap();
    b.node().register("svc", second.pid()).unwrap();
    assert_eq!(remote.call(|r| Cmd::Echo(41, r), T).await, Ok(42));
}

/// Monitors `{svc, B}` when told to, and reports its `Down`s.
struct Watcher {
    name: actor_dist::RemoteName<Cmd>,
    tx: tokio::sync::mpsc::UnboundedSender<actor_core::Down>,
}

impl actor_core::Actor for Watcher {
    type Msg = ();
    async fn handle(&mut self, _: (), ctx: &mut actor_core::Context<Self>) {
        self.name.monitor(ctx).await.unwrap();
    }
    async fn handle_down(&mut self, d: actor_core::Down, _: &mut actor_core::Context<Self>) {
        let _ = self.tx.send(d);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_a_name_on_another_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (tx, mut downs) = tokio::sync::mpsc::unbounded_channel();
    let watcher = a
        .node()
        .spawn(Watcher {
            name: a.remote_name::<Cmd>(b.name(), "svc"),
            tx,
        })
        .await
        .unwrap();
    // Nobody by that name: Down(noproc).
    watcher.tell(()).unwrap();
    let d = tokio::time::timeout(T, downs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.reason, ExitReason::NoProc);
    assert_eq!(d.pid.node, b.node().id());
    // The holder's exit, with its reason.
    let target = b.node().spawn(Probe::new()).await.unwrap();
    b.node().register("svc", target.pid()).unwrap();
    watcher.tell(()).unwrap();
    // A call over the same link orders after the monitor signal.
    let r = a.actor_ref::<Cmd>(target.pid()).unwrap();
    while b.node().monitor_count(target.pid()) == 0 {
        assert_eq!(r.call(|r| Cmd::Echo(0, r), T).await, Ok(1));
    }
    target.tell(Cmd::Stop(ExitReason::error("bye"))).unwrap();
    let d = tokio::time::timeout(T, downs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.pid, d.reason), (target.pid(), ExitReason::error("bye")));
}
