//! A model check (stateright) of the replicated log's protocol for one key over three
//! replicas: every interleaving of prepares, accepts, recoveries, appends, lost messages and
//! crashed activations, up to a bound. It mirrors `replicated/`: the replica's rules are
//! `JournalStore::accept`'s (epoch at least the promise; the log must hold `prev`; a lower
//! epoch's receipts are replaced, the same epoch's kept), recovery adopts the most up-to-date
//! log of a majority and re-proposes its tail under the new epoch, an append resolves on a
//! majority and stops at the first `Fenced`, a diverged replica is caught up from the start.
//!
//! Checked: no two different receipts are ever held by a majority of replicas at one
//! sequence number; every acknowledged receipt is in the log of every later activation that
//! recovered; an activation never acknowledges after it was told `Fenced`.

use stateright::{Checker, Model, Property};
use std::collections::BTreeSet;

const REPLICAS: usize = 3;
const MAJORITY: usize = 2;

/// A receipt in a replica's log: (epoch that accepted it, value).
type Entry = (u8, u8);

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Msg {
    Prepare {
        p: u8,
        r: u8,
        epoch: u8,
    },
    Promise {
        p: u8,
        r: u8,
        epoch: u8,
        log: Vec<Entry>,
    },
    Accept {
        p: u8,
        r: u8,
        epoch: u8,
        prev: (u8, u8),
        entries: Vec<Entry>,
        upto: u8,
    },
    Accepted {
        p: u8,
        r: u8,
        epoch: u8,
        upto: u8,
    },
    Diverged {
        p: u8,
        r: u8,
        epoch: u8,
        upto: u8,
    },
    Fenced {
        p: u8,
        epoch: u8,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Phase {
    Idle,
    Preparing {
        epoch: u8,
        promises: Vec<(u8, Vec<Entry>)>,
    },
    /// Re-proposing (recovery, `log` ends at `upto`) or appending: waiting for a majority.
    Proposing {
        epoch: u8,
        log: Vec<Entry>,
        upto: u8,
        acks: BTreeSet<u8>,
        recovering: bool,
    },
    Leading {
        epoch: u8,
        log: Vec<Entry>,
    },
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Proposer {
    phase: Phase,
    attempts: u8,
    appended: u8,
    told_fenced: bool,
    acked_after_fenced: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    promised: [u8; REPLICAS],
    logs: [Vec<Entry>; REPLICAS],
    net: Vec<Msg>,
    proposers: Vec<Proposer>,
    /// Ghost: (seq, value) ever held by a majority of replicas.
    chosen: BTreeSet<(u8, u8)>,
    /// Ghost: (seq, value, epoch) acknowledged to a caller.
    acked: BTreeSet<(u8, u8, u8)>,
    /// Ghost: (epoch, log) of every activation that finished recovering.
    recovered: BTreeSet<(u8, Vec<Entry>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    Activate(u8),
    Append(u8),
    Deliver(usize),
    Drop(usize),
    Crash(u8),
}

struct Protocol {
    proposers: u8,
    max_attempts: u8,
    max_appends: u8,
}

/// Each activation of proposer `p` takes a distinct epoch: `attempt * proposers + p + 1`.
fn epoch_of(m: &Protocol, p: u8, attempt: u8) -> u8 {
    attempt * m.proposers + p + 1
}

fn send(net: &mut Vec<Msg>, msg: Msg) {
    net.push(msg);
    net.sort();
}

fn broadcast_accept(s: &mut State, p: u8, epoch: u8, prev: (u8, u8), entries: &[Entry], upto: u8) {
    for r in 0..REPLICAS as u8 {
        send(
            &mut s.net,
            Msg::Accept {
                p,
                r,
                epoch,
                prev,
                entries: entries.to_vec(),
                upto,
            },
        );
    }
}

/// The replica's accept rule (`JournalStore::accept`).
fn replica_accept(
    s: &mut State,
    r: usize,
    epoch: u8,
    prev: (u8, u8),
    entries: &[Entry],
) -> Result<(), Msg> {
    if epoch < s.promised[r] {
        return Err(Msg::Fenced {
            p: 0,
            epoch: s.promised[r],
        });
    }
    let log = &mut s.logs[r];
    let (pseq, pepoch) = prev;
    if pseq as usize > log.len() || (pseq > 0 && log[pseq as usize - 1].0 != pepoch) {
        return Err(Msg::Diverged {
            p: 0,
            r: 0,
            epoch: 0,
            upto: 0,
        });
    }
    let mut replaced = false;
    for (i, e) in entries.iter().enumerate() {
        let seq = pseq as usize + i + 1;
        if !replaced && seq <= log.len() {
            if log[seq - 1].0 == e.0 {
                continue;
            }
            log.truncate(seq - 1);
            replaced = true;
        }
        log.push(*e);
    }
    s.promised[r] = s.promised[r].max(epoch);
    Ok(())
}

/// Recovery: the most up-to-date log of the majority, its tail re-proposed under `epoch`.
fn plan(promises: &[(u8, Vec<Entry>)], epoch: u8) -> (Vec<Entry>, u8) {
    let a = promises
        .iter()
        .map(|(_, l)| l)
        .max_by_key(|l| (l.last().map_or(0, |e| e.0), l.len()))
        .unwrap();
    let matching = |r: &Vec<Entry>| {
        let mut m = r.len().min(a.len());
        while m > 0 && r[m - 1].0 != a[m - 1].0 {
            m -= 1;
        }
        m
    };
    if a.is_empty() {
        return (Vec::new(), 0);
    }
    let k = promises
        .iter()
        .map(|(_, r)| matching(r))
        .min()
        .unwrap()
        .min(a.len() - 1);
    let mut log = a.clone();
    for e in log.iter_mut().skip(k) {
        e.0 = epoch;
    }
    (log, k as u8)
}

/// Records every (seq, value) that a majority of replicas holds now (whatever the epochs
/// their copies were accepted under).
fn update_chosen(s: &mut State) {
    let longest = s.logs.iter().map(Vec::len).max().unwrap_or(0);
    for seq in 0..longest {
        for r in 0..REPLICAS {
            if let Some(e) = s.logs[r].get(seq) {
                let holders = s
                    .logs
                    .iter()
                    .filter(|l| l.get(seq).map(|x| x.1) == Some(e.1))
                    .count();
                if holders >= MAJORITY {
                    s.chosen.insert((seq as u8 + 1, e.1));
                }
            }
        }
    }
}

impl Model for Protocol {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![State {
            promised: [0; REPLICAS],
            logs: Default::default(),
            net: Vec::new(),
            proposers: (0..self.proposers)
                .map(|_| Proposer {
                    phase: Phase::Idle,
                    attempts: 0,
                    appended: 0,
                    told_fenced: false,
                    acked_after_fenced: false,
                })
                .collect(),
            chosen: BTreeSet::new(),
            acked: BTreeSet::new(),
            recovered: BTreeSet::new(),
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        for (i, p) in s.proposers.iter().enumerate() {
            let i = i as u8;
            match &p.phase {
                Phase::Idle | Phase::Preparing { .. } if p.attempts < self.max_attempts => {
                    actions.push(Action::Activate(i))
                }
                Phase::Leading { .. } if p.appended < self.max_appends => {
                    actions.push(Action::Append(i))
                }
                _ => {}
            }
            if !matches!(p.phase, Phase::Stopped | Phase::Idle) {
                actions.push(Action::Crash(i));
            }
        }
        for i in 0..s.net.len() {
            if i > 0 && s.net[i] == s.net[i - 1] {
                continue;
            }
            actions.push(Action::Deliver(i));
            actions.push(Action::Drop(i));
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Activate(p) => {
                let pr = &mut s.proposers[p as usize];
                let epoch = epoch_of(self, p, pr.attempts);
                pr.attempts += 1;
                pr.phase = Phase::Preparing {
                    epoch,
                    promises: Vec::new(),
                };
                for r in 0..REPLICAS as u8 {
                    send(&mut s.net, Msg::Prepare { p, r, epoch });
                }
            }
            Action::Append(p) => {
                let pr = &mut s.proposers[p as usize];
                let Phase::Leading { epoch, log } = pr.phase.clone() else {
                    return None;
                };
                pr.appended += 1;
                let value = 10 * (p + 1) + pr.appended;
                let prev = (log.len() as u8, log.last().map_or(0, |e| e.0));
                let mut log = log;
                log.push((epoch, value));
                let upto = log.len() as u8;
                pr.phase = Phase::Proposing {
                    epoch,
                    log,
                    upto,
                    acks: BTreeSet::new(),
                    recovering: false,
                };
                broadcast_accept(&mut s, p, epoch, prev, &[(epoch, value)], upto);
            }
            Action::Crash(p) => s.proposers[p as usize].phase = Phase::Stopped,
            Action::Drop(i) => {
                s.net.remove(i);
            }
            Action::Deliver(i) => {
                let msg = s.net.remove(i);
                self.deliver(&mut s, msg);
            }
        }
        update_chosen(&mut s);
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("one receipt per seq is ever chosen", |_, s: &State| {
                let seqs: Vec<u8> = s.chosen.iter().map(|(seq, _)| *seq).collect();
                seqs.windows(2).all(|w| w[0] != w[1])
            }),
            Property::always("acknowledged receipts are never lost", |_, s: &State| {
                s.acked.iter().all(|(seq, v, e)| {
                    s.chosen.contains(&(*seq, *v))
                        && s.recovered
                            .iter()
                            .filter(|(re, _)| re > e)
                            .all(|(_, log)| log.get(*seq as usize - 1).map(|x| x.1) == Some(*v))
                })
            }),
            Property::always("a fenced activation never acknowledges", |_, s: &State| {
                s.proposers.iter().all(|p| !p.acked_after_fenced)
            }),
            Property::sometimes("an append is acknowledged", |_, s: &State| {
                !s.acked.is_empty()
            }),
            Property::sometimes(
                "a later activation recovers acknowledged receipts",
                |_, s: &State| {
                    s.acked.iter().any(|(_, _, e)| {
                        s.recovered
                            .iter()
                            .any(|(re, log)| re > e && !log.is_empty())
                    })
                },
            ),
        ]
    }
}

impl Protocol {
    fn deliver(&self, s: &mut State, msg: Msg) {
        match msg {
            Msg::Prepare { p, r, epoch } => {
                let ri = r as usize;
                if epoch > s.promised[ri] {
                    s.promised[ri] = epoch;
                    let log = s.logs[ri].clone();
                    send(&mut s.net, Msg::Promise { p, r, epoch, log });
                }
                // A refused prepare: the proposer is still preparing and ignores refusals
                // (it would retry above them; the bound allows one round), so none is sent.
            }
            Msg::Promise { p, r, epoch, log } => {
                let pr = &mut s.proposers[p as usize];
                let Phase::Preparing { epoch: e, promises } = &mut pr.phase else {
                    return;
                };
                if *e != epoch || promises.iter().any(|(x, _)| *x == r) {
                    return;
                }
                promises.push((r, log));
                if promises.len() >= MAJORITY {
                    let (log, k) = plan(promises, epoch);
                    if log.is_empty() {
                        s.recovered.insert((epoch, Vec::new()));
                        pr.phase = Phase::Leading { epoch, log };
                        return;
                    }
                    let prev = (k, if k == 0 { 0 } else { log[k as usize - 1].0 });
                    let tail = log[k as usize..].to_vec();
                    let upto = log.len() as u8;
                    pr.phase = Phase::Proposing {
                        epoch,
                        log,
                        upto,
                        acks: BTreeSet::new(),
                        recovering: true,
                    };
                    broadcast_accept(s, p, epoch, prev, &tail, upto);
                }
            }
            Msg::Accept {
                p,
                r,
                epoch,
                prev,
                entries,
                upto,
            } => {
                let waiting = matches!(
                    &s.proposers[p as usize].phase,
                    Phase::Proposing { epoch: e, upto: u, .. } if *e == epoch && *u == upto
                );
                let outcome = replica_accept(s, r as usize, epoch, prev, &entries);
                if !waiting {
                    return; // an answer nobody waits for any more (it would be ignored)
                }
                match outcome {
                    Ok(()) => send(&mut s.net, Msg::Accepted { p, r, epoch, upto }),
                    Err(Msg::Fenced {
                        epoch: promised, ..
                    }) => send(&mut s.net, Msg::Fenced { p, epoch: promised }),
                    Err(_) => send(&mut s.net, Msg::Diverged { p, r, epoch, upto }),
                }
            }
            Msg::Diverged { p, r, epoch, upto } => {
                // Catch-up: the whole log up to `upto`, from the start.
                let Phase::Proposing {
                    epoch: e,
                    log,
                    upto: u,
                    ..
                } = &s.proposers[p as usize].phase
                else {
                    return;
                };
                if *e != epoch || *u != upto {
                    return;
                }
                let entries = log.clone();
                send(
                    &mut s.net,
                    Msg::Accept {
                        p,
                        r,
                        epoch,
                        prev: (0, 0),
                        entries,
                        upto,
                    },
                );
            }
            Msg::Accepted { p, r, epoch, upto } => {
                let pr = &mut s.proposers[p as usize];
                let Phase::Proposing {
                    epoch: e,
                    log,
                    upto: u,
                    acks,
                    recovering,
                } = &mut pr.phase
                else {
                    return;
                };
                if *e != epoch || *u != upto {
                    return;
                }
                acks.insert(r);
                if acks.len() >= MAJORITY {
                    let (log, recovering) = (log.clone(), *recovering);
                    if recovering {
                        s.recovered.insert((epoch, log.clone()));
                    } else {
                        let last = log.last().unwrap();
                        s.acked.insert((log.len() as u8, last.1, epoch));
                        if pr.told_fenced {
                            pr.acked_after_fenced = true;
                        }
                    }
                    pr.phase = Phase::Leading { epoch, log };
                }
            }
            Msg::Fenced { p, epoch: _ } => {
                let pr = &mut s.proposers[p as usize];
                if matches!(pr.phase, Phase::Proposing { .. } | Phase::Leading { .. }) {
                    pr.told_fenced = true;
                    pr.phase = Phase::Stopped;
                }
            }
        }
    }
}

fn check(depth: usize, appends: u8) -> impl Checker<Protocol> {
    let checker = Protocol {
        proposers: 2,
        max_attempts: 1,
        max_appends: appends,
    }
    .checker()
    .target_max_depth(depth)
    .threads(2)
    .spawn_bfs()
    .join();
    eprintln!(
        "depth {depth}: {} states ({} unique)",
        checker.state_count(),
        checker.unique_state_count()
    );
    checker
}

const SAFETY: [&str; 3] = [
    "one receipt per seq is ever chosen",
    "acknowledged receipts are never lost",
    "a fenced activation never acknowledges",
];

/// Every interleaving of two activations (one prepare round each) and one append each, with
/// any request or answer lost and any activation crashing, up to 13 steps (the first
/// activation's append acknowledged while the second one prepares and recovers).
#[test]
fn the_protocol_is_safe_over_three_replicas() {
    let checker = check(13, 1);
    for name in SAFETY {
        checker.assert_no_discovery(name);
    }
}

/// The same, deep enough that a second activation recovers what the first acknowledged (and
/// every property, the examples included, is checked): about 20 M states, a minute or more in
/// a release build. `cargo test --release -p actor-entity --test replicated_model -- --ignored`
/// (`MODEL_DEPTH`, `MODEL_APPENDS` widen it).
#[test]
#[ignore = "minutes: run in release"]
fn the_protocol_is_safe_over_three_replicas_deep() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let checker = check(env("MODEL_DEPTH", 21), env("MODEL_APPENDS", 1) as u8);
    checker.assert_properties();
}
