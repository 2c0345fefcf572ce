//! Helpers for multi-node tests: nodes on 127.0.0.1 in this process, a test actor, and a TCP
//! proxy that can blackhole a connection.
#![allow(dead_code)]

use actor_core::{Actor, Context, Down, ExitReason, Node, Pid, ReplyTo};
use actor_dist::{Cookie, Dist, DistConfig, Message, NodeEvent};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const T: Duration = Duration::from_secs(5);

/// What a probe records when it takes a request it will never answer.
pub const SWALLOWED: u64 = u64::MAX;

/// Waits (by round trips, no sleeping) until `probe` holds a swallowed request.
pub async fn until_swallowed(probe: &actor_core::ActorRef<Cmd>) {
    loop {
        let log = probe.call(Cmd::Log, T).await.unwrap();
        if log.contains(&Event::Msg(SWALLOWED)) {
            return;
        }
        tokio::task::yield_now().await;
    }
}

pub fn cookie() -> Cookie {
    Cookie::new("test-cookie").unwrap()
}

pub async fn start(name: &str) -> Dist {
    start_with(name, DistConfig::new(cookie())).await
}

pub async fn start_with(name: &str, cfg: DistConfig) -> Dist {
    let node = Node::new(name);
    let d = Dist::start(&node, cfg).await.unwrap();
    d.register::<Cmd>();
    let me = d.clone();
    d.register_kind("probe", move |trap: bool| Probe {
        trap,
        events: None,
        dist: Some(me.clone()),
    });
    d
}

pub async fn connect(a: &Dist, b: &Dist) {
    a.connect(b.name(), b.local_addr()).await.unwrap();
}

/// What a probe records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    Msg(u64),
    Exit(Pid, ExitReason),
    Down(Pid, ExitReason),
}

#[derive(Serialize, Deserialize)]
pub enum Cmd {
    Note(u64),
    Echo(u64, ReplyTo<u64>),
    /// Forward a reply handle to another actor, which answers it.
    Forward(Pid, u64, ReplyTo<u64>),
    Link(Pid, ReplyTo<bool>),
    Monitor(Pid, ReplyTo<()>),
    Log(ReplyTo<Vec<Event>>),
    Stop(ExitReason),
    Swallow(ReplyTo<u64>),
    Panic,
    /// Tell `n` to the actor behind the reference (which may be on any node) and confirm it
    /// arrived.
    Relay(actor_core::ActorRef<Cmd>, u64, ReplyTo<bool>),
}

impl Message for Cmd {
    const NAME: &'static str = "test.Cmd";
}

pub struct Probe {
    pub trap: bool,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// To resolve pids of other nodes (e.g. forwarding a reply handle to a third node).
    pub dist: Option<Dist>,
}

impl Probe {
    pub fn new() -> Probe {
        Probe {
            trap: false,
            events: None,
            dist: None,
        }
    }
}

impl Actor for Probe {
    type Msg = Cmd;
    async fn started(&mut self, ctx: &mut Context<Self>) -> Result<(), ExitReason> {
        ctx.trap_exit(self.trap);
        Ok(())
    }
    async fn handle(&mut self, msg: Cmd, ctx: &mut Context<Self>) {
        match msg {
            Cmd::Note(n) => self.record(Event::Msg(n)),
            Cmd::Echo(n, r) => {
                r.send(n + 1);
            }
            Cmd::Forward(to, n, r) => {
                // The reply handle travels on to `to`, which may be on a third node.
                let target = match &self.dist {
                    Some(d) => d.actor_ref::<Cmd>(to).ok(),
                    None => ctx.node().actor_ref::<Cmd>(to).ok(),
                };
                if let Some(t) = target {
                    let _ = t.tell(Cmd::Echo(n, r));
                }
            }
            Cmd::Link(p, r) => {
                r.send(ctx.link(p).is_ok());
            }
            Cmd::Monitor(p, r) => {
                ctx.monitor(p);
                r.send(());
            }
            Cmd::Log(r) => {
                r.send(self.log());
            }
            Cmd::Stop(reason) => ctx.stop(reason),
            Cmd::Swallow(r) => {
                // Held unanswered for good; the marker lets a test know it has arrived.
                std::mem::forget(r);
                self.record(Event::Msg(SWALLOWED));
            }
            Cmd::Panic => panic!("probe panic"),
            Cmd::Relay(target, n, r) => {
                // Tell through the reference, then read the target's log through the same
                // route (ordered after the tell): true once the target has the note.
                let ok = target.tell(Cmd::Note(n)).is_ok()
                    && target
                        .call(Cmd::Log, T)
                        .await
                        .is_ok_and(|log| log.contains(&Event::Msg(n)));
                r.send(ok);
            }
        }
    }
    async fn handle_exit(&mut self, from: Pid, reason: ExitReason, _: &mut Context<Self>) {
        self.record(Event::Exit(from, reason));
    }
    async fn handle_down(&mut self, d: Down, _: &mut Context<Self>) {
        self.record(Event::Down(d.pid, d.reason));
    }
}

static LOGS: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<usize, Vec<Event>>>> =
    std::sync::OnceLock::new();

impl Probe {
    fn key(&self) -> usize {
        self as *const _ as usize
    }
    fn record(&mut self, e: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e.clone());
        }
        LOGS.get_or_init(Default::default)
            .lock()
            .entry(self.key())
            .or_default()
            .push(e);
    }
    fn log(&self) -> Vec<Event> {
        LOGS.get_or_init(Default::default)
            .lock()
            .get(&self.key())
            .cloned()
            .unwrap_or_default()
    }
}

/// Waits for the next node event matching `pred`.
pub async fn wait_event(
    rx: &mut mpsc::Receiver<NodeEvent>,
    pred: impl Fn(&NodeEvent) -> bool,
) -> NodeEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("node event in time")
            .expect("event channel open");
        if pred(&ev) {
            return ev;
        }
        eprintln!("wait_event: skipping {ev:?}");
    }
}

/// A TCP proxy in front of `target`. `blackhole()` stops forwarding without closing;
/// `heal()` resumes; `cut()` closes every proxied connection.
pub struct Proxy {
    pub addr: SocketAddr,
    blackholed: Arc<AtomicBool>,
    cut: Arc<Cut>,
}

/// A cut every pump sees, whether or not it is waiting at that moment.
#[derive(Default)]
pub struct Cut {
    generation: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let blackholed = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Cut::default());
        let (b, c) = (blackholed.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                let c2 = c.clone();
                tokio::spawn(pump(ri, wo, b.clone(), c.clone()));
                tokio::spawn(pump(ro, wi, b.clone(), c2));
            }
        });
        Proxy {
            addr,
            blackholed,
            cut,
        }
    }
    pub fn blackhole(&self) {
        self.blackholed.store(true, Ordering::SeqCst);
    }
    pub fn heal(&self) {
        self.blackholed.store(false, Ordering::SeqCst);
    }
    /// Closes every connection proxied so far.
    pub fn cut(&self) {
        self.cut.generation.fetch_add(1, Ordering::SeqCst);
        self.cut.notify.notify_waiters();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    blackholed: Arc<AtomicBool>,
    cut: Arc<Cut>,
) {
    let born = cut.generation.load(Ordering::SeqCst);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let notified = cut.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if cut.generation.load(Ordering::SeqCst) != born {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(n) if n > 0 => n,
                _ if blackholed.load(Ordering::SeqCst) => {
                    // A partition carries no FIN either: hold the other side open.
                    notified.await;
                    return;
                }
                _ => return,
            },
            _ = &mut notified => return,
        };
        if blackholed.load(Ordering::SeqCst) {
            continue; // swallowed: the connection stays open but carries nothing
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
