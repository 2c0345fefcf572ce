//! Finding nodes without their configured address: `connect_addr` and `node_name_at` (the
//! name is asked of the peer), and a `NodeResolver` consulted by connects by name.

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig, DownReason, NodeEvent, NodeResolver};
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn start(name: &str, cookie: &str) -> Dist {
    Dist::start(
        &Node::new(name),
        DistConfig::new(Cookie::new(cookie).unwrap()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn connect_addr_learns_the_name_and_a_probe_changes_nothing() {
    let a = start("a@res", "c").await;
    let b = start("b@res", "c").await;
    let mut events = b.subscribe();
    assert_eq!(b.node_name_at(a.local_addr()).await.unwrap(), "a@res");
    assert_eq!(a.node_name_at(a.local_addr()).await.unwrap(), "a@res");
    // The probe was no connection: a has no peer, b counted no failure.
    assert!(a.nodes().is_empty() && b.nodes().is_empty());
    assert_eq!(a.stats().setup_failures.load(Ordering::Relaxed), 0);
    assert!(events.try_recv().is_err(), "no node event for a probe");

    let info = b.connect_addr(a.local_addr()).await.unwrap();
    assert_eq!(info.name, "a@res");
    assert_eq!(b.nodes(), ["a@res"]);
    assert!(matches!(events.recv().await, Some(NodeEvent::Up(i)) if i.name == "a@res"));

    // Its own address is refused; a wrong cookie learns the name but does not connect.
    let err = a.connect_addr(a.local_addr()).await.unwrap_err();
    assert!(format!("{err:?}").contains("this node"), "{err:?}");
    let x = start("x@res", "other").await;
    assert_eq!(x.node_name_at(a.local_addr()).await.unwrap(), "a@res");
    assert_eq!(
        x.connect_addr(a.local_addr()).await.unwrap_err(),
        DownReason::AuthFailed
    );
}

/// Resolves every name to one address, counting the questions.
struct One(SocketAddr, AtomicUsize);

impl NodeResolver for One {
    fn resolve<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<SocketAddr, String>> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(self.0) })
    }
}

#[tokio::test]
async fn a_resolver_is_asked_only_when_no_address_is_known() {
    let a = start("a@res2", "c").await;
    let b = start("b@res2", "c").await;
    // Without a resolver: no address known.
    let err = a.connect_node("b@res2").await.unwrap_err();
    assert!(format!("{err:?}").contains("no address known"), "{err:?}");
    let err = a.whereis_on("b@res2", "x").await.unwrap_err();
    assert!(format!("{err:?}").contains("no address known"), "{err:?}");

    let resolver = Arc::new(One(b.local_addr(), AtomicUsize::new(0)));
    a.set_resolver(Some(resolver.clone()));
    // An rpc connects through it.
    assert_eq!(a.whereis_on("b@res2", "x").await.unwrap(), None);
    assert_eq!(resolver.1.load(Ordering::SeqCst), 1);
    // Once connected, and after a disconnect, the learnt address is used: no question.
    assert!(a.disconnect("b@res2"));
    a.connect_node("b@res2").await.unwrap();
    assert_eq!(resolver.1.load(Ordering::SeqCst), 1);

    // A resolver's wrong answer (another node there) fails the connect with the reason.
    let c = start("c@res2", "c").await;
    a.set_resolver(Some(Arc::new(One(c.local_addr(), AtomicUsize::new(0)))));
    let err = tokio::time::timeout(Duration::from_secs(5), a.connect_node("d@res2"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("is c@res2, not d@res2"),
        "{err:?}"
    );
    // Removed: no address again.
    a.set_resolver(None);
    let err = a.connect_node("e@res2").await.unwrap_err();
    assert!(format!("{err:?}").contains("no address known"), "{err:?}");
}
