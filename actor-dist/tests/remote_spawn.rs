//! spawn_on: registered kinds only, typed errors, link option, addressable at once.
mod common;
use actor_core::{ExitReason, SpawnOpts};
use actor_dist::{RemoteSpawnError, SpawnOnError, SpawnOnOpts};
use common::*;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_on_returns_an_addressable_ref_and_typed_errors() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let before = b.node().process_count();
    let r = a
        .spawn_on::<Cmd, _>(b.name(), "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    assert_eq!(r.pid().node, b.node().id());
    assert_eq!(b.node().process_count(), before + 1);
    assert_eq!(r.call(|x| Cmd::Echo(7, x), T).await, Ok(8));

    let err = a
        .spawn_on::<Cmd, _>(b.name(), "nope", &false, SpawnOnOpts::default())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SpawnOnError::Remote(RemoteSpawnError::UnknownKind("nope".into()))
    );
    let err = a
        .spawn_on::<Cmd, _>(b.name(), "probe", &"not a bool", SpawnOnOpts::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpawnOnError::Remote(RemoteSpawnError::BadArgs(_))),
        "{err:?}"
    );
    let err = a
        .spawn_on::<u64, _>(b.name(), "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SpawnOnError::Remote(RemoteSpawnError::WrongMessageType { .. })
        ),
        "{err:?}"
    );
    let err = a
        .spawn_on::<Cmd, _>(
            "zz@127.0.0.1",
            "probe",
            &false,
            SpawnOnOpts {
                timeout: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SpawnOnError::NodeDown(_)), "{err:?}");
    // Spawning on one's own node goes the same way.
    let local = a
        .spawn_on::<Cmd, _>(a.name(), "probe", &false, SpawnOnOpts::default())
        .await
        .unwrap();
    assert!(local.is_local());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_on_with_link_ties_the_remote_actor_to_the_caller() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let parent = a
        .node()
        .spawn_opts(
            Probe {
                trap: true,
                events: Some(tx),
                dist: Some(a.clone()),
            },
            SpawnOpts::default(),
        )
        .await
        .unwrap();
    let opts = SpawnOnOpts {
        link: Some(parent.pid()),
        ..Default::default()
    };
    let child = a
        .spawn_on::<Cmd, _>(b.name(), "probe", &false, opts)
        .await
        .unwrap();
    child
        .tell(Cmd::Stop(ExitReason::error("child failed")))
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ev,
        Event::Exit(child.pid(), ExitReason::error("child failed"))
    );
}

/// Spawns a probe on another node and monitors it, from inside an actor.
struct Spawner {
    dist: actor_dist::Dist,
    node: String,
    tx: mpsc::UnboundedSender<(
        actor_core::Pid,
        actor_core::MonitorRef,
        Option<actor_core::Down>,
    )>,
}

impl actor_core::Actor for Spawner {
    type Msg = ();
    async fn handle(&mut self, _: (), ctx: &mut actor_core::Context<Self>) {
        let (r, mref) = self
            .dist
            .clone()
            .spawn_monitor_on::<Self, Cmd, _>(
                ctx,
                &self.node,
                "probe",
                &false,
                SpawnOnOpts::default(),
            )
            .await
            .unwrap();
        let _ = self.tx.send((r.pid(), mref, None));
        r.tell(Cmd::Stop(ExitReason::error("bye"))).unwrap();
    }
    async fn handle_down(&mut self, d: actor_core::Down, _: &mut actor_core::Context<Self>) {
        let _ = self.tx.send((d.pid, d.mref, Some(d)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_monitor_on_delivers_down_with_the_real_reason() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = a
        .node()
        .spawn(Spawner {
            dist: a.clone(),
            node: b.name().to_string(),
            tx,
        })
        .await
        .unwrap();
    s.tell(()).unwrap();
    let (pid, mref, _) = rx.recv().await.unwrap();
    let (dpid, dref, down) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((dpid, dref), (pid, mref));
    assert_eq!(down.unwrap().reason, ExitReason::error("bye"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_on_send_with_a_clear_error() {
    let mut cfg = actor_dist::DistConfig::new(cookie());
    cfg.max_frame = 1024;
    let a = start_with("a@127.0.0.1", cfg).await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    b.register::<Vec<u8>>();
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let r = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    let big = a.actor_ref::<Vec<u8>>(on_b.pid()).unwrap();
    match big.tell(vec![0u8; 4096]) {
        Err(actor_core::SendError::Encode(m, why)) => {
            assert_eq!(m.len(), 4096, "the message is handed back");
            assert!(why.contains("exceeds"), "{why}");
        }
        other => panic!("expected an encode error, got {other:?}"),
    }
    // The link is fine.
    assert_eq!(r.call(|x| Cmd::Echo(1, x), T).await, Ok(2));
}
