mod common;
use actor_core::Node;
use actor_registry::{Key, Kind, Registry, RegistryError, Value};
use common::spawn;

#[tokio::test]
async fn aggregated_counter_tracks_registrations_updates_and_removals() {
    let node = Node::new("counters@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    let key = Key::from("reqs");
    let agg = || reg.lookup_value(Kind::AggregatedCounter, &key);
    reg.register(Kind::Counter, key.clone(), a.pid(), 5)
        .unwrap();
    // Registered later: starts at the current sum.
    reg.register(Kind::AggregatedCounter, key.clone(), b.pid(), ())
        .unwrap();
    assert_eq!(agg(), Ok(Value::Int(5)));
    reg.register(Kind::Counter, key.clone(), b.pid(), ())
        .unwrap();
    assert_eq!(reg.update_counter(key.clone(), b.pid(), 7), Ok(7));
    assert_eq!(agg(), Ok(Value::Int(12)));
    reg.set_value(Kind::Counter, key.clone(), a.pid(), 1)
        .unwrap();
    assert_eq!(agg(), Ok(Value::Int(8)));
    reg.unregister(Kind::Counter, key.clone(), a.pid()).unwrap();
    assert_eq!(agg(), Ok(Value::Int(7)));
    assert!(matches!(
        reg.register(Kind::AggregatedCounter, key.clone(), a.pid(), ()),
        Err(RegistryError::AlreadyRegistered { .. })
    ));
    assert_eq!(
        reg.set_value(Kind::AggregatedCounter, key.clone(), b.pid(), 1),
        Err(RegistryError::Computed(key.clone()))
    );
}

#[tokio::test]
async fn bad_counter_use_is_a_typed_error() {
    let node = Node::new("counters@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    reg.register(Kind::Name, "n", a.pid(), 1).unwrap();
    assert!(matches!(
        reg.update_counter("n", a.pid(), 1),
        Err(RegistryError::NotACounter {
            actual: Kind::Name,
            ..
        })
    ));
    assert!(matches!(
        reg.update_counter("missing", a.pid(), 1),
        Err(RegistryError::NotHolder { .. })
    ));
    assert_eq!(
        reg.register(Kind::Counter, "c", a.pid(), "text"),
        Err(RegistryError::NotAnInteger(Value::from("text")))
    );
    reg.register(Kind::Counter, "c", a.pid(), i64::MAX).unwrap();
    assert!(matches!(
        reg.update_counter("c", a.pid(), 1),
        Err(RegistryError::Overflow { .. })
    ));
    assert_eq!(
        reg.get_value(Kind::Counter, &Key::from("c"), a.pid()),
        Some(Value::Int(i64::MAX))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_counter_exact_under_concurrent_updates() {
    let node = Node::new("counters@test");
    let reg = Registry::new(&node);
    let key = Key::from(("jobs", 1));
    let owner = spawn(&node).await;
    reg.register(Kind::AggregatedCounter, key.clone(), owner.pid(), ())
        .unwrap();
    let mut actors = Vec::new();
    for _ in 0..4 {
        let a = spawn(&node).await;
        reg.register(Kind::Counter, key.clone(), a.pid(), 0)
            .unwrap();
        actors.push(a);
    }
    let mut tasks = Vec::new();
    for (i, a) in actors.iter().enumerate() {
        let reg = reg.clone();
        let key = key.clone();
        let pid = a.pid();
        tasks.push(tokio::spawn(async move {
            for n in 0..5_000i64 {
                let delta = if n % 3 == 0 { -1 } else { (i as i64) + 1 };
                reg.update_counter(key.clone(), pid, delta).unwrap();
                // list() snapshots all non-name entries under one lock: the aggregate
                // equals the sum of the counters at every instant.
                if n % 500 == 0 {
                    let all = reg.list();
                    let sum: i64 = all
                        .iter()
                        .filter(|e| e.kind == Kind::Counter && e.key == key)
                        .map(|e| e.value.as_int().unwrap())
                        .sum();
                    let agg = all
                        .iter()
                        .find(|e| e.kind == Kind::AggregatedCounter && e.key == key)
                        .map(|e| e.value.as_int().unwrap());
                    assert_eq!(agg, Some(sum));
                }
                if n % 1000 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sum: i64 = reg
        .lookup_values(Kind::Counter, &key)
        .iter()
        .map(|(_, v)| v.as_int().unwrap())
        .sum();
    let expected: i64 = (0..4i64)
        .map(|i| {
            (0..5_000i64)
                .map(|n| if n % 3 == 0 { -1 } else { i + 1 })
                .sum::<i64>()
        })
        .sum();
    assert_eq!(sum, expected);
    assert_eq!(
        reg.lookup_value(Kind::AggregatedCounter, &key),
        Ok(Value::Int(expected))
    );
}
