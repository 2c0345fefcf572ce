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
