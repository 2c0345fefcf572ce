//! A probe actor for tests: it runs commands in its own context and records every message,
//! trapped exit and `Down` it receives, both in a log (read with a call, which orders it after
//! everything queued before) and on a channel (awaited instead of sleeping).
#![allow(dead_code)]

use actor_core::{
    Actor, ActorRef, Context, Down, ExitReason, LinkError, MonitorRef, Node, Pid, ReplyTo,
    SpawnOpts,
};
use std::time::Duration;
use tokio::sync::mpsc;

pub mod sup;

pub const T: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Msg(u64),
    Exit(Pid, ExitReason),
    Down(MonitorRef, Pid, ExitReason),
}

pub enum Cmd {
    Note(u64),
    Link(Pid, ReplyTo<Result<(), LinkError>>),
    Unlink(Pid, ReplyTo<()>),
    Monitor(Pid, ReplyTo<MonitorRef>),
    Demonitor(MonitorRef, ReplyTo<bool>),
    Trap(bool, ReplyTo<()>),
    Exit(Pid, ExitReason, ReplyTo<()>),
    Stop(ExitReason),
    Panic(String),
    Block(tokio::sync::oneshot::Receiver<()>),
    /// Waits for the signal, then demonitors: anything queued meanwhile is behind it.
    BlockThenDemonitor(
        MonitorRef,
        tokio::sync::oneshot::Receiver<()>,
        ReplyTo<bool>,
    ),
    Log(ReplyTo<Vec<Event>>),
    Ping(ReplyTo<()>),
    /// Holds on to the reply handle without answering.
    Swallow(ReplyTo<u64>),
    /// Drops the reply handle.
    Drop(ReplyTo<u64>),
    /// Replies after a delay.
    SlowEcho(u64, Duration, ReplyTo<u64>),
    /// Panics while holding the reply handle.
    PanicHolding(ReplyTo<u64>),
    /// Drops the reply handle and stops with the reason.
    DropAndStop(ExitReason, ReplyTo<u64>),
}

pub struct Probe {
    pub log: Vec<Event>,
    pub tx: Option<mpsc::UnboundedSender<(Pid, Event)>>,
    pub kept: Vec<ReplyTo<u64>>,
}

impl Probe {
    pub fn new() -> Self {
        Probe {
            log: Vec::new(),
            tx: None,
            kept: Vec::new(),
        }
    }
    pub fn with_events(tx: mpsc::UnboundedSender<(Pid, Event)>) -> Self {
        Probe {
            log: Vec::new(),
            tx: Some(tx),
            kept: Vec::new(),
        }
    }
    fn record(&mut self, me: Pid, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((me, e.clone()));
        }
        self.log.push(e);
    }
}

impl Actor for Probe {
    type Msg = Cmd;

    async fn handle(&mut self, cmd: Cmd, ctx: &mut Context<Self>) {
        match cmd {
            Cmd::Note(n) => self.record(ctx.pid(), Event::Msg(n)),
            Cmd::Link(p, r) => {
                r.send(ctx.link(p));
            }
            Cmd::Unlink(p, r) => {
                ctx.unlink(p);
                r.send(());
            }
            Cmd::Monitor(p, r) => {
                r.send(ctx.monitor(p));
            }
            Cmd::Demonitor(m, r) => {
                r.send(ctx.demonitor(m));
            }
            Cmd::Trap(on, r) => {
                ctx.trap_exit(on);
                r.send(());
            }
            Cmd::Exit(p, reason, r) => {
                ctx.exit(p, reason);
                r.send(());
            }
            Cmd::Stop(reason) => ctx.stop(reason),
            Cmd::Panic(m) => panic!("{m}"),
            Cmd::Block(rx) => {
                let _ = rx.await;
            }
            Cmd::BlockThenDemonitor(m, rx, r) => {
                let _ = rx.await;
                r.send(ctx.demonitor(m));
            }
            Cmd::Log(r) => {
                r.send(self.log.clone());
            }
            Cmd::Ping(r) => {
                r.send(());
            }
            Cmd::Swallow(r) => self.kept.push(r),
            Cmd::Drop(r) => drop(r),
            Cmd::PanicHolding(r) => {
                let _held = r;
                panic!("died holding a request");
            }
            Cmd::DropAndStop(reason, r) => {
                drop(r);
                ctx.stop(reason);
            }
            Cmd::SlowEcho(n, d, r) => {
                tokio::time::sleep(d).await;
                r.send(n + 1);
            }
        }
    }

    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, ctx: &mut Context<Self>) {
        self.record(ctx.pid(), Event::Exit(from, reason));
    }

    async fn handle_down(&mut self, d: Down, ctx: &mut Context<Self>) {
        self.record(ctx.pid(), Event::Down(d.mref, d.pid, d.reason));
    }
}

pub async fn probe(node: &Node) -> ActorRef<Cmd> {
    node.spawn(Probe::new()).await.unwrap()
}

pub async fn trapping_probe(node: &Node, tx: mpsc::UnboundedSender<(Pid, Event)>) -> ActorRef<Cmd> {
    let opts = SpawnOpts {
        trap_exit: true,
        ..SpawnOpts::default()
    };
    node.spawn_opts(Probe::with_events(tx), opts).await.unwrap()
}

pub async fn log(p: &ActorRef<Cmd>) -> Vec<Event> {
    p.call(Cmd::Log, T).await.unwrap()
}

pub async fn link(a: &ActorRef<Cmd>, b: Pid) -> Result<(), LinkError> {
    a.call(|r| Cmd::Link(b, r), T).await.unwrap()
}

pub async fn monitor(a: &ActorRef<Cmd>, b: Pid) -> MonitorRef {
    a.call(|r| Cmd::Monitor(b, r), T).await.unwrap()
}

pub fn rt_node(name: &str) -> Node {
    Node::new(name)
}
