//! actorctl's library entry point against a 3-node cluster in this process.

mod common;

use actor_registry::{Key, Value};
use common::*;
use serde_json::Value as Json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actorctl_answers_about_a_three_node_cluster() {
    let (_dir, ms) = cluster("ctl").await;
    let (a, b) = (&ms[0], &ms[1]);

    // nodes: all three, healthy, with version and load.
    let (code, out, err) = ctl(a, COOKIE, &["--json", "nodes"]).await;
    assert_eq!(code, 0, "{err}");
    let v: Json = serde_json::from_str(&out).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        let rep = &r["report"];
        assert_eq!(rep["app_version"], "1.2.3");
        assert_eq!(rep["health"]["healthy"], true);
        assert_eq!(rep["visible"].as_array().unwrap().len(), 2);
        assert!(rep["processes"].as_u64().unwrap() > 0);
    }
    let (code, out, _) = ctl(a, COOKIE, &["nodes"]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with("NODE"), "{out}");
    assert!(out.contains("ctl1@127.0.0.1"), "{out}");

    // names: a name and a property registered on b, seen through a.
    let w = b.sup.start_child("alpha".into()).await.unwrap();
    let actor_core::supervisor::Started::Pid(wpid) = w else {
        panic!()
    };
    b.global
        .register(
            actor_registry::Kind::Name,
            Key::from(("svc", "alpha")),
            wpid,
            Value::from("v1"),
        )
        .unwrap();
    b.global.join(Key::from("workers"), [wpid]).unwrap();
    eventually(|| async { a.global.where_(&Key::from(("svc", "alpha"))).is_some() }).await;
    let (code, out, err) = ctl(a, COOKIE, &["--json", "names", "svc/*"]).await;
    assert_eq!(code, 0, "{err}");
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["key"], "svc/alpha");
    assert_eq!(v[0]["node"], "ctl1@127.0.0.1");
    assert_eq!(v[0]["value"], "v1");
    let (_, out, _) = ctl(a, COOKIE, &["names", "nothing/**"]).await;
    assert_eq!(out.lines().count(), 1, "header only: {out}");
    let (code, out, _) = ctl(a, COOKIE, &["--json", "names", "--limit", "1"]).await;
    assert_eq!(code, 0);
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "the limit holds");

    // groups
    eventually(|| async { !a.global.members(&Key::from("workers")).is_empty() }).await;
    let (code, out, _) = ctl(a, COOKIE, &["--json", "groups"]).await;
    assert_eq!(code, 0);
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["group"], "workers");
    assert_eq!(v[0]["members"].as_array().unwrap().len(), 1);

    // an entity, then ps on its node and its state with receipts.
    let t = T;
    for _ in 0..4 {
        a.entities.call::<Counter>("visits", 3, t).await.unwrap();
    }
    let pid = a.entities.whereis("counter", "visits").unwrap();
    let owner = ms.iter().find(|m| m.dist.node().is_local(pid)).unwrap();
    let (code, out, err) = ctl(a, COOKIE, &["--json", "ps", owner.dist.name()]).await;
    assert_eq!(code, 0, "{err}");
    let v: Json = serde_json::from_str(&out).unwrap();
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["info"]["pid"] == serde_json::to_value(pid).unwrap())
        .expect("the activation is listed");
    assert_eq!(row["state"]["state"], "Full");
    assert!(row["info"]["actor"].as_str().unwrap().contains("Statem"));
    let (code, out, _) = ctl(b, COOKIE, &["ps", b.dist.name(), "--limit", "500"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("worker alpha"), "the label shows: {out}");

    let (code, out, err) = ctl(
        b,
        COOKIE,
        &["--json", "state", "counter", "visits", "--receipts", "3"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v["state"]["state"], "Full");
    assert_eq!(v["state"]["summary"], "n=12");
    assert_eq!(v["last_seq"], 4);
    let seqs: Vec<u64> = v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3, 4]);
    let (code, out, _) = ctl(a, COOKIE, &["state", "counter", "visits"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("state    Full"), "{out}");
    let (code, _, err) = ctl(a, COOKIE, &["state", "nokind", "x"]).await;
    assert_eq!(
        code, 0,
        "an unknown key is not active and has no receipts: {err}"
    );

    // state of any process by pid.
    let (code, out, err) = ctl(a, COOKIE, &["state", &pid.to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Full"), "{out}");

    // ping
    let (code, out, _) = ctl(a, COOKIE, &["ping", "ctl2@127.0.0.1"]).await;
    assert_eq!(code, 0);
    assert!(out.starts_with("pong"), "{out}");

    // start-child, then stop it.
    let (code, out, err) = ctl(
        a,
        COOKIE,
        &[
            "--json",
            "start-child",
            b.dist.name(),
            "workers",
            "\"beta\"",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Json = serde_json::from_str(&out).unwrap();
    let started: actor_core::Pid = serde_json::from_value(v["pid"].clone()).unwrap();
    assert!(b.dist.node().is_alive(started));
    let (code, _, err) = ctl(a, COOKIE, &["start-child", b.dist.name(), "nosuch", "1"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no supervisor"), "{err}");
    let (code, _, err) = ctl(
        a,
        COOKIE,
        &["start-child", b.dist.name(), "workers", "{bad"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("bad arguments"), "{err}");

    let (code, out, err) = ctl(a, COOKIE, &["stop", &started.to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stopped"), "{out}");
    assert!(!b.dist.node().is_alive(started));
    let (code, _, err) = ctl(a, COOKIE, &["stop", &started.to_string()]).await;
    assert_eq!(code, 1, "a dead pid: {err}");
    let (code, _, _) = ctl(a, COOKIE, &["stop", "not-a-pid"]).await;
    assert_eq!(code, 2);

    // The CLI's hidden nodes left nothing behind: no hidden connection stays.
    eventually(|| async { ms.iter().all(|m| m.dist.nodes_hidden().is_empty()) }).await;
    for m in &ms {
        assert_eq!(m.dist.nodes().len(), 2, "hidden tools never join the mesh");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_and_no_node_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let journal = std::sync::Arc::new(
        actor_journal::RedbJournal::open(actor_journal::JournalConfig::new(dir.path())).unwrap(),
    );
    let a = member("lone@127.0.0.1", journal, 0).await;
    let (code, _, err) = ctl(&a, "wrong-cookie", &["nodes"]).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("refused the cookie"), "{err}");

    // Nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = actor_ops::cli::run(
        [
            "actorctl",
            "--node",
            "gone@127.0.0.1",
            "--addr",
            &addr,
            "--cookie",
            COOKIE,
            "--timeout",
            "2",
            "nodes",
        ],
        &mut out,
        &mut err,
    )
    .await;
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no answer from gone@127.0.0.1"), "{err}");

    // No cookie at all, and a bad command line.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = actor_ops::cli::run(
        [
            "actorctl",
            "--node",
            "a@127.0.0.1",
            "--addr",
            &addr,
            "nodes",
        ],
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(code, 2);
    let code = actor_ops::cli::run(["actorctl", "frobnicate"], &mut out, &mut err).await;
    assert_eq!(code, 2);

    // A cookie file readable by others is refused, as actor_dist::Cookie does.
    let f = dir.path().join("cookie");
    std::fs::write(&f, COOKIE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let laddr = a.dist.local_addr().to_string();
    let fs = f.to_str().unwrap();
    let argv = [
        "actorctl",
        "--node",
        "lone@127.0.0.1",
        "--addr",
        &laddr,
        "--cookie-file",
        fs,
        "nodes",
    ];
    let code = actor_ops::cli::run(argv, &mut out, &mut err).await;
    assert_eq!(code, 2, "{}", String::from_utf8_lossy(&err));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = actor_ops::cli::run(argv, &mut out, &mut err).await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_renders_the_cluster_headlessly() {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    let (_dir, ms) = cluster("top").await;
    ms[0].entities.call::<Counter>("seen", 11, T).await.unwrap();
    let target = actor_ops::Target {
        node: ms[0].dist.name().to_string(),
        addr: ms[0].dist.local_addr(),
        cookie: actor_dist::Cookie::new(COOKIE).unwrap(),
        timeout: T,
    };
    let c = actor_ops::Client::connect(&target).await.unwrap();
    let mut st = actor_ops::top::TopState::default();
    let sel = ("counter".to_string(), "seen".to_string());
    for _ in 0..3 {
        st.refresh(&c, Some(&sel)).await;
    }
    assert_eq!(st.error, None);
    assert!(st.backlog.values().all(|h| h.len() == 3));
    let mut term = Terminal::new(TestBackend::new(140, 40)).unwrap();
    term.draw(|f| actor_ops::top::draw(f, &st)).unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .chunks(140)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
        .collect();
    for m in &ms {
        assert!(screen.contains(m.dist.name()), "{screen}");
    }
    assert!(screen.contains("state Full"), "{screen}");
    assert!(screen.contains("busiest mailboxes"), "{screen}");
    assert!(screen.contains("backlog top0"), "{screen}");
}
