//! Several nodes in one OS process stay invisible to each other.
mod common;
use actor_core::{CallError, ExitReason, LinkError, Node, NodeConfig, RefError};
use common::*;

#[tokio::test]
async fn two_nodes_in_one_process_do_not_see_each_others_actors() {
    let a = Node::new("a@localhost");
    let b = Node::new("b@localhost");
    let pa = probe(&a).await;
    let pb = probe(&b).await;
    // Ids are allocated per node, so both nodes hand out the same first id.
    assert_eq!(pa.pid().id, pb.pid().id);
    assert_ne!(pa.pid(), pb.pid());
    assert_eq!(a.processes(), vec![pa.pid()]);
    assert_eq!(b.processes(), vec![pb.pid()]);
    assert!(!a.is_alive(pb.pid()));
    assert!(matches!(
        a.actor_ref::<Cmd>(pb.pid()),
        Err(RefError::Remote(..))
    ));
    // Without distribution, a link to the other node cannot be made, and exits do not cross.
    assert_eq!(
        a.link(pa.pid(), pb.pid()),
        Err(LinkError::NoConnection(pb.pid()))
    );
    a.exit(pb.pid(), ExitReason::Kill);
    pb.call(Cmd::Ping, T).await.unwrap();
}

#[tokio::test]
async fn same_name_new_creation_never_resolves_old_pids() {
    let first = Node::with_config(NodeConfig {
        name: "n@host".into(),
        creation: Some(1),
    });
    let second = Node::with_config(NodeConfig {
        name: "n@host".into(),
        creation: Some(2),
    });
    let old = probe(&first).await;
    let new = probe(&second).await;
    assert_eq!(old.pid().id, new.pid().id);
    assert_eq!(old.pid().node, new.pid().node);
    // The restarted node treats the earlier incarnation's pid as dead.
    assert!(!second.is_alive(old.pid()));
    assert_eq!(
        second.actor_ref::<Cmd>(old.pid()).unwrap_err(),
        RefError::NoProc(old.pid())
    );
    assert_eq!(second.wait_exit(old.pid()).await, ExitReason::NoProc);
    second.exit(old.pid(), ExitReason::Kill);
    assert!(first.is_alive(old.pid()));
    let _ = CallError::Timeout;
}

#[tokio::test]
async fn typed_lookup_checks_the_message_type() {
    let node = Node::new("t@localhost");
    let p = probe(&node).await;
    let same = node.actor_ref::<Cmd>(p.pid()).unwrap();
    same.call(Cmd::Ping, T).await.unwrap();
    match node.actor_ref::<String>(p.pid()) {
        Err(RefError::WrongType {
            expected, actual, ..
        }) => {
            assert!(expected.contains("String"));
            assert!(actual.contains("Cmd"));
        }
        other => panic!("expected WrongType, got {other:?}"),
    }
}
