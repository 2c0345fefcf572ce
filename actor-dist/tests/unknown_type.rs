//! A message of a type the receiving node has not registered is refused back to the sender:
//! a call fails at once with a typed error naming the type, a tell is counted on the sending
//! side. Nothing is lost without a word.
mod common;
use actor_core::{CallError, ReplyTo};
use actor_dist::Message;
use common::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A type `a` knows and `b` does not.
#[derive(Serialize, Deserialize)]
enum Other {
    Note(u64),
    Ask(ReplyTo<u64>),
}

impl Message for Other {
    const NAME: &'static str = "test.Other";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_an_unknown_type_is_refused_back_to_the_sender() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let wrong = a.actor_ref::<Other>(on_b.pid()).unwrap();

    // A tell leaves (the network decides), then a call: it fails at once, not at its timeout.
    wrong.tell(Other::Note(1)).unwrap();
    let started = Instant::now();
    let res = wrong.call(Other::Ask, Duration::from_secs(60)).await;
    assert_eq!(res, Err(CallError::UnknownType("test.Other".into())));
    assert!(started.elapsed() < Duration::from_secs(5), "failed at once");
    // Both refusals came back, in order on the one connection: the tell's is counted too.
    assert_eq!(a.stats().refused_by_peer.load(Ordering::Relaxed), 2);
    assert_eq!(b.stats().unknown_tags.load(Ordering::Relaxed), 2);

    // The link and the actor are untouched: a known type still goes through.
    let right = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    assert_eq!(right.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    assert_eq!(a.nodes(), vec!["b@127.0.0.1".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_ref_asks_the_owning_node() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let r = a.actor_ref_checked::<Cmd>(on_b.pid()).await.unwrap();
    assert_eq!(r.call(|r| Cmd::Echo(1, r), T).await, Ok(2));
    // Known on b but taken by no such actor: the wrong type, named.
    b.register::<u64>();
    match a.actor_ref_checked::<u64>(on_b.pid()).await {
        Err(actor_dist::CheckedRefError::WrongType {
            pid,
            expected,
            actual,
        }) => {
            assert_eq!((pid, expected), (on_b.pid(), <u64 as Message>::NAME));
            assert!(actual.ends_with("Cmd"), "{actual}");
        }
        other => panic!("{:?}", other.map(|r| r.pid())),
    }
    // Not known on b at all.
    assert!(matches!(
        a.actor_ref_checked::<Other>(on_b.pid()).await,
        Err(actor_dist::CheckedRefError::UnknownType { .. })
    ));
    // Dead.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = b
        .node()
        .spawn(Probe {
            events: Some(tx),
            ..Probe::new()
        })
        .await
        .unwrap();
    let dead = on_b.pid();
    watcher.call(|r| Cmd::Monitor(dead, r), T).await.unwrap();
    on_b.tell(Cmd::Stop(actor_core::ExitReason::Normal))
        .unwrap();
    assert!(matches!(rx.recv().await, Some(Event::Down(p, _)) if p == dead));
    assert_eq!(
        a.actor_ref_checked::<Cmd>(dead).await.err(),
        Some(actor_dist::CheckedRefError::NoProc(dead))
    );
}
