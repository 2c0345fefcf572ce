//! A peer cannot make a replica inconsistent, whatever it sends (proptest-driven scripts).

use super::protocol::Op;
use crate::global::{GlobalConfig, GlobalRegistry};
use crate::key::{Key, Kind, Value};
use crate::registry::Registry;
use actor_core::{Actor, Context, ExitReason, Node, NodeId, Pid};
use actor_dist::{Cookie, Dist, DistConfig};
use proptest::prelude::*;
use std::sync::Arc;

fn peer_pid(id: u64) -> Pid {
    Pid {
        node: NodeId::from_name("peer@127.0.0.1"),
        id,
        creation: 1,
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Name),
        Just(Kind::Property),
        Just(Kind::Counter),
        Just(Kind::AggregatedCounter)
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        (-3i64..3).prop_map(Value::Int),
        Just(Value::from("s"))
    ]
}

/// Changes a peer could send, valid or not: pid 0 is a process of this node (refused).
fn change(local: Pid) -> impl Strategy<Value = Op> {
    let pid = (0u64..4).prop_map(move |i| if i == 0 { local } else { peer_pid(i) });
    let key = (0i64..3).prop_map(|k| Key::from(("k", k)));
    prop_oneof![
        4 => (kind(), key.clone(), pid.clone(), value(), 0u64..3).prop_map(
            |(kind, key, pid, value, at)| Op::Reg { kind, key, pid, value, at }),
        2 => (kind(), key.clone(), pid.clone()).prop_map(|(kind, key, pid)| Op::Unreg { kind, key, pid }),
        2 => (kind(), key.clone(), pid.clone(), value()).prop_map(
            |(kind, key, pid, value)| Op::Set { kind, key, pid, value }),
        1 => pid.clone().prop_map(|pid| Op::Exit { pid, reason: ExitReason::Normal }),
        2 => (key.clone(), proptest::collection::vec(pid.clone(), 0..3))
            .prop_map(|(group, pids)| Op::Join { group, pids }),
        1 => (key, proptest::collection::vec(pid, 0..3))
            .prop_map(|(group, pids)| Op::Leave { group, pids }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Apply(Op),
    /// A full state (replaces what the replica holds for the peer).
    Merge(Vec<Op>),
    Purge,
}

fn steps(local: Pid) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        prop_oneof![
            8 => change(local).prop_map(Step::Apply),
            1 => proptest::collection::vec(change(local), 0..6).prop_map(Step::Merge),
            1 => Just(Step::Purge),
        ],
        0..50,
    )
}

struct Idle;
impl Actor for Idle {
    type Msg = ();
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
}

/// Whatever a peer sends (valid, invalid, conflicting with local names), the replica stays
/// internally consistent and never holds a change about its own processes that it did not
/// make. One node and runtime; proptest drives the scripts.
#[test]
fn a_peer_cannot_make_a_replica_inconsistent() {
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let node = Node::new("local@127.0.0.1");
            let cookie = Cookie::new("c").unwrap();
            let dist = Dist::start(&node, DistConfig::new(cookie)).await.unwrap();
            let on_conflict = crate::global::OnConflict::Notify(Arc::new(|_| {}));
            let g = GlobalRegistry::start(&dist, GlobalConfig::new("p").on_conflict(on_conflict))
                .await
                .unwrap();
            let local = node.spawn(Idle).await.unwrap().pid();
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
            runner
                .run(&steps(local), |script| {
                    let reg: &Registry = &g;
                    let _ = reg.register(Kind::Name, ("k", 1), local, ());
                    let _ = reg.register(Kind::Counter, ("k", 2), local, 1);
                    let peer = NodeId::from_name("peer@127.0.0.1");
                    for step in script {
                        let mut losers = Vec::new();
                        let mut st = reg.inner.state.lock();
                        match step {
                            Step::Apply(op) => {
                                reg.apply(&mut st, peer, op, &mut losers);
                            }
                            Step::Merge(state) => reg.merge(&mut st, peer, state, &mut losers),
                            Step::Purge => reg.purge_node(&mut st, peer, ExitReason::NoConnection),
                        }
                        reg.flush(&mut st);
                        drop(st);
                        reg.assert_consistent();
                        // This node's process holds only what it registered itself.
                        for (kind, key) in reg.keys_of(local) {
                            assert!(
                                (kind, key.clone()) == (Kind::Name, Key::from(("k", 1)))
                                    || (kind, key) == (Kind::Counter, Key::from(("k", 2)))
                            );
                        }
                    }
                    let mut st = reg.inner.state.lock();
                    reg.purge_node(&mut st, peer, ExitReason::NoConnection);
                    drop(st);
                    reg.assert_consistent();
                    Ok(())
                })
                .unwrap();
        });
    }
}
