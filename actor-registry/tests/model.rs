//! A property test of the local registry against a simple model (one `BTreeMap` of entries,
//! one of group memberships), with the registry's own consistency check after every step.
mod common;
use actor_core::{ActorRef, ExitReason, Node, Pid};
use actor_registry::{Change, Entry, Key, Kind, Pattern, Registry, RegistryError, Value};
use common::{spawn, Msg};
use proptest::prelude::*;
use std::collections::BTreeMap;

const PIDS: usize = 3;

fn keys() -> Vec<Key> {
    vec![
        Key::from("a"),
        Key::from(("a", 1)),
        Key::from(("a", 2)),
        Key::from(("b", 1)),
        Key::from(7i64),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Register(Kind, usize, usize, Value),
    Unregister(Kind, usize, usize),
    SetValue(Kind, usize, usize, Value),
    RegisterOrUpdate(Kind, usize, usize, Value),
    UpdateCounter(usize, usize, i64),
    Kill(usize),
    /// Join group `k` with these pids.
    Join(usize, Vec<usize>),
    /// Leave group `k` with these pids.
    Leave(usize, Vec<usize>),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Name),
        Just(Kind::Property),
        Just(Kind::Counter),
        Just(Kind::AggregatedCounter)
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        (-5i64..5).prop_map(Value::Int),
        Just(Value::from("s")),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..keys().len();
    let p = 0..PIDS;
    prop_oneof![
        4 => (kind(), k.clone(), p.clone(), value()).prop_map(|(a, b, c, d)| Op::Register(a, b, c, d)),
        2 => (kind(), k.clone(), p.clone()).prop_map(|(a, b, c)| Op::Unregister(a, b, c)),
        2 => (kind(), k.clone(), p.clone(), value()).prop_map(|(a, b, c, d)| Op::SetValue(a, b, c, d)),
        2 => (kind(), k.clone(), p.clone(), value()).prop_map(|(a, b, c, d)| Op::RegisterOrUpdate(a, b, c, d)),
        3 => (k, p.clone(), -5i64..5).prop_map(|(a, b, c)| Op::UpdateCounter(a, b, c)),
        1 => p.clone().prop_map(Op::Kill),
        2 => (0..2usize, proptest::collection::vec(p.clone(), 0..3)).prop_map(|(g, ps)| Op::Join(g, ps)),
        2 => (0..2usize, proptest::collection::vec(p, 0..3)).prop_map(|(g, ps)| Op::Leave(g, ps)),
    ]
}

/// The model: every entry, aggregated counters stored with a placeholder value.
#[derive(Default)]
struct Model(BTreeMap<(Kind, Key, Pid), Value>);

impl Model {
    fn holder(&self, kind: Kind, key: &Key) -> Option<Pid> {
        self.0
            .keys()
            .find(|(k, kk, _)| *k == kind && kk == key)
            .map(|(_, _, p)| *p)
    }
    fn counter_sum(&self, key: &Key) -> i64 {
        self.0
            .iter()
            .filter(|((k, kk, _), _)| *k == Kind::Counter && kk == key)
            .map(|(_, v)| v.as_int().unwrap())
            .sum()
    }
    fn entries(&self) -> Vec<Entry> {
        self.0
            .iter()
            .map(|((kind, key, pid), v)| Entry {
                kind: *kind,
                key: key.clone(),
                pid: *pid,
                value: if *kind == Kind::AggregatedCounter {
                    Value::Int(self.counter_sum(key))
                } else {
                    v.clone()
                },
            })
            .collect()
    }
    fn int(v: &Value) -> Result<i64, RegistryError> {
        match v {
            Value::None => Ok(0),
            Value::Int(i) => Ok(*i),
            o => Err(RegistryError::NotAnInteger(o.clone())),
        }
    }
    fn register(&mut self, kind: Kind, key: &Key, pid: Pid, v: Value) -> Result<(), RegistryError> {
        let taken = if kind.is_unique() {
            self.holder(kind, key)
        } else {
            self.0
                .contains_key(&(kind, key.clone(), pid))
                .then_some(pid)
        };
        if let Some(holder) = taken {
            return Err(RegistryError::AlreadyRegistered {
                kind,
                key: key.clone(),
                holder,
            });
        }
        let v = match kind {
            Kind::Counter => Value::Int(Self::int(&v)?),
            Kind::AggregatedCounter => Value::None,
            _ => v,
        };
        self.0.insert((kind, key.clone(), pid), v);
        Ok(())
    }
    fn unregister(&mut self, kind: Kind, key: &Key, pid: Pid) -> Result<(), RegistryError> {
        self.0
            .remove(&(kind, key.clone(), pid))
            .map(|_| ())
            .ok_or(RegistryError::NotHolder {
                kind,
                key: key.clone(),
                pid,
            })
    }
    fn set_value(
        &mut self,
        kind: Kind,
        key: &Key,
        pid: Pid,
        v: Value,
    ) -> Result<(), RegistryError> {
        let v = match kind {
            Kind::AggregatedCounter => return Err(RegistryError::Computed(key.clone())),
            Kind::Counter => Value::Int(Self::int(&v)?),
            _ => v,
        };
        match self.0.get_mut(&(kind, key.clone(), pid)) {
            Some(slot) => {
                *slot = v;
                Ok(())
            }
            None => Err(RegistryError::NotHolder {
                kind,
                key: key.clone(),
                pid,
            }),
        }
    }
    fn update_counter(&mut self, key: &Key, pid: Pid, d: i64) -> Result<i64, RegistryError> {
        if let Some(v) = self.0.get_mut(&(Kind::Counter, key.clone(), pid)) {
            let n = v.as_int().unwrap() + d;
            *v = Value::Int(n);
            return Ok(n);
        }
        for actual in [Kind::Name, Kind::Property, Kind::AggregatedCounter] {
            if self.0.contains_key(&(actual, key.clone(), pid)) {
                return Err(RegistryError::NotACounter {
                    key: key.clone(),
                    pid,
                    actual,
                });
            }
        }
        Err(RegistryError::NotHolder {
            kind: Kind::Counter,
            key: key.clone(),
            pid,
        })
    }
    fn kill(&mut self, pid: Pid) {
        self.0.retain(|(_, _, p), _| *p != pid);
    }
}

async fn run(ops: Vec<Op>) {
    let node = Node::new("model@test");
    let reg = Registry::new(&node);
    let keys = keys();
    let mut actors: Vec<ActorRef<Msg>> = Vec::new();
    for _ in 0..PIDS {
        actors.push(spawn(&node).await);
    }
    let mut model = Model::default();
    let groups = [Key::from("g"), Key::from(("g", 2))];
    let mut members: BTreeMap<Key, Vec<Pid>> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Register(kind, k, p, v) => {
                let pid = actors[p].pid();
                let want = model.register(kind, &keys[k], pid, v.clone());
                assert_eq!(reg.register(kind, keys[k].clone(), pid, v), want);
            }
            Op::Unregister(kind, k, p) => {
                let pid = actors[p].pid();
                let want = model.unregister(kind, &keys[k], pid);
                assert_eq!(reg.unregister(kind, keys[k].clone(), pid), want);
            }
            Op::SetValue(kind, k, p, v) => {
                let pid = actors[p].pid();
                let want = model.set_value(kind, &keys[k], pid, v.clone());
                assert_eq!(reg.set_value(kind, keys[k].clone(), pid, v), want);
            }
            Op::RegisterOrUpdate(kind, k, p, v) => {
                let pid = actors[p].pid();
                let want = if model.0.contains_key(&(kind, keys[k].clone(), pid)) {
                    model.set_value(kind, &keys[k], pid, v.clone())
                } else {
                    model.register(kind, &keys[k], pid, v.clone())
                };
                assert_eq!(reg.register_or_update(kind, keys[k].clone(), pid, v), want);
            }
            Op::UpdateCounter(k, p, d) => {
                let pid = actors[p].pid();
                let want = model.update_counter(&keys[k], pid, d);
                assert_eq!(reg.update_counter(keys[k].clone(), pid, d), want);
            }
            Op::Kill(p) => {
                let pid = actors[p].pid();
                // Wait for the cleanup through a monitor on one of its keys (all of a pid's
                // keys go in one critical section); with no keys there is nothing to observe.
                let held = reg.keys_of(pid);
                let mut mon = held
                    .first()
                    .map(|(kind, key)| reg.monitor(*kind, key.clone()));
                node.exit(pid, ExitReason::Kill);
                if let Some(mon) = &mut mon {
                    loop {
                        let e = mon.recv().await.unwrap();
                        if e.pid == pid && matches!(e.change, Change::Exited(_)) {
                            break;
                        }
                    }
                }
                // Memberships go in the same critical section; with no keys, wait for them.
                node.wait_exit(pid).await;
                while groups.iter().any(|g| reg.members(g).contains(&pid)) {
                    tokio::task::yield_now().await;
                }
                model.kill(pid);
                for m in members.values_mut() {
                    m.retain(|p| *p != pid);
                }
                members.retain(|_, m| !m.is_empty());
                actors[p] = spawn(&node).await;
            }
            Op::Join(g, ps) => {
                let pids: Vec<Pid> = ps.iter().map(|p| actors[*p].pid()).collect();
                reg.join(groups[g].clone(), pids.clone()).unwrap();
                if !pids.is_empty() {
                    members.entry(groups[g].clone()).or_default().extend(pids);
                }
            }
            Op::Leave(g, ps) => {
                let pids: Vec<Pid> = ps.iter().map(|p| actors[*p].pid()).collect();
                // All or nothing: the model tries on a copy.
                let mut m = members.get(&groups[g]).cloned().unwrap_or_default();
                let mut want = Ok(());
                for pid in &pids {
                    match m.iter().rposition(|p| p == pid) {
                        Some(i) => {
                            m.remove(i);
                        }
                        None => {
                            want = Err(RegistryError::NotJoined {
                                group: groups[g].clone(),
                                pid: *pid,
                            });
                            break;
                        }
                    }
                }
                let got = reg.leave(groups[g].clone(), pids);
                match (&got, &want) {
                    // Which missing pid is named may differ when several are missing.
                    (Err(RegistryError::NotJoined { .. }), Err(_)) => {}
                    _ => assert_eq!(got, want),
                }
                if want.is_ok() {
                    if m.is_empty() {
                        members.remove(&groups[g]);
                    } else {
                        members.insert(groups[g].clone(), m);
                    }
                }
            }
        }
        // Observations.
        reg.assert_consistent();
        for g in &groups {
            assert_eq!(reg.members(g), members.get(g).cloned().unwrap_or_default());
        }
        assert_eq!(
            reg.which_groups(),
            members.keys().cloned().collect::<Vec<_>>()
        );
        assert_eq!(reg.list(), model.entries());
        for key in &keys {
            assert_eq!(reg.where_(key), model.holder(Kind::Name, key));
            for kind in [Kind::Property, Kind::Counter] {
                let want: Vec<(Pid, Value)> = model
                    .entries()
                    .into_iter()
                    .filter(|e| e.kind == kind && e.key == *key)
                    .map(|e| (e.pid, e.value))
                    .collect();
                assert_eq!(reg.lookup_values(kind, key), want);
            }
            let agg = model
                .holder(Kind::AggregatedCounter, key)
                .map(|_| Value::Int(model.counter_sum(key)));
            assert_eq!(reg.lookup_value(Kind::AggregatedCounter, key).ok(), agg);
        }
        for kind in [
            Kind::Name,
            Kind::Property,
            Kind::Counter,
            Kind::AggregatedCounter,
        ] {
            let prefix = Pattern::prefix(&Key::from("a"));
            let want = model
                .entries()
                .into_iter()
                .filter(|e| e.kind == kind && prefix.matches(&e.key))
                .count();
            assert_eq!(reg.count(kind, &prefix), want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn registry_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
