mod common;
use actor_core::Node;
use actor_registry::{Key, Kind, Pattern, Registry, RegistryError, Value};
use common::spawn;

#[tokio::test]
async fn register_where_and_unregister() {
    let node = Node::new("names@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let key = Key::from(("svc", "db", 1));
    assert_eq!(reg.where_(&key), None);
    reg.register(Kind::Name, key.clone(), a.pid(), "primary")
        .unwrap();
    assert_eq!(reg.where_(&key), Some(a.pid()));
    assert_eq!(
        reg.lookup_value(Kind::Name, &key),
        Ok(Value::from("primary"))
    );
    reg.unregister(Kind::Name, key.clone(), a.pid()).unwrap();
    assert_eq!(reg.where_(&key), None);
    assert!(matches!(
        reg.lookup_value(Kind::Name, &key),
        Err(RegistryError::NotRegistered { .. })
    ));
}

#[tokio::test]
async fn taken_name_error_names_the_holder() {
    let node = Node::new("names@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    reg.register(Kind::Name, "x", a.pid(), ()).unwrap();
    let err = reg.register(Kind::Name, "x", b.pid(), ()).unwrap_err();
    assert_eq!(
        err,
        RegistryError::AlreadyRegistered {
            kind: Kind::Name,
            key: Key::from("x"),
            holder: a.pid()
        }
    );
    assert!(err.to_string().contains(&a.pid().to_string()));
    // The same pid registering again is also refused.
    assert!(reg.register(Kind::Name, "x", a.pid(), ()).is_err());
}

#[tokio::test]
async fn unregistering_a_key_you_do_not_hold_is_an_error() {
    let node = Node::new("names@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    reg.register(Kind::Name, "x", a.pid(), ()).unwrap();
    assert!(matches!(
        reg.unregister(Kind::Name, "x", b.pid()),
        Err(RegistryError::NotHolder { .. })
    ));
    assert!(matches!(
        reg.unregister(Kind::Name, "nope", a.pid()),
        Err(RegistryError::NotHolder { .. })
    ));
    assert_eq!(reg.where_(&Key::from("x")), Some(a.pid()));
}

#[tokio::test]
async fn set_value_and_register_or_update() {
    let node = Node::new("names@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    reg.register_or_update(Kind::Name, "cfg", a.pid(), 1)
        .unwrap();
    reg.register_or_update(Kind::Name, "cfg", a.pid(), 2)
        .unwrap();
    assert_eq!(
        reg.lookup_value(Kind::Name, &Key::from("cfg")),
        Ok(Value::Int(2))
    );
    assert!(reg
        .register_or_update(Kind::Name, "cfg", b.pid(), 3)
        .is_err());
    assert!(matches!(
        reg.set_value(Kind::Name, "cfg", b.pid(), 3),
        Err(RegistryError::NotHolder { .. })
    ));
    reg.set_value(Kind::Name, "cfg", a.pid(), vec![1u8, 2])
        .unwrap();
    assert_eq!(
        reg.get_value(Kind::Name, &Key::from("cfg"), a.pid()),
        Some(Value::Bytes(vec![1, 2]))
    );
}

#[tokio::test]
async fn dead_and_foreign_pids_are_refused() {
    let node = Node::new("names@test");
    let other = Node::new("other@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let pid = a.pid();
    a.stop(actor_core::ExitReason::Normal);
    node.wait_exit(pid).await;
    assert_eq!(
        reg.register(Kind::Name, "x", pid, ()),
        Err(RegistryError::NoProc(pid))
    );
    let f = spawn(&other).await;
    assert_eq!(
        reg.register(Kind::Name, "x", f.pid(), ()),
        Err(RegistryError::NotLocal(f.pid()))
    );
}

#[tokio::test]
async fn select_by_prefix_and_pattern_and_count() {
    let node = Node::new("names@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    for t in ["acme", "globex"] {
        for id in 0..3 {
            reg.register(Kind::Name, ("ent", t, id), a.pid(), id as i64)
                .unwrap();
        }
    }
    reg.register(Kind::Name, "other", a.pid(), ()).unwrap();
    let acme = reg.select(Kind::Name, &Pattern::prefix(&Key::from(("ent", "acme"))));
    assert_eq!(acme.len(), 3);
    assert!(acme.windows(2).all(|w| w[0].key < w[1].key));
    let ones = Pattern::new(vec!["ent".into(), actor_registry::Pat::Any, 1.into()]);
    assert_eq!(reg.count(Kind::Name, &ones), 2);
    assert_eq!(reg.count(Kind::Name, &Pattern::all()), 7);
    assert_eq!(reg.list().len(), 7);
    assert_eq!(reg.keys_of(a.pid()).len(), 7);
}
