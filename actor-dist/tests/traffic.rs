//! Traffic per peer: frames and bytes sent and received per node, totals that survive a
//! reconnect.
mod common;
use actor_dist::{Dist, PeerTraffic};
use common::*;

fn of(d: &Dist, peer: &str) -> PeerTraffic {
    d.traffic()
        .into_iter()
        .find(|t| t.node == peer)
        .unwrap_or_default()
}

async fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "not in time");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_and_bytes_are_counted_per_peer_and_survive_a_reconnect() {
    let a = start("a@127.0.0.1").await;
    let b = start("b@127.0.0.1").await;
    connect(&a, &b).await;
    let on_b = b.node().spawn(Probe::new()).await.unwrap();
    let remote = a.actor_ref::<Cmd>(on_b.pid()).unwrap();
    for i in 0..500 {
        remote.tell(Cmd::Note(i)).unwrap();
    }
    assert_eq!(remote.call(Cmd::Log, T).await.unwrap().len(), 500);
    let out = of(&a, "b@127.0.0.1");
    assert!(out.connected);
    assert!(out.frames_out >= 501, "{out:?}");
    assert!(out.bytes_out >= 501 * 10, "{out:?}");
    let got = of(&b, "a@127.0.0.1");
    assert!(got.frames_in >= 501 && got.bytes_in >= 501 * 10, "{got:?}");
    assert!(got.frames_out >= 1, "the reply: {got:?}");
    assert!(of(&a, "b@127.0.0.1").frames_in >= 1);

    // Reconnect: the totals carry on from where they were.
    a.disconnect(b.name());
    eventually(|| !of(&a, "b@127.0.0.1").connected).await;
    // b closes its side on its own task: reconnect once both sides are down, or b
    // answers "already connected".
    eventually(|| b.nodes().is_empty()).await;
    let kept = of(&a, "b@127.0.0.1");
    assert!(kept.frames_out >= out.frames_out, "{kept:?}");
    connect(&a, &b).await;
    remote.tell(Cmd::Note(9)).unwrap();
    assert_eq!(remote.call(Cmd::Log, T).await.unwrap().len(), 501);
    let after = of(&a, "b@127.0.0.1");
    assert!(
        after.connected && after.frames_out > kept.frames_out,
        "{after:?}"
    );
}
