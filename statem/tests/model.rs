//! Property test: random scripts of events and actions (postpone, next_event, state / event /
//! generic timeouts set, restarted, updated, cancelled, zero timeouts, state changes,
//! repeat_state, enter calls) run on a real machine in paused time and on a small reference
//! model of gen_statem's queue and timer rules; the two traces must be equal.
use actor_core::{ExitReason, Node};
use parking_lot::Mutex;
use proptest::prelude::*;
use statem::{Action, Ctx, Event, StateMachine, Statem, Timeout, Transition};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

// ---- scripts --------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TKey {
    State,
    Event,
    Generic(u8),
}

#[derive(Clone, Copy, Debug)]
enum TAct {
    /// Time in ms (0: a zero timeout) and the content (a script id).
    Set(u64, u32),
    Update(u32),
    Cancel,
}

#[derive(Clone, Copy, Debug)]
enum A {
    Postpone,
    Next(u32),
    Timer(TKey, TAct),
}

#[derive(Clone, Copy, Debug)]
enum R {
    Keep,
    Goto(u8),
    Repeat,
}

#[derive(Clone, Debug)]
struct Script {
    actions: Vec<A>,
    result: R,
}

/// What runs when an event with content `id` is handled; ids `>= scripts.len()` do nothing.
#[derive(Clone, Debug)]
struct Scripts {
    events: Vec<Script>,
    /// Per state: the timeout actions of its enter call.
    enter: Vec<Vec<(TKey, TAct)>>,
}

impl Scripts {
    fn get(&self, id: u32) -> Option<&Script> {
        self.events.get(id as usize)
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Cast(u32),
    Wait(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Cast,
    Internal,
    State,
    Event,
    Generic(u8),
}

fn kind_of(k: TKey) -> Kind {
    match k {
        TKey::State => Kind::State,
        TKey::Event => Kind::Event,
        TKey::Generic(n) => Kind::Generic(n),
    }
}

fn line(ms: u64, state: u8, kind: Kind, id: u32) -> String {
    format!("{ms} s{state} {kind:?}:{id}")
}

fn enter_line(ms: u64, state: u8, old: u8) -> String {
    format!("{ms} s{state} enter<-s{old}")
}

// ---- the reference model --------------------------------------------------------------------

#[derive(Clone)]
struct Model {
    s: Arc<Scripts>,
    now: u64,
    state: u8,
    queue: VecDeque<(Kind, u32)>,
    postponed: Vec<(Kind, u32)>,
    /// Per timer: its deadline (`None`: a zero timeout waiting in `t0q`), its content, and
    /// its start order (for timers due at the same instant).
    timers: BTreeMap<TKey, (Option<u64>, u32, u64)>,
    t0q: Vec<TKey>,
    seq: u64,
    trace: Vec<String>,
    /// Events handled at `now`.
    handled: usize,
    total: usize,
}

/// The case cannot be checked: too many events at one instant (a livelock of inserted or
/// retried events, zero timeouts and state changes, which the real machine would never leave),
/// too many in all, or a timer cycle so dense that every wait ends when a timer fires.
struct Livelock;

/// Events at one instant before the model calls it a livelock.
const BUDGET: usize = 1000;
/// Events in all.
const TOTAL: usize = 20_000;

impl Model {
    fn new(s: Arc<Scripts>) -> Result<Model, Livelock> {
        let mut m = Model {
            s,
            now: 0,
            state: 0,
            queue: VecDeque::new(),
            postponed: Vec::new(),
            timers: BTreeMap::new(),
            t0q: Vec::new(),
            seq: 0,
            trace: Vec::new(),
            handled: 0,
            total: 0,
        };
        // init: the initial state's enter call, then a keep-state transition.
        m.trace.push(enter_line(0, 0, 0));
        let touts = m.s.enter[0].clone();
        m.timeouts(&touts);
        m.drain()?;
        Ok(m)
    }

    fn cancel(&mut self, k: TKey) {
        if let Some((deadline, _, _)) = self.timers.remove(&k) {
            if deadline.is_none() {
                self.t0q.retain(|x| *x != k);
            }
        }
    }

    fn timeouts(&mut self, touts: &[(TKey, TAct)]) {
        let mut seen = Vec::new();
        let mut zeros = Vec::new();
        for &(k, t) in touts.iter().rev() {
            if seen.contains(&k) {
                continue;
            }
            seen.push(k);
            match t {
                TAct::Cancel => self.cancel(k),
                TAct::Update(id) => match self.timers.get_mut(&k) {
                    Some(timer) => timer.1 = id,
                    None => {
                        self.timers.insert(k, (None, id, 0));
                        zeros.push(k);
                    }
                },
                TAct::Set(0, id) => {
                    self.cancel(k);
                    self.timers.insert(k, (None, id, 0));
                    zeros.push(k);
                }
                TAct::Set(ms, id) => {
                    self.cancel(k);
                    self.seq += 1;
                    self.timers.insert(k, (Some(self.now + ms), id, self.seq));
                }
            }
        }
        zeros.reverse();
        self.t0q.extend(zeros);
    }

    fn handle(&mut self, kind: Kind, id: u32) -> Result<(), Livelock> {
        self.handled += 1;
        self.total += 1;
        if self.handled > BUDGET || self.total > TOTAL {
            return Err(Livelock);
        }
        self.trace.push(line(self.now, self.state, kind, id));
        let script = self.s.get(id).cloned().unwrap_or(Script {
            actions: vec![],
            result: R::Keep,
        });
        let mut postpone = false;
        let mut nexts = Vec::new();
        let mut touts = Vec::new();
        for a in &script.actions {
            match *a {
                A::Postpone => postpone = true,
                A::Next(j) => nexts.push((Kind::Internal, j)),
                A::Timer(k, t) => touts.push((k, t)),
            }
        }
        let (new, enter) = match script.result {
            R::Keep => (self.state, false),
            R::Goto(s) => (s, s != self.state),
            R::Repeat => (self.state, true),
        };
        if enter {
            self.trace.push(enter_line(self.now, new, self.state));
            touts.extend(self.s.enter[new as usize].iter().copied());
        }
        if postpone {
            self.postponed.push((kind, id));
        }
        if new != self.state {
            let mut q: VecDeque<_> = self.postponed.drain(..).collect();
            q.extend(self.queue.drain(..));
            self.queue = q;
            self.cancel(TKey::State);
        }
        self.cancel(TKey::Event);
        self.timeouts(&touts);
        for ev in nexts.into_iter().rev() {
            self.queue.push_front(ev);
        }
        self.state = new;
        Ok(())
    }

    fn drain(&mut self) -> Result<(), Livelock> {
        loop {
            if let Some((kind, id)) = self.queue.pop_front() {
                self.handle(kind, id)?;
            } else if !self.t0q.is_empty() {
                let k = self.t0q.remove(0);
                let (_, id, _) = self.timers.remove(&k).expect("zero timer");
                self.handle(kind_of(k), id)?;
            } else {
                return Ok(());
            }
        }
    }

    fn cast(&mut self, id: u32) -> Result<(), Livelock> {
        self.handle(Kind::Cast, id)?;
        self.drain()
    }

    /// Lets `ms` pass. `Ok(false)` if a timer fires exactly at the end, where its order with
    /// the next step would be a race.
    fn wait(&mut self, ms: u64) -> Result<bool, Livelock> {
        let end = self.now + ms;
        loop {
            let due = self
                .timers
                .iter()
                .filter_map(|(k, (d, _, seq))| d.map(|d| (d, *seq, *k)))
                .filter(|(d, _, _)| *d <= end)
                .min();
            let Some((deadline, _, k)) = due else { break };
            if deadline == end {
                return Ok(false);
            }
            if deadline > self.now {
                self.handled = 0;
            }
            self.now = deadline;
            let (_, id, _) = self.timers.remove(&k).unwrap();
            self.handle(kind_of(k), id)?;
            self.drain()?;
        }
        if end > self.now {
            self.handled = 0;
        }
        self.now = end;
        Ok(true)
    }
}

/// Runs `steps` on the model; waits that would end exactly when a timer fires are lengthened
/// by a millisecond. Returns the steps as run and the expected trace.
fn expected(s: &Arc<Scripts>, steps: &[Step]) -> Result<(Vec<Step>, Vec<String>), Livelock> {
    let mut m = Model::new(s.clone())?;
    let mut run = Vec::new();
    for step in steps {
        match *step {
            Step::Cast(id) => {
                m.cast(id)?;
                run.push(Step::Cast(id));
            }
            Step::Wait(ms) => {
                let ms = (ms..ms + 20)
                    .find_map(|ms| {
                        let mut attempt = m.clone();
                        match attempt.wait(ms) {
                            Ok(true) => Some(Ok((ms, attempt))),
                            Ok(false) => None,
                            Err(e) => Some(Err(e)),
                        }
                    })
                    .ok_or(Livelock)??;
                m = ms.1;
                run.push(Step::Wait(ms.0));
            }
        }
    }
    Ok((run, m.trace))
}

// ---- the machine under test ----------------------------------------------------------------

struct Scripted {
    s: Arc<Scripts>,
    trace: Arc<Mutex<Vec<String>>>,
    t0: Instant,
}

impl Scripted {
    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }
}

fn push_timeout(ctx: &mut Ctx<'_, Scripted>, k: TKey, t: TAct) {
    let t = match t {
        TAct::Set(ms, id) => Timeout::After(Duration::from_millis(ms), id),
        TAct::Update(id) => Timeout::Update(id),
        TAct::Cancel => Timeout::Cancel,
    };
    ctx.push(match k {
        TKey::State => Action::StateTimeout(t),
        TKey::Event => Action::EventTimeout(t),
        TKey::Generic(n) => Action::GenericTimeout(n, t),
    });
}

impl StateMachine for Scripted {
    type State = u8;
    type Call = ();
    type Reply = ();
    type Msg = u32;
    type Timer = u8;
    const STATE_ENTER: bool = true;

    async fn init(&mut self, _ctx: &mut Ctx<'_, Self>) -> Result<u8, ExitReason> {
        Ok(0)
    }

    async fn handle_event(
        &mut self,
        state: &u8,
        event: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        let (kind, id) = match &event {
            Event::Cast(id) => (Kind::Cast, *id),
            Event::Internal(id) => (Kind::Internal, *id),
            Event::StateTimeout(id) => (Kind::State, *id),
            Event::EventTimeout(id) => (Kind::Event, *id),
            Event::GenericTimeout(n, id) => (Kind::Generic(*n), *id),
            other => panic!("unexpected {:?}", other.kind()),
        };
        self.trace.lock().push(line(self.ms(), *state, kind, id));
        let Some(script) = self.s.get(id) else {
            return Transition::KeepState;
        };
        let mut postpone = false;
        for a in &script.actions {
            match *a {
                A::Postpone => postpone = true,
                A::Next(j) => ctx.next_internal(j),
                A::Timer(k, t) => push_timeout(ctx, k, t),
            }
        }
        if postpone {
            ctx.postpone(event);
        }
        match script.result {
            R::Keep => Transition::KeepState,
            R::Goto(s) => Transition::NextState(s),
            R::Repeat => Transition::RepeatState,
        }
    }

    async fn state_enter(
        &mut self,
        old: &u8,
        state: &u8,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        self.trace.lock().push(enter_line(self.ms(), *state, *old));
        let s = self.s.clone();
        for &(k, t) in &s.enter[*state as usize] {
            push_timeout(ctx, k, t);
        }
        Transition::KeepState
    }
}

/// Runs `steps` on a real machine in paused time, on a thread of its own so that a machine
/// that never stops handling events fails the test instead of hanging it.
fn run_real(s: &Arc<Scripts>, steps: &[Step]) -> Vec<String> {
    let (s, steps) = (s.clone(), steps.to_vec());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let trace = rt.block_on(async {
            let trace = Arc::new(Mutex::new(Vec::new()));
            let node = Node::new("model@localhost");
            let m = Statem::start(
                &node,
                Scripted {
                    s,
                    trace: trace.clone(),
                    t0: Instant::now(),
                },
            )
            .await
            .unwrap();
            for step in steps {
                match step {
                    Step::Cast(id) => m.cast(id).unwrap(),
                    Step::Wait(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                }
            }
            assert!(m.is_alive(), "the machine stopped");
            let t = trace.lock().clone();
            t
        });
        let _ = tx.send(trace);
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the real run failed, or did not finish within 60 s (a livelock?)")
}

// ---- generators -----------------------------------------------------------------------------

fn tkey() -> impl Strategy<Value = TKey> {
    prop_oneof![
        Just(TKey::State),
        Just(TKey::Event),
        (0u8..2).prop_map(TKey::Generic)
    ]
}

fn tact(ids: std::ops::Range<u32>) -> impl Strategy<Value = TAct> {
    let time = prop_oneof![2 => Just(0u64), 5 => 1u64..60];
    prop_oneof![
        4 => (time, ids.clone()).prop_map(|(t, id)| TAct::Set(t, id)),
        1 => ids.prop_map(TAct::Update),
        1 => Just(TAct::Cancel),
    ]
}

/// Script `i` of `n` refers only to later ids (`n` is the inert one), so inserted events and
/// timeout contents cannot loop by themselves.
fn script(i: u32, n: u32) -> impl Strategy<Value = Script> {
    let ids = (i + 1)..(n + 1);
    let action = prop_oneof![
        2 => Just(A::Postpone),
        2 => ids.clone().prop_map(A::Next),
        5 => (tkey(), tact(ids)).prop_map(|(k, t)| A::Timer(k, t)),
    ];
    let result = prop_oneof![
        3 => Just(R::Keep),
        3 => (0u8..3).prop_map(R::Goto),
        1 => Just(R::Repeat),
    ];
    // An event that postpones itself and changes state livelocks with another one that does
    // the same to another state, so such events mostly keep their state.
    let postponing = any::<u8>();
    (prop::collection::vec(action, 0..4), result, postponing).prop_map(|(actions, result, dice)| {
        let postpones = actions.iter().any(|a| matches!(a, A::Postpone));
        let result = match result {
            R::Goto(_) if postpones && dice % 4 != 0 => R::Keep,
            r => r,
        };
        Script { actions, result }
    })
}

fn scripts() -> impl Strategy<Value = Scripts> {
    (8u32..20).prop_flat_map(|n| {
        let events: Vec<_> = (0..n).map(|i| script(i, n).boxed()).collect();
        let enter = prop::collection::vec(
            prop::collection::vec((tkey(), tact((n / 2)..(n + 1))), 0..2),
            3,
        );
        (events, enter).prop_map(|(events, enter)| Scripts { events, enter })
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (0u32..5).prop_map(Step::Cast),
        2 => (1u64..80).prop_map(Step::Wait),
    ];
    prop::collection::vec(step, 1..25).prop_map(|mut v| {
        // Let every timer run out at the end.
        v.push(Step::Wait(2000));
        v
    })
}

proptest! {
    // 300 cases by default; `PROPTEST_CASES=5000` for a deeper run.
    #![proptest_config({
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300);
        ProptestConfig { cases, max_global_rejects: cases, ..ProptestConfig::default() }
    })]

    #[test]
    fn the_machine_follows_the_reference_model(s in scripts(), steps in steps()) {
        let s = Arc::new(s);
        let expected = expected(&s, &steps);
        prop_assume!(expected.is_ok(), "livelock");
        let Ok((steps, want)) = expected else { unreachable!() };
        let got = run_real(&s, &steps);
        prop_assert_eq!(got, want, "scripts {:?} steps {:?}", s, steps);
    }
}

#[test]
fn the_model_and_the_machine_agree_on_a_hand_written_case() {
    // Event 0 sets a zero state timeout (1) and postpones itself; 1 changes state, which
    // retries 0 (which now does the same in state 1, where 1 keeps the state).
    let s = Arc::new(Scripts {
        events: vec![
            Script {
                actions: vec![A::Timer(TKey::State, TAct::Set(0, 1)), A::Postpone],
                result: R::Keep,
            },
            Script {
                actions: vec![A::Timer(TKey::Generic(0), TAct::Set(10, 2))],
                result: R::Goto(1),
            },
        ],
        enter: vec![vec![], vec![(TKey::Event, TAct::Set(5, 3))], vec![]],
    });
    let steps = [Step::Cast(0), Step::Wait(100)];
    let Ok((steps, want)) = expected(&s, &steps) else {
        panic!("livelock")
    };
    assert_eq!(
        want,
        [
            "0 s0 enter<-s0",
            "0 s0 Cast:0",
            "0 s0 State:1",
            "0 s1 enter<-s0",
            "0 s1 Cast:0",
            "0 s1 State:1",
            // The event timeout of the enter call was cancelled by the retried event.
            "10 s1 Generic(0):2",
        ]
    );
    assert_eq!(run_real(&s, &steps), want);
}
