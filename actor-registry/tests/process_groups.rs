//! Process groups (OTP `pg`): join and leave one pid or many, repeated membership,
//! members and local members, group and scope monitors, cleanup on exit and on nodedown,
//! sync across nodes.
mod common;
use actor_core::ExitReason;
use actor_core::Node;
use actor_registry::{GroupChange, GroupEvent, Key, Registry, RegistryError};
use common::cluster::{cluster, eventually, member, synced, T};
use common::{spawn, Msg};

#[tokio::test]
async fn join_and_leave_count_each_membership() {
    let node = Node::new("pg@test");
    let pg = Registry::new(&node);
    let a = spawn(&node).await.pid();
    let b = spawn(&node).await.pid();
    let g = Key::from("workers");
    pg.join("workers", [a]).unwrap();
    pg.join("workers", [b, a]).unwrap();
    assert_eq!(pg.members(&g), vec![a, b, a]);
    assert_eq!(pg.local_members(&g), vec![a, b, a]);
    pg.join(("other", 1), [b]).unwrap();
    assert_eq!(pg.which_groups(), vec![Key::from(("other", 1)), g.clone()]);
    pg.leave("workers", [a]).unwrap();
    assert_eq!(pg.members(&g), vec![a, b]);
    // Leaving more often than joined changes nothing and names the pid.
    assert_eq!(
        pg.leave("workers", [b, b]),
        Err(RegistryError::NotJoined {
            group: g.clone(),
            pid: b
        })
    );
    assert_eq!(pg.members(&g), vec![a, b]);
    pg.leave("workers", [a, b]).unwrap();
    assert!(pg.members(&g).is_empty());
    assert_eq!(pg.which_groups(), vec![Key::from(("other", 1))]);
    assert!(pg.members(&Key::from("nope")).is_empty());
}

#[tokio::test]
async fn a_dead_or_foreign_pid_cannot_join() {
    let node = Node::new("pg@test");
    let pg = Registry::new(&node);
    let a = spawn(&node).await;
    let pid = a.pid();
    a.stop(ExitReason::Normal);
    node.wait_exit(pid).await;
    let live = spawn(&node).await.pid();
    assert_eq!(pg.join("g", [live, pid]), Err(RegistryError::NoProc(pid)));
    // All or nothing.
    assert!(pg.members(&Key::from("g")).is_empty());
}

#[tokio::test]
async fn members_leave_when_they_exit_and_monitors_see_it() {
    let node = Node::new("pg@test");
    let pg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    pg.join("g", [a.pid()]).unwrap();
    let mut group = pg.monitor_group("g");
    let mut scope = pg.monitor_scope();
    assert_eq!(group.members.get(&Key::from("g")), Some(&vec![a.pid()]));
    assert_eq!(scope.members.len(), 1);
    pg.join("g", [b.pid(), b.pid()]).unwrap();
    pg.join("h", [a.pid()]).unwrap();
    let _ = a.tell(Msg::Panic);
    let joined = GroupEvent {
        group: Key::from("g"),
        pids: vec![b.pid(), b.pid()],
        change: GroupChange::Joined,
    };
    assert_eq!(group.recv().await, Some(joined.clone()));
    assert_eq!(
        group.recv().await,
        Some(GroupEvent {
            group: Key::from("g"),
            pids: vec![a.pid()],
            change: GroupChange::Left
        })
    );
    let mut seen = vec![];
    while seen.len() < 4 {
        seen.push(scope.recv().await.unwrap());
    }
    assert_eq!(seen[0], joined);
    assert_eq!(seen[1].change, GroupChange::Joined);
    assert!(seen[2..]
        .iter()
        .all(|e| e.change == GroupChange::Left && e.pids == vec![a.pid()]));
    assert_eq!(pg.members(&Key::from("g")), vec![b.pid(), b.pid()]);
    assert!(pg.members(&Key::from("h")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_is_synced_across_nodes() {
    let ms = cluster(3).await;
    let a = spawn(ms[0].node()).await.pid();
    let b = spawn(ms[1].node()).await.pid();
    let g = Key::from("pool");
    let mut scope_c = ms[2].global.monitor_scope();
    ms[0].global.join("pool", [a, a]).unwrap();
    ms[1].global.join("pool", [b]).unwrap();
    for m in &ms {
        eventually(|| {
            let mut v = m.global.members(&g);
            v.sort();
            let mut want = vec![a, a, b];
            want.sort();
            v == want
        })
        .await;
    }
    assert_eq!(ms[0].global.local_members(&g), vec![a, a]);
    assert_eq!(ms[1].global.local_members(&g), vec![b]);
    assert!(ms[2].global.local_members(&g).is_empty());
    ms[0].global.leave("pool", [a]).unwrap();
    for m in &ms {
        eventually(|| m.global.members(&g).iter().filter(|p| **p == a).count() == 1).await;
    }
    // C's scope monitor saw the joins and the leave.
    let mut changes = Vec::new();
    while changes.len() < 3 {
        let ev = tokio::time::timeout(T, scope_c.recv())
            .await
            .unwrap()
            .unwrap();
        changes.push((ev.pids, ev.change));
    }
    assert!(changes.contains(&(vec![a, a], GroupChange::Joined)));
    assert!(changes.contains(&(vec![b], GroupChange::Joined)));
    assert!(changes.contains(&(vec![a], GroupChange::Left)));
    // A late node gets the memberships; node A going down takes its members away.
    let late = member("late@127.0.0.1").await;
    common::cluster::join_cluster(&late, &[&ms[0], &ms[1], &ms[2]]).await;
    synced(&late, 3).await;
    eventually(|| late.global.members(&g).len() == 2).await;
    ms[0].dist.shutdown();
    for m in [&ms[1], &ms[2], &late] {
        eventually(|| m.global.members(&g) == vec![b]).await;
    }
}
