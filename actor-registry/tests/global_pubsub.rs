//! Pub/sub across nodes: a message sent to a property reaches every holder on every node
//! exactly once, in order; a name's holder is reached wherever it runs.
mod common;
use actor_core::Pid;
use actor_registry::{GlobalStats, Key, Kind};
use common::cluster::{cluster, eventually, sub, Note, T};
use std::collections::HashMap;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_reaches_each_subscriber_exactly_once() {
    let ms = cluster(3).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut subs = Vec::new();
    for m in &ms {
        for i in 0..3 {
            let s = sub(m.node(), &tx).await;
            m.global
                .register(Kind::Property, "news", s.pid(), i)
                .unwrap();
            subs.push(s.pid());
        }
    }
    let key = Key::from("news");
    for m in &ms {
        eventually(|| m.global.lookup_pids(Kind::Property, &key).len() == 9).await;
    }
    const N: u64 = 100;
    for i in 0..N {
        assert_eq!(ms[0].global.send(Kind::Property, &key, Note(i)), Ok(9));
    }
    // A fence: anything sent earlier (a duplicate included) arrives before it.
    assert_eq!(
        ms[0].global.send(Kind::Property, &key, Note(u64::MAX)),
        Ok(9)
    );
    let mut got: HashMap<Pid, Vec<u64>> = HashMap::new();
    let mut fenced = 0;
    while fenced < subs.len() {
        let (pid, n) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
        if n == u64::MAX {
            fenced += 1;
        } else {
            got.entry(pid).or_default().push(n);
        }
    }
    for pid in &subs {
        assert_eq!(got[pid], (0..N).collect::<Vec<_>>(), "subscriber {pid}");
    }
    // Each remote node relayed to its own three subscribers: one message per node per send.
    // (The counter moves just after each hand-off, so it may trail the last delivery.)
    for m in &ms[1..] {
        eventually(|| GlobalStats::get(&m.global.stats().relayed) == 3 * (N + 1)).await;
    }
    assert_eq!(GlobalStats::get(&ms[0].global.stats().relayed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_reached_on_its_node() {
    let ms = cluster(2).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = sub(ms[1].node(), &tx).await;
    ms[1]
        .global
        .register(Kind::Name, "inbox", s.pid(), ())
        .unwrap();
    ms[0].global.await_name("inbox", T).await.unwrap();
    assert_eq!(
        ms[0].global.send(Kind::Name, &Key::from("inbox"), Note(7)),
        Ok(1)
    );
    assert_eq!(rx.recv().await, Some((s.pid(), 7)));
    assert!(ms[0]
        .global
        .send(Kind::Name, &Key::from("nobody"), Note(1))
        .is_err());
}
