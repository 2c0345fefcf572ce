//! Nodes as OS processes on 127.0.0.1: remote spawn and calls across processes, then a node
//! killed with SIGKILL: nodedown arrives, links and monitors fire with `noconnection`, calls
//! fail fast, and the other node is undisturbed.
use actor_core::{Actor, Context, Down, ExitReason, Pid};
use actor_dist::{NodeEvent, SpawnOnOpts};
use actor_registry::{Change, Key, Kind};
use examples::{start_demo_node_with_registry, AccountMsg, ACCOUNTS};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

async fn node_process(name: &str) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--node", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    (
        child,
        line.strip_prefix("LISTEN ").unwrap().parse().unwrap(),
    )
}

struct Watcher {
    target: Pid,
    tx: mpsc::UnboundedSender<String>,
}

impl Actor for Watcher {
    type Msg = ();
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(true);
        ctx.link(self.target).unwrap();
        ctx.monitor(self.target);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, _: &mut Context<Self>) {
        let _ = self.tx.send(format!("exit {from} {reason}"));
    }
    async fn handle_down(&mut self, d: Down, _: &mut Context<Self>) {
        let _ = self.tx.send(format!("down {} {}", d.pid, d.reason));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_sigkill_is_detected_and_others_carry_on() {
    let (me, accounts) =
        start_demo_node_with_registry("test@127.0.0.1", Duration::from_secs(2)).await;
    let mut events = me.subscribe();
    let (_p1, a1) = node_process("p1@127.0.0.1").await;
    let (mut p2, a2) = node_process("p2@127.0.0.1").await;
    me.connect("p1@127.0.0.1", a1).await.unwrap();
    me.connect("p2@127.0.0.1", a2).await.unwrap();

    let on1 = me
        .spawn_on::<AccountMsg, _>(
            "p1@127.0.0.1",
            "account",
            &("x".to_string(), 1u64),
            SpawnOnOpts::default(),
        )
        .await
        .unwrap();
    let on2 = me
        .spawn_on::<AccountMsg, _>(
            "p2@127.0.0.1",
            "account",
            &("y".to_string(), 2u64),
            SpawnOnOpts::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        on1.call(AccountMsg::Balance, T).await.unwrap(),
        (1, "p1@127.0.0.1".to_string())
    );
    assert_eq!(
        on2.call(AccountMsg::Balance, T).await.unwrap(),
        (2, "p2@127.0.0.1".to_string())
    );
    // The accounts named themselves on their own nodes; the names are visible here.
    let (x, y) = (Key::from(("account", "x")), Key::from(("account", "y")));
    assert_eq!(accounts.await_name(x.clone(), T).await, Ok(on1.pid()));
    assert_eq!(accounts.await_name(y.clone(), T).await, Ok(on2.pid()));
    let mut y_watch = accounts.monitor(Kind::Name, y.clone());
    // p1 and p2 got connected to each other through us.
    let who: (String, u64) = me.call("p2@127.0.0.1", "whoami", &(), T).await.unwrap();
    assert_eq!(who.0, "p2@127.0.0.1");

    let (tx, mut rx) = mpsc::unbounded_channel();
    me.node()
        .spawn(Watcher {
            target: on2.pid(),
            tx,
        })
        .await
        .unwrap();
    // Round trip so the link and monitor are in place on p2 before the kill.
    on2.call(AccountMsg::Balance, T).await.unwrap();

    let killed = Instant::now();
    p2.start_kill().unwrap();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap();
        if let NodeEvent::Down { node, .. } = ev {
            assert_eq!(node, "p2@127.0.0.1");
            break;
        }
    }
    assert!(
        killed.elapsed() < Duration::from_secs(3),
        "detected within a tick"
    );
    let mut got = vec![rx.recv().await.unwrap(), rx.recv().await.unwrap()];
    got.sort();
    assert_eq!(
        got,
        vec![
            format!("down {} noconnection", on2.pid()),
            format!("exit {} noconnection", on2.pid())
        ]
    );
    let t = Instant::now();
    assert_eq!(
        on2.call(AccountMsg::Balance, Duration::from_secs(30)).await,
        Err(actor_core::CallError::NodeDown("p2@127.0.0.1".into()))
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    // p2's names went with it; p1's stay.
    let ev = tokio::time::timeout(T, y_watch.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.pid, ev.change),
        (on2.pid(), Change::Exited(ExitReason::NoConnection))
    );
    assert_eq!(accounts.where_(&y), None);
    assert_eq!(accounts.where_(&x), Some(on1.pid()));
    assert_eq!(accounts.members(&Key::from(ACCOUNTS)), vec![on1.pid()]);
    // p1 is undisturbed.
    on1.tell(AccountMsg::Deposit(9)).unwrap();
    assert_eq!(on1.call(AccountMsg::Balance, T).await.unwrap().0, 10);
    assert_eq!(me.nodes(), vec!["p1@127.0.0.1".to_string()]);
}
