//! `process_info`, `process_infos`, `describe` and labels: what operator tools read.

use actor_core::{Actor, ActorState, Context, DescribeError, Node, ProcessStatus};
use std::time::Duration;
use tokio::sync::oneshot;

struct Worker {
    handled: u32,
}

enum Msg {
    Block(oneshot::Receiver<()>),
    Label(String),
}

impl Actor for Worker {
    type Msg = Msg;
    async fn handle(&mut self, msg: Msg, ctx: &mut Context<Self>) {
        self.handled += 1;
        match msg {
            Msg::Block(rx) => {
                let _ = rx.await;
            }
            Msg::Label(l) => ctx.set_label(l),
        }
    }
    fn describe(&self) -> ActorState {
        ActorState {
            state: Some("ready".into()),
            summary: Some(format!("handled={}", self.handled)),
        }
    }
}

async fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn info_reports_queue_status_name_label_and_type() {
    let node = Node::new("info@localhost");
    let w = node.spawn(Worker { handled: 0 }).await.unwrap();
    node.register("worker", w.pid()).unwrap();
    eventually(|| node.process_info(w.pid()).unwrap().status == ProcessStatus::Waiting).await;
    let info = node.process_info(w.pid()).unwrap();
    assert_eq!(info.name.as_deref(), Some("worker"));
    assert!(info.actor.ends_with("Worker"), "{}", info.actor);
    assert_eq!(info.message_queue_len, 0);
    assert!(!info.trap_exit);

    w.tell(Msg::Label("job-7".into())).unwrap();
    eventually(|| node.process_info(w.pid()).unwrap().label.as_deref() == Some("job-7")).await;

    // Blocked inside a handler with three more messages queued.
    let (tx, rx) = oneshot::channel();
    w.tell(Msg::Block(rx)).unwrap();
    eventually(|| {
        let i = node.process_info(w.pid()).unwrap();
        i.status == ProcessStatus::Running && i.message_queue_len == 0
    })
    .await;
    for _ in 0..3 {
        w.tell(Msg::Label("x".into())).unwrap();
    }
    let info = node.process_info(w.pid()).unwrap();
    assert_eq!(info.message_queue_len, 3);
    assert_eq!(info.status, ProcessStatus::Running);

    // A describe request waits behind them; a short timeout gives up.
    assert_eq!(
        node.describe(w.pid(), Duration::from_millis(20)).await,
        Err(DescribeError::Timeout(w.pid()))
    );
    tx.send(()).unwrap();
    let st = node
        .describe(w.pid(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(st.state.as_deref(), Some("ready"));
    assert_eq!(st.summary.as_deref(), Some("handled=5"));

    let all = node.process_infos();
    assert_eq!(all.len(), node.process_count());
    assert!(all.iter().any(|i| i.pid == w.pid()));

    let (_, exit) = (
        w.stop(actor_core::ExitReason::Normal),
        node.wait_exit(w.pid()),
    );
    exit.await;
    assert!(node.process_info(w.pid()).is_none());
    assert!(matches!(
        node.describe(w.pid(), Duration::from_secs(1)).await,
        Err(DescribeError::NoProc(_))
    ));
}

#[tokio::test]
async fn default_describe_says_nothing() {
    struct Quiet;
    impl Actor for Quiet {
        type Msg = ();
        async fn handle(&mut self, _: (), _: &mut Context<Self>) {}
    }
    let node = Node::new("quiet@localhost");
    let q = node.spawn(Quiet).await.unwrap();
    let st = node
        .describe(q.pid(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(st, ActorState::default());
}
