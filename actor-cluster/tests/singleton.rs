//! Cluster singletons on 3 in-process nodes (links through proxies; n3 is the oldest):
//! exactly one instance, on the oldest; a graceful leave hands over with the old instance
//! stopped first; an abrupt stop of the host restarts it elsewhere; a partition stops the
//! minority's instance and starts one on the majority; after the heal exactly one remains.
//! Every instance counts itself in a counter shared by the whole process, so "at most one
//! live" is checked at every start, not by sampling.
mod common;

use actor_cluster::locks::Locks;
use actor_cluster::membership::{Lease, LeaseError, MembershipConfig, QuorumState, TestLease};
use actor_cluster::singleton::{
    Singleton, SingletonConfig, SingletonError, SingletonEvent, StopCause,
};
use actor_core::{Actor, Context, ExitReason, Message, ReplyTo};
use common::{eventually, name, Cluster, T};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Serialize, Deserialize)]
enum Ask {
    Where(ReplyTo<String>),
}
impl Message for Ask {
    const NAME: &'static str = "test.singleton.Ask";
}

/// What every instance in the process records: the order of starts and stops, how many are
/// live now, and the most ever live at once.
#[derive(Clone, Default)]
struct Book {
    log: Arc<Mutex<Vec<String>>>,
    live: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Book {
    fn log(&self) -> Vec<String> {
        self.log.lock().clone()
    }
    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
    /// The log starts with `first`, and `not_again` never starts after that.
    fn assert_starts_with(&self, first: &[String], not_again: &str) {
        let log = self.log();
        assert!(log.starts_with(first), "{log:?}");
        let again = format!("start {not_again}");
        assert!(!log[first.len()..].contains(&again), "{log:?}");
    }
    fn assert_never_two(&self) {
        assert!(
            self.most.load(Ordering::SeqCst) <= 1,
            "two instances live at once: {:?}",
            self.log()
        );
    }
}

struct Live {
    book: Book,
    node: String,
}
impl Drop for Live {
    fn drop(&mut self) {
        self.book.live.fetch_sub(1, Ordering::SeqCst);
        self.book.log.lock().push(format!("stop {}", self.node));
    }
}

struct Inst {
    node: String,
    book: Book,
    live: Option<Live>,
}

impl Actor for Inst {
    type Msg = Ask;
    async fn started(&mut self, _: &mut Context<Self>) -> Result<(), ExitReason> {
        let mut log = self.book.log.lock();
        let n = self.book.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.book.most.fetch_max(n, Ordering::SeqCst);
        log.push(format!("start {}", self.node));
        drop(log);
        self.live = Some(Live {
            book: self.book.clone(),
            node: self.node.clone(),
        });
        Ok(())
    }
    async fn handle(&mut self, Ask::Where(r): Ask, _: &mut Context<Self>) {
        r.send(self.node.clone());
    }
}

/// n3 is the oldest, n1 the youngest.
fn cfg(i: usize) -> MembershipConfig {
    MembershipConfig::new().started(10 - i as u64)
}

struct Setup {
    c: Cluster,
    s: Vec<Singleton<Ask>>,
    book: Book,
}

impl Setup {
    async fn start() -> Setup {
        Self::start_with(|| SingletonConfig::new("ticker").handover_wait(T)).await
    }

    async fn start_with(sc: impl Fn() -> SingletonConfig) -> Setup {
        let c = Cluster::start(3, cfg).await;
        let book = Book::default();
        let mut s = Vec::new();
        for m in &c.members {
            let locks = Locks::start(&m.dist).await.unwrap();
            let (node, b) = (m.name(), book.clone());
            let sc = sc();
            s.push(
                Singleton::start(&m.m, &locks, sc, move || Inst {
                    node: node.clone(),
                    book: b.clone(),
                    live: None,
                })
                .await,
            );
        }
        Setup { c, s, book }
    }

    fn s(&self, i: usize) -> &Singleton<Ask> {
        &self.s[i - 1]
    }

    async fn ask_from(&self, i: usize) -> Result<String, SingletonError> {
        self.s(i)
            .proxy()
            .call(Ask::Where, Duration::from_secs(5))
            .await
    }

    /// Waits until exactly one instance is live, on `host`.
    async fn wait_one_on(&self, host: usize) {
        let s = self.s(host);
        eventually(&format!("one instance, on n{host}"), || {
            s.local().is_some() && self.book.live() == 1
        })
        .await;
    }
}

/// The next event of `rx` matching `f`, within `T`.
async fn next_event(
    rx: &mut mpsc::Receiver<SingletonEvent>,
    f: impl Fn(&SingletonEvent) -> bool,
) -> SingletonEvent {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("event in time")
            .expect("events open");
        if f(&ev) {
            return ev;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_instance_on_the_oldest_reached_from_every_node() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    for i in 1..=3 {
        assert_eq!(s.ask_from(i).await, Ok(name(3)), "from n{i}");
        assert_eq!(s.s(i).status().host, Some(name(3)));
    }
    for i in [1, 2] {
        assert!(s.s(i).local().is_none());
    }
    // Only ever on n3 (on a loaded machine a host that misses heartbeats for a moment
    // stops its instance and starts it again: churn, never two).
    assert!(
        s.book.log().iter().all(|l| l.ends_with(&name(3))),
        "{:?}",
        s.book.log()
    );
    s.book.assert_never_two();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_hands_over_with_the_old_instance_stopped_first() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    let mut ev3 = s.s(3).subscribe();
    let mut ev2 = s.s(2).subscribe();
    // A caller on n1 during the hand-over waits and reaches the new instance.
    let p1 = s.s(1).proxy();
    let confirmed = s.c.m(3).m.leave(T).await;
    assert_eq!(confirmed.len(), 2);
    let asked = tokio::spawn(async move { p1.call(Ask::Where, Duration::from_secs(5)).await });
    let stopped = next_event(&mut ev3, |e| matches!(e, SingletonEvent::Stopped { .. })).await;
    assert!(
        matches!(&stopped, SingletonEvent::Stopped { cause: StopCause::Leaving, reason, .. } if *reason == ExitReason::Shutdown),
        "{stopped:?}"
    );
    next_event(&mut ev2, |e| matches!(e, SingletonEvent::Started { .. })).await;
    let answer = asked.await.unwrap().unwrap();
    assert!([name(1), name(2)].contains(&answer), "{answer}");
    // The order across nodes: n3's instance was gone before another started.
    s.book.assert_starts_with(
        &[format!("start {}", name(3)), format!("stop {}", name(3))],
        &name(3),
    );
    s.wait_one_on(2).await;
    s.book.assert_never_two();
    // The leaver never hosts it again.
    assert!(s.s(3).local().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_stop_of_the_host_restarts_it_elsewhere() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    let mut ev2 = s.s(2).subscribe();
    // As a SIGKILL: n3's connections close and everything on it dies at once.
    s.c.link(1, 3).reset();
    s.c.link(2, 3).reset();
    s.c.m(3).dist.shutdown();
    s.c.m(3).dist.node().shutdown();
    next_event(&mut ev2, |e| matches!(e, SingletonEvent::Started { .. })).await;
    s.wait_one_on(2).await;
    assert_eq!(s.ask_from(1).await, Ok(name(2)));
    s.book.assert_never_two();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moves_it_to_the_majority_and_a_heal_leaves_exactly_one() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    let mut ev3 = s.s(3).subscribe();
    let mut ev2 = s.s(2).subscribe();
    s.c.cut(&[1, 2], &[3]);
    // The minority (n3, the oldest) stops its instance: it is not quorate.
    let stopped = next_event(&mut ev3, |e| matches!(e, SingletonEvent::Stopped { .. })).await;
    assert!(
        matches!(
            &stopped,
            SingletonEvent::Stopped {
                cause: StopCause::NotQuorate,
                ..
            }
        ),
        "{stopped:?}"
    );
    // The majority starts one on its oldest, n2, after n3's stopped.
    next_event(&mut ev2, |e| matches!(e, SingletonEvent::Started { .. })).await;
    s.wait_one_on(2).await;
    let answer = s.ask_from(1).await.unwrap();
    assert!([name(1), name(2)].contains(&answer), "{answer}");
    s.book.assert_starts_with(
        &[format!("start {}", name(3)), format!("stop {}", name(3))],
        &name(3),
    );
    // While cut, n3 runs none and reaches none (fails after its wait).
    assert_ne!(s.c.m(3).m.quorum().state(), QuorumState::Quorate);
    assert!(s.s(3).local().is_none());

    // Heal: n3 is the oldest again and takes over; at every moment at most one is live
    // (checked at each start by the shared counter, and sampled here every 2 ms).
    let sampled = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (ss, sampled) = (s.s.clone(), sampled.clone());
        tokio::spawn(async move {
            loop {
                let n = ss.iter().filter(|x| x.local().is_some()).count();
                sampled.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    s.c.heal_all();
    s.c.wait_whole().await;
    // n2 stops its instance: n3 is the host in the merged view (or n2 counts itself out for
    // a moment while the heal settles, which stops it too).
    let handed = next_event(&mut ev2, |e| matches!(e, SingletonEvent::Stopped { .. })).await;
    assert!(
        matches!(
            &handed,
            SingletonEvent::Stopped {
                cause: StopCause::HandOver | StopCause::NotQuorate,
                ..
            }
        ),
        "{handed:?}"
    );
    s.wait_one_on(3).await;
    sampler.abort();
    for i in 1..=3 {
        assert_eq!(s.ask_from(i).await, Ok(name(3)), "from n{i}");
    }
    assert!(sampled.load(Ordering::SeqCst) <= 1);
    s.book.assert_never_two();
    assert_eq!(s.book.live(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instance_is_restarted_and_try_tell_fails_fast_meanwhile() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    let mut ev3 = s.s(3).subscribe();
    let first = s.s(3).local().unwrap();
    s.c.m(3)
        .dist
        .node()
        .exit(first.pid(), ExitReason::error("boom"));
    let ev = next_event(&mut ev3, |e| matches!(e, SingletonEvent::Stopped { .. })).await;
    assert!(matches!(
        ev,
        SingletonEvent::Stopped {
            cause: StopCause::Exited,
            ..
        }
    ));
    // Within the restart delay: no instance; try_tell says so at once.
    assert!(matches!(
        s.s(3).proxy().try_tell(Ask::Where(ReplyTo::pair().0)),
        Err(SingletonError::NoInstance { .. })
    ));
    next_event(&mut ev3, |e| matches!(e, SingletonEvent::Started { .. })).await;
    assert_ne!(s.s(3).local().unwrap().pid(), first.pid());
    assert_eq!(s.ask_from(1).await, Ok(name(3)));
    s.book.assert_never_two();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_a_cut_3_2_keeps_or_restarts_it_on_the_majority() {
    // n1 is the oldest.
    let c = Cluster::start(5, common::member_config).await;
    let book = Book::default();
    let mut s = Vec::new();
    for m in &c.members {
        let locks = Locks::start(&m.dist).await.unwrap();
        let (node, b) = (m.name(), book.clone());
        s.push(
            Singleton::start(&m.m, &locks, SingletonConfig::new("ticker"), move || Inst {
                node: node.clone(),
                book: b.clone(),
                live: None,
            })
            .await,
        );
    }
    eventually("one instance on n1", || {
        s[0].local().is_some() && book.live() == 1
    })
    .await;
    c.cut(&[1, 2, 3], &[4, 5]);
    let diag = || {
        let st: Vec<String> = (1..=5)
            .map(|i| {
                let x = c.m(i).m.status();
                let h = s[i - 1].status();
                format!(
                    "n{i}: {:?} {:?} host {:?} local {:?}",
                    x.quorum, x.quorum_side, h.host, h.local
                )
            })
            .collect();
        format!("{st:#?} live {} log {:?}", book.live(), book.log())
    };
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let majority = c.m(1).m.status();
        if majority.quorum == QuorumState::Quorate
            && majority.quorum_side == vec![name(1), name(2), name(3)]
            && [4, 5]
                .iter()
                .all(|&i| c.m(i).m.quorum().state() != QuorumState::Quorate)
            && s[0].local().is_some()
            && book.live() == 1
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "while cut: {}",
            diag()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.heal_all();
    c.wait_whole().await;
    let deadline = tokio::time::Instant::now() + T;
    while !(s[0].local().is_some() && book.live() == 1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the heal: {}",
            diag()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eventually("one instance on n1 after the heal", || {
        s[0].local().is_some() && book.live() == 1
    })
    .await;
    book.assert_never_two();
}

/// A test lease that counts the requests.
#[derive(Clone, Default)]
struct Counted {
    lease: TestLease,
    asks: Arc<AtomicUsize>,
}

impl Lease for Counted {
    fn acquire(&self, owner: &str) -> futures::future::BoxFuture<'_, Result<bool, LeaseError>> {
        self.asks.fetch_add(1, Ordering::SeqCst);
        self.lease.acquire(owner)
    }
    fn release(&self, owner: &str) -> futures::future::BoxFuture<'_, Result<(), LeaseError>> {
        self.lease.release(owner)
    }
    fn holder(&self) -> futures::future::BoxFuture<'_, Result<Option<String>, LeaseError>> {
        self.lease.holder()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_lease_it_runs_only_while_the_host_holds_the_lease() {
    let lease = Counted::default();
    lease.lease.acquire("someone-else").await.unwrap();
    let l = lease.clone();
    let s = Setup::start_with(move || {
        SingletonConfig::new("ticker")
            .lease(Arc::new(l.clone()))
            .handover_wait(Duration::from_secs(2))
    })
    .await;
    // The host asks again and again and never starts while another owner holds the lease.
    eventually("the host asked three times", || {
        lease.asks.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert_eq!(s.book.live(), 0);
    assert!(s.s(3).local().is_none());
    // Callers wait, at most `max_waiting` (1024 by default) of them, then fail clearly.
    assert!(matches!(
        s.ask_from(1).await,
        Err(SingletonError::NoInstance { waited, .. }) if waited >= Duration::from_secs(2)
    ));
    lease.lease.release("someone-else").await.unwrap();
    s.wait_one_on(3).await;
    assert_eq!(lease.lease.current(), Some(name(3)));
    // A graceful leave releases the lease after the instance stopped; the next host takes it.
    s.c.m(3).m.leave(T).await;
    s.wait_one_on(2).await;
    assert_eq!(lease.lease.current(), Some(name(2)));
    s.book.assert_never_two();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_callers_are_bounded() {
    let lease = TestLease::new();
    lease.acquire("someone-else").await.unwrap();
    let l = lease.clone();
    let s = Setup::start_with(move || {
        let mut c = SingletonConfig::new("ticker")
            .lease(Arc::new(l.clone()))
            .handover_wait(Duration::from_secs(2));
        c.max_waiting = 1;
        c
    })
    .await;
    let p = s.s(1).proxy();
    let (a, b) = tokio::join!(
        p.call(Ask::Where, Duration::from_secs(1)),
        p.call(Ask::Where, Duration::from_secs(1))
    );
    let mut outcomes = [a, b].map(|r| match r {
        Err(SingletonError::Busy { .. }) => "busy",
        Err(SingletonError::NoInstance { .. }) => "no instance",
        other => panic!("{other:?}"),
    });
    outcomes.sort();
    assert_eq!(outcomes, ["busy", "no instance"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_downing_the_host_moves_it() {
    let s = Setup::start().await;
    s.wait_one_on(3).await;
    let mut ev3 = s.s(3).subscribe();
    // Read-only downing (the default): n3 stays up, is not quorate, stops its instance.
    let applied = s.c.m(1).m.down(&name(3), T).await.unwrap();
    assert!(applied.contains(&name(3)), "{applied:?}");
    let stopped = next_event(&mut ev3, |e| matches!(e, SingletonEvent::Stopped { .. })).await;
    assert!(
        matches!(
            &stopped,
            SingletonEvent::Stopped {
                cause: StopCause::NotQuorate,
                ..
            }
        ),
        "{stopped:?}"
    );
    s.wait_one_on(2).await;
    s.book.assert_starts_with(
        &[format!("start {}", name(3)), format!("stop {}", name(3))],
        &name(3),
    );
    // n2 normally; n1 if n2 missed heartbeats for a moment (a tie of two: n1 keeps).
    let answer = s.ask_from(1).await.unwrap();
    assert!([name(1), name(2)].contains(&answer), "{answer}");
    s.book.assert_never_two();
}
