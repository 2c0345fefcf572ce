//! Model-based property test of links, monitors and exit signals.
//!
//! Random sequences of spawn / link / unlink / monitor / demonitor / trap_exit / stop / exit
//! signal are run against a real node and, in lockstep, against a small model of OTP's rules:
//! which actors must be alive, with which exit reasons the others died, and which trapped
//! exits and `Down`s every live actor must have received.
//!
//! Every operation is synchronous before the next one starts, without sleeping: commands are
//! calls, predicted deaths are awaited with [`Node::wait_exit`] (registered at spawn, so the
//! real reason is seen), and predicted events are awaited on the probes' event channel. The
//! events of one operation are compared as a multiset (signals from different senders may
//! arrive in any order); events of an actor that dies in the same operation are not checked,
//! since in the real system they are lost with it.
mod common;

use actor_core::{
    ActorRef, CallError, ExitReason, LinkError, MonitorRef, Node, Pid, SpawnError, SpawnOpts,
};
use common::*;
use futures::FutureExt;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;

/// Upper bound on the actors spawned in one case (further spawns are skipped).
const MAX_ACTORS: usize = 8;

/// How long to wait for a predicted death or event before failing. They take microseconds;
/// this bound only keeps a failing case (and its shrinking) from taking too long.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Reason {
    Normal,
    Shutdown,
    Error,
    /// Only as an exit signal (`exit(Pid, kill)`): the target ends with `killed`.
    Kill,
}

impl Reason {
    fn real(self) -> ExitReason {
        match self {
            Reason::Normal => ExitReason::Normal,
            Reason::Shutdown => ExitReason::Shutdown,
            Reason::Error => ExitReason::error("x"),
            Reason::Kill => ExitReason::Kill,
        }
    }
}

/// Which actor an operation uses, resolved when it runs: `Live(i)` is the `i`-th (modulo) of
/// the live actors (or of all, if none is alive), `Any(i)` the `i`-th (modulo) of all actors
/// spawned so far, dead or alive.
#[derive(Clone, Copy, Debug)]
enum Who {
    Live(usize),
    Any(usize),
}

#[derive(Clone, Debug)]
enum Op {
    /// A new probe, optionally linked at spawn (`SpawnOpts::link`) to `link`.
    Spawn { trap: bool, link: Option<Who> },
    /// `a` calls `link(b)`.
    Link { a: Who, b: Who },
    /// `a` calls `unlink(b)`, `b` being the `b`-th (modulo) actor `a` is linked to, or of
    /// all actors if it has no links.
    Unlink { a: Who, b: usize },
    /// `a` calls `monitor(b)`.
    Monitor { a: Who, b: Who },
    /// `a` demonitors the `m`-th (modulo) monitor it has set up.
    Demonitor { a: Who, m: usize },
    /// `a` sets its `trap_exit` flag.
    Trap { a: Who, on: bool },
    /// `a` stops itself with `reason`.
    Stop { a: Who, reason: Reason },
    /// An exit signal to `to`, from the actor `from` or, with `None`, from the node
    /// (`Node::exit`).
    Signal {
        from: Option<Who>,
        to: Who,
        reason: Reason,
    },
}

fn stop_reason() -> impl Strategy<Value = Reason> {
    prop_oneof![
        Just(Reason::Normal),
        Just(Reason::Shutdown),
        Just(Reason::Error)
    ]
}

fn signal_reason() -> impl Strategy<Value = Reason> {
    prop_oneof![
        Just(Reason::Normal),
        Just(Reason::Shutdown),
        Just(Reason::Error),
        Just(Reason::Kill)
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        6 => (0..MAX_ACTORS).prop_map(Who::Live),
        1 => (0..MAX_ACTORS).prop_map(Who::Any),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            prop::bool::weighted(0.5),
            proptest::option::weighted(0.3, who())
        )
            .prop_map(|(trap, link)| Op::Spawn { trap, link }),
        6 => (who(), who()).prop_map(|(a, b)| Op::Link { a, b }),
        2 => (who(), 0..MAX_ACTORS).prop_map(|(a, b)| Op::Unlink { a, b }),
        5 => (who(), who()).prop_map(|(a, b)| Op::Monitor { a, b }),
        1 => (who(), 0..4usize).prop_map(|(a, m)| Op::Demonitor { a, m }),
        1 => (who(), any::<bool>()).prop_map(|(a, on)| Op::Trap { a, on }),
        1 => (who(), stop_reason()).prop_map(|(a, reason)| Op::Stop { a, reason }),
        1 => who().prop_map(|to| Op::Signal { from: None, to, reason: Reason::Kill }),
        2 => (proptest::option::of(who()), who(), signal_reason())
            .prop_map(|(from, to, reason)| Op::Signal { from, to, reason }),
        // `exit(self(), reason)`: `normal` ends a process that does not trap exits.
        1 => (who(), signal_reason())
            .prop_map(|(a, reason)| Op::Signal { from: Some(a), to: a, reason }),
    ]
}

struct Mon {
    watcher: usize,
    target: usize,
    mref: MonitorRef,
    /// Set up on a live target and neither fired nor removed yet.
    active: bool,
}

/// What OTP says the node must look like.
#[derive(Default)]
struct Model {
    pids: Vec<Pid>,
    alive: Vec<bool>,
    trap: Vec<bool>,
    reason: Vec<Option<ExitReason>>,
    /// Links between two different actors, as `(min, max)`. A link to oneself has no effect.
    links: BTreeSet<(usize, usize)>,
    monitors: Vec<Mon>,
    /// Every event each actor must have received so far.
    expected: Vec<Vec<Event>>,
    /// Produced by the current operation: events (filtered on liveness at its end) and deaths.
    pending: Vec<(usize, Event)>,
    died: Vec<usize>,
}

impl Model {
    fn spawn(&mut self, pid: Pid, trap: bool) {
        self.pids.push(pid);
        self.alive.push(true);
        self.trap.push(trap);
        self.reason.push(None);
        self.expected.push(Vec::new());
    }

    fn link(&mut self, a: usize, b: usize) -> Result<(), LinkError> {
        if !self.alive[b] {
            return Err(LinkError::NoProc(self.pids[b]));
        }
        if a != b {
            self.links.insert((a.min(b), a.max(b)));
        }
        Ok(())
    }

    /// The actors `a` is linked to.
    fn peers(&self, a: usize) -> Vec<usize> {
        self.links
            .iter()
            .filter(|&&(p, q)| p == a || q == a)
            .map(|&(p, q)| if p == a { q } else { p })
            .collect()
    }

    fn unlink(&mut self, a: usize, b: usize) {
        self.links.remove(&(a.min(b), a.max(b)));
    }

    fn monitor(&mut self, a: usize, b: usize, mref: MonitorRef) {
        let active = self.alive[b];
        if !active {
            self.pending
                .push((a, Event::Down(mref, self.pids[b], ExitReason::NoProc)));
        }
        self.monitors.push(Mon {
            watcher: a,
            target: b,
            mref,
            active,
        });
    }

    /// The monitors `a` has set up, in order.
    fn monitors_of(&self, a: usize) -> Vec<usize> {
        (0..self.monitors.len())
            .filter(|&i| self.monitors[i].watcher == a)
            .collect()
    }

    /// An exit signal (not through a link) from `from` to `to`.
    fn exit_signal(&mut self, from: Pid, to: usize, reason: ExitReason) {
        if !self.alive[to] {
            return;
        }
        if reason == ExitReason::Kill {
            self.die(to, ExitReason::Killed);
        } else if self.trap[to] {
            self.pending.push((to, Event::Exit(from, reason)));
        } else if !reason.is_normal() || from == self.pids[to] {
            // `exit(self(), normal)` ends a process that does not trap exits, as in OTP.
            self.die(to, reason);
        }
    }

    /// `root` exits with `reason`; links and monitors fire, recursively.
    fn die(&mut self, root: usize, reason: ExitReason) {
        if !self.alive[root] {
            return;
        }
        self.alive[root] = false;
        self.reason[root] = Some(reason.clone());
        self.died.push(root);
        let mut queue = vec![root];
        while let Some(x) = queue.pop() {
            let peers = self.peers(x);
            self.links.retain(|&(p, q)| p != x && q != x);
            for y in peers {
                if !self.alive[y] {
                    continue;
                }
                if self.trap[y] {
                    self.pending
                        .push((y, Event::Exit(self.pids[x], reason.clone())));
                } else if !reason.is_normal() {
                    self.alive[y] = false;
                    self.reason[y] = Some(reason.clone());
                    self.died.push(y);
                    queue.push(y);
                }
            }
            for m in self.monitors.iter_mut() {
                if m.target == x && m.active {
                    m.active = false;
                    self.pending
                        .push((m.watcher, Event::Down(m.mref, self.pids[x], reason.clone())));
                } else if m.watcher == x && m.active {
                    // A watcher's exit removes its monitors from their targets (no `Down`).
                    m.active = false;
                }
            }
        }
    }
}

type ExitFuture = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

struct Real {
    r: ActorRef<Cmd>,
    /// `wait_exit`, registered at spawn so that it yields the real reason.
    exit: ExitFuture,
    /// The events received on the channel, in order.
    seen: Vec<Event>,
}

/// Sorted by their `Debug` form: a multiset comparison for a type without `Ord`.
fn sorted(mut v: Vec<Event>) -> Vec<Event> {
    v.sort_by_key(|e| format!("{e:?}"));
    v
}

struct Harness {
    node: Node,
    tx: mpsc::UnboundedSender<(Pid, Event)>,
    rx: mpsc::UnboundedReceiver<(Pid, Event)>,
    real: Vec<Real>,
    model: Model,
}

impl Harness {
    fn index_of(&self, pid: Pid) -> usize {
        self.model
            .pids
            .iter()
            .position(|p| *p == pid)
            .expect("event from an unknown pid")
    }

    /// Resolves `w` to an actor index; there must be at least one actor.
    fn pick(&self, w: Who) -> usize {
        let live: Vec<usize> = (0..self.real.len())
            .filter(|&i| self.model.alive[i])
            .collect();
        match w {
            Who::Live(i) if !live.is_empty() => live[i % live.len()],
            Who::Live(i) | Who::Any(i) => i % self.real.len(),
        }
    }

    /// Spawns a probe, linked at spawn to the actor `link` if given.
    async fn spawn(&mut self, trap: bool, link: Option<usize>) {
        let opts = SpawnOpts {
            trap_exit: trap,
            link: link.map(|l| self.model.pids[l]),
            ..SpawnOpts::default()
        };
        let got = self
            .node
            .spawn_opts(Probe::with_events(self.tx.clone()), opts)
            .await;
        let r = match (link, got) {
            (Some(l), Err(e)) if !self.model.alive[l] => {
                assert_eq!(e, SpawnError::LinkNoProc(self.model.pids[l]));
                return;
            }
            (_, got) => got.expect("spawn"),
        };
        let exit: ExitFuture = Box::pin(self.node.wait_exit(r.pid()));
        self.model.spawn(r.pid(), trap);
        if let Some(l) = link {
            let i = self.model.pids.len() - 1;
            assert_eq!(self.model.link(i, l), Ok(()), "spawn linked to {l}");
        }
        self.real.push(Real {
            r,
            exit,
            seen: Vec::new(),
        });
    }

    /// Runs one operation on the node and in the model, then waits until the node has caught
    /// up with the model and checks it.
    async fn step(&mut self, op: &Op) {
        let n = self.real.len();
        if n == 0 && !matches!(op, Op::Spawn { .. }) {
            return;
        }
        match *op {
            Op::Spawn { trap, link } => {
                if n < MAX_ACTORS {
                    let link = link.filter(|_| n > 0).map(|w| self.pick(w));
                    self.spawn(trap, link).await;
                }
            }
            Op::Link { a, b } => {
                let (a, b) = (self.pick(a), self.pick(b));
                let got = self.real[a]
                    .r
                    .call(|r| Cmd::Link(self.model.pids[b], r), T)
                    .await;
                if self.model.alive[a] {
                    let want = self.model.link(a, b);
                    assert_eq!(got, Ok(want), "{op:?}");
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} on a dead actor");
                }
            }
            Op::Unlink { a, b } => {
                let a = self.pick(a);
                let peers = self.model.peers(a);
                let b = if peers.is_empty() {
                    b % n
                } else {
                    peers[b % peers.len()]
                };
                let got = self.real[a]
                    .r
                    .call(|r| Cmd::Unlink(self.model.pids[b], r), T)
                    .await;
                if self.model.alive[a] {
                    self.model.unlink(a, b);
                    assert_eq!(got, Ok(()), "{op:?}");
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} on a dead actor");
                }
            }
            Op::Monitor { a, b } => {
                let (a, b) = (self.pick(a), self.pick(b));
                let got = self.real[a]
                    .r
                    .call(|r| Cmd::Monitor(self.model.pids[b], r), T)
                    .await;
                if self.model.alive[a] {
                    let mref = got.expect("monitor");
                    self.model.monitor(a, b, mref);
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} on a dead actor");
                }
            }
            Op::Demonitor { a, m } => {
                let a = self.pick(a);
                let mine = self.model.monitors_of(a);
                if mine.is_empty() {
                    return;
                }
                let i = mine[m % mine.len()];
                let mref = self.model.monitors[i].mref;
                let got = self.real[a].r.call(|r| Cmd::Demonitor(mref, r), T).await;
                if self.model.alive[a] {
                    let was_active = std::mem::replace(&mut self.model.monitors[i].active, false);
                    assert_eq!(
                        got,
                        Ok(was_active),
                        "{op:?}: demonitor of a monitor on {}",
                        self.model.pids[self.model.monitors[i].target]
                    );
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} on a dead actor");
                }
            }
            Op::Trap { a, on } => {
                let a = self.pick(a);
                let got = self.real[a].r.call(|r| Cmd::Trap(on, r), T).await;
                if self.model.alive[a] {
                    self.model.trap[a] = on;
                    assert_eq!(got, Ok(()), "{op:?}");
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} on a dead actor");
                }
            }
            Op::Stop { a, reason } => {
                let a = self.pick(a);
                let sent = self.real[a].r.tell(Cmd::Stop(reason.real())).is_ok();
                assert_eq!(sent, self.model.alive[a], "{op:?}: tell to a live actor");
                if sent {
                    self.model.die(a, reason.real());
                }
            }
            Op::Signal {
                from: None,
                to,
                reason,
            } => {
                let to = self.pick(to);
                self.node.exit(self.model.pids[to], reason.real());
                let node_pid = self.node.pid();
                self.model.exit_signal(node_pid, to, reason.real());
            }
            Op::Signal {
                from: Some(from),
                to,
                reason,
            } => {
                let (from, to) = (self.pick(from), self.pick(to));
                let target = self.model.pids[to];
                let got = self.real[from]
                    .r
                    .call(|r| Cmd::Exit(target, reason.real(), r), T)
                    .await;
                if self.model.alive[from] {
                    self.model
                        .exit_signal(self.model.pids[from], to, reason.real());
                    // The reply is sent right after the signal, but if the signal ends the
                    // sender itself (directly or through links) the call may see its exit.
                    match got {
                        Ok(()) => {}
                        Err(e) => assert!(
                            !self.model.alive[from]
                                && e == CallError::Exit(self.model.reason[from].clone().unwrap()),
                            "{op:?}: {e:?}"
                        ),
                    }
                } else {
                    assert!(got.unwrap_err().is_noproc(), "{op:?} from a dead actor");
                }
            }
        }
        self.settle(op).await;
    }

    /// Waits for the deaths and events the model predicts for the last operation, and checks
    /// that nothing else happened so far.
    async fn settle(&mut self, op: &Op) {
        for d in std::mem::take(&mut self.model.died) {
            let want = self.model.reason[d].clone().unwrap();
            let got = tokio::time::timeout(SETTLE, &mut self.real[d].exit)
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "after {op:?}: {} should have died with {want:?}",
                        self.model.pids[d]
                    )
                });
            assert_eq!(
                got, want,
                "after {op:?}: exit reason of {}",
                self.model.pids[d]
            );
        }
        // Events for actors that died meanwhile are not checked: they are lost with them.
        let mut wanted: Vec<(usize, Event)> = std::mem::take(&mut self.model.pending)
            .into_iter()
            .filter(|(i, _)| self.model.alive[*i])
            .collect();
        for (i, e) in &wanted {
            self.model.expected[*i].push(e.clone());
        }
        let mut got: Vec<Vec<Event>> = vec![Vec::new(); self.real.len()];
        while !wanted.is_empty() {
            let (pid, ev) = tokio::time::timeout(SETTLE, self.rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("after {op:?}: still waiting for {wanted:?}; received {got:?}")
                })
                .expect("the harness holds a sender");
            let i = self.index_of(pid);
            if !self.model.alive[i] {
                continue;
            }
            self.real[i].seen.push(ev.clone());
            got[i].push(ev.clone());
            match wanted.iter().position(|(j, e)| *j == i && *e == ev) {
                Some(k) => {
                    wanted.swap_remove(k);
                }
                None => panic!("after {op:?}: unexpected event at {pid}: {ev:?}"),
            }
        }
        while let Ok((pid, ev)) = self.rx.try_recv() {
            let i = self.index_of(pid);
            assert!(
                !self.model.alive[i],
                "after {op:?}: unexpected event at {pid}: {ev:?}"
            );
        }
        for (i, real) in self.real.iter_mut().enumerate() {
            if self.model.alive[i] {
                if let Some(reason) = (&mut real.exit).now_or_never() {
                    panic!(
                        "after {op:?}: {} died with {reason:?}, but should be alive",
                        self.model.pids[i]
                    );
                }
            }
        }
    }

    /// The final comparison: live processes, and every live actor's full log.
    async fn check_end(&mut self) {
        let mut want_alive: Vec<Pid> = (0..self.real.len())
            .filter(|&i| self.model.alive[i])
            .map(|i| self.model.pids[i])
            .collect();
        want_alive.sort();
        assert_eq!(self.node.processes(), want_alive, "live processes");
        for i in 0..self.real.len() {
            if !self.model.alive[i] {
                continue;
            }
            let got = log(&self.real[i].r).await;
            assert_eq!(
                got, self.real[i].seen,
                "log of {} differs from the events it reported",
                self.model.pids[i]
            );
            assert_eq!(
                sorted(got),
                sorted(self.model.expected[i].clone()),
                "events received by {}",
                self.model.pids[i]
            );
        }
        assert_eq!(self.node.processes(), want_alive, "live processes");
        // What each live actor holds is exactly what the model says: the monitors on it of
        // live watchers (none left behind by watchers that exited) and its links.
        for i in 0..self.real.len() {
            if !self.model.alive[i] {
                continue;
            }
            let held = self
                .model
                .monitors
                .iter()
                .filter(|m| m.target == i && m.active)
                .count();
            let pid = self.model.pids[i];
            assert_eq!(self.node.monitor_count(pid), held, "monitors held on {pid}");
            assert_eq!(
                self.node.link_count(pid),
                self.model.peers(i).len(),
                "links of {pid}"
            );
        }
    }
}

/// Runs one case on a fresh runtime and node; returns the surviving actors' indices with the
/// events the model expected for them (already checked against the node).
fn run_case(initial: &[bool], ops: &[Op]) -> Vec<(usize, Vec<Event>)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut h = Harness {
            node: Node::new("model@localhost"),
            tx,
            rx,
            real: Vec::new(),
            model: Model::default(),
        };
        for &trap in initial {
            h.spawn(trap, None).await;
        }
        for op in ops {
            h.step(op).await;
        }
        h.check_end().await;
        h.node.shutdown();
        (0..h.real.len())
            .filter(|&i| h.model.alive[i])
            .map(|i| (i, h.model.expected[i].clone()))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        // A failure that times out costs `SETTLE` per shrinking step: bound the shrinking.
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn links_monitors_and_exits_follow_the_model(
        initial in proptest::collection::vec(prop::bool::weighted(0.5), 2..=5),
        ops in proptest::collection::vec(op(), 5..=25),
    ) {
        let _ = run_case(&initial, &ops);
    }
}

/// A fixed case covering a cascade through links, a trapping neighbour and monitors, so that
/// the basic path runs whatever the generator does, with the model's prediction spelt out.
#[test]
fn cascade_through_links_with_trapper_and_monitor() {
    use Who::Any;
    let survivors = run_case(
        &[false, false, true, false],
        &[
            Op::Link {
                a: Any(0),
                b: Any(1),
            },
            Op::Link {
                a: Any(1),
                b: Any(2),
            },
            Op::Link {
                a: Any(1),
                b: Any(3),
            },
            Op::Monitor {
                a: Any(2),
                b: Any(0),
            },
            Op::Monitor {
                a: Any(2),
                b: Any(3),
            },
            Op::Monitor {
                a: Any(3),
                b: Any(1),
            },
            // 0 dies, 1 and 3 follow through links, 2 traps and survives.
            Op::Stop {
                a: Any(0),
                reason: Reason::Error,
            },
            // noproc, and a `Down` with noproc at once.
            Op::Link {
                a: Any(2),
                b: Any(0),
            },
            Op::Monitor {
                a: Any(2),
                b: Any(1),
            },
            // `exit(self(), normal)` while trapping is a message.
            Op::Signal {
                from: Some(Any(2)),
                to: Any(2),
                reason: Reason::Normal,
            },
            // Linking at spawn to a dead actor fails; to a live one links.
            Op::Spawn {
                trap: false,
                link: Some(Any(0)),
            },
            Op::Spawn {
                trap: false,
                link: Some(Any(2)),
            },
            Op::Signal {
                from: None,
                to: Any(4),
                reason: Reason::Kill,
            },
        ],
    );
    let alive: Vec<usize> = survivors.iter().map(|(i, _)| *i).collect();
    assert_eq!(alive, vec![2]);
    let mut kinds: Vec<String> = survivors[0]
        .1
        .iter()
        .map(|e| match e {
            Event::Exit(_, r) => format!("exit {r}"),
            Event::Down(_, _, r) => format!("down {r}"),
            Event::Msg(n) => format!("msg {n}"),
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "down noproc",
            "down x",
            "down x",
            "exit killed",
            "exit normal",
            "exit x"
        ]
    );
}
