//! The built `actorctl` binary against nodes running as OS processes (this test binary run
//! again in "node mode").

use actor_core::Node;
use actor_dist::{Cookie, Dist, DistConfig};
use actor_ops::Ops;
use actor_registry::{GlobalConfig, GlobalRegistry};
use serde_json::Value as Json;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const COOKIE: &str = "os-process-cookie";
const NODE_ENV: &str = "ACTOR_OPS_TEST_NODE";

/// Node mode: runs only when the parent test starts this binary with `ACTOR_OPS_TEST_NODE`
/// set; serves until its stdin closes.
#[test]
fn node_main() {
    let Ok(name) = std::env::var(NODE_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut cfg = DistConfig::new(Cookie::new(COOKIE).unwrap());
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        cfg.app_version = "os-1".into();
        if let Ok(seed) = std::env::var("ACTOR_OPS_TEST_SEED") {
            let (n, a) = seed.split_once('=').unwrap();
            cfg = cfg.seed(n, a.parse().unwrap());
        }
        let dist = Dist::start(&Node::new(name), cfg).await.unwrap();
        let global = GlobalRegistry::start(&dist, GlobalConfig::new("app"))
            .await
            .unwrap();
        let ops = Ops::builder(&dist)
            .registry(&global)
            .expected_peers(1)
            .install();
        let http = ops
            .serve("127.0.0.1:0".parse().unwrap(), Duration::from_secs(5))
            .await
            .unwrap();
        println!("LISTEN {} HTTP {}", dist.local_addr(), http.local_addr());
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin()
                .read_line(&mut line)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await
        .unwrap();
    });
}

async fn node_process(name: &str, seed: Option<String>) -> (Child, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "node_main", "--nocapture", "--test-threads", "1"])
        .env(NODE_ENV, name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if let Some(s) = seed {
        cmd.env("ACTOR_OPS_TEST_SEED", s);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("node started")
            .unwrap()
            .expect("node printed its address");
        // The harness may print "test node_main ... " on the same line first.
        if let Some(rest) = line.split_once("LISTEN ").map(|(_, r)| r) {
            let addr = rest.split(' ').next().unwrap().to_string();
            return (child, addr);
        }
    }
}

fn actorctl(
    addr: &str,
    node: &str,
    cookie_env: Option<&str>,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_actorctl"));
    cmd.args(["--node", node, "--addr", addr]).args(args);
    cmd.env_remove("ACTORCTL_COOKIE");
    if let Some(c) = cookie_env {
        cmd.env("ACTORCTL_COOKIE", c);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actorctl_binary_against_os_process_nodes() {
    let (_p1, a1) = node_process("osp1@127.0.0.1", None).await;
    let (_p2, _a2) = node_process("osp2@127.0.0.1", Some(format!("osp1@127.0.0.1={a1}"))).await;

    // Both nodes answer once the second has joined.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let v: Json = loop {
        let (code, out, err) = tokio::task::spawn_blocking({
            let a1 = a1.clone();
            move || actorctl(&a1, "osp1@127.0.0.1", Some(COOKIE), &["--json", "nodes"])
        })
        .await
        .unwrap();
        if code == 0 {
            break serde_json::from_str(&out).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healthy: {code} {out} {err}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["osp1@127.0.0.1", "osp2@127.0.0.1"]);
    assert_eq!(v[1]["report"]["app_version"], "os-1");

    let a = a1.clone();
    let (ps, ping, wrong, none) = tokio::task::spawn_blocking(move || {
        (
            actorctl(
                &a,
                "osp1@127.0.0.1",
                Some(COOKIE),
                &["ps", "osp2@127.0.0.1"],
            ),
            actorctl(
                &a,
                "osp1@127.0.0.1",
                Some(COOKIE),
                &["ping", "osp2@127.0.0.1"],
            ),
            actorctl(&a, "osp1@127.0.0.1", Some("wrong"), &["nodes"]),
            actorctl(&a, "osp1@127.0.0.1", None, &["nodes"]),
        )
    })
    .await
    .unwrap();
    assert_eq!(ps.0, 0, "{}", ps.2);
    assert!(ps.1.starts_with("PID"), "{}", ps.1);
    assert!(ps.1.contains("waiting"), "{}", ps.1);
    assert_eq!(ping.0, 0, "{}", ping.2);
    assert!(ping.1.starts_with("pong osp2@127.0.0.1"), "{}", ping.1);
    assert_eq!(wrong.0, 3, "{}", wrong.2);
    assert!(wrong.2.contains("refused the cookie"), "{}", wrong.2);
    assert_eq!(none.0, 2, "{}", none.2);
    assert!(none.2.contains("no cookie"), "{}", none.2);
}
