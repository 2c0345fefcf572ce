mod common;
use actor_core::Node;
use actor_registry::{Key, KeySendError, Kind, Pattern, Registry, RegistryError, Value};
use common::{spawn, spawn_with, Msg};

#[tokio::test]
async fn many_holders_each_with_its_value() {
    let node = Node::new("props@test");
    let reg = Registry::new(&node);
    let a = spawn(&node).await;
    let b = spawn(&node).await;
    let key = Key::from(("topic", "news"));
    reg.register(Kind::Property, key.clone(), a.pid(), "a")
        .unwrap();
    reg.register(Kind::Property, key.clone(), b.pid(), "b")
        .unwrap();
    let mut expected = vec![(a.pid(), Value::from("a")), (b.pid(), Value::from("b"))];
    expected.sort();
    assert_eq!(reg.lookup_values(Kind::Property, &key), expected);
    assert_eq!(
        reg.lookup_value(Kind::Property, &key),
        Err(RegistryError::NotUnique(Kind::Property))
    );
    assert!(matches!(
        reg.register(Kind::Property, key.clone(), a.pid(), "again"),
        Err(RegistryError::AlreadyRegistered { .. })
    ));
    reg.set_value(Kind::Property, key.clone(), a.pid(), "a2")
        .unwrap();
    assert_eq!(
        reg.get_value(Kind::Property, &key, a.pid()),
        Some(Value::from("a2"))
    );
    reg.unregister(Kind::Property, key.clone(), a.pid())
        .unwrap();
    assert_eq!(reg.lookup_pids(Kind::Property, &key), vec![b.pid()]);
    assert_eq!(
        reg.count(Kind::Property, &Pattern::prefix(&Key::from("topic"))),
        1
    );
}

#[tokio::test]
async fn send_to_a_property_reaches_every_subscriber_once() {
    let node = Node::new("props@test");
    let reg = Registry::new(&node);
    let key = Key::from("events");
    let mut rxs = Vec::new();
    for _ in 0..5 {
        let (r, rx) = spawn_with(&node).await;
        reg.register(Kind::Property, key.clone(), r.pid(), ())
            .unwrap();
        rxs.push(rx);
    }
    let (outsider, mut orx) = spawn_with(&node).await;
    reg.register(Kind::Property, "elsewhere", outsider.pid(), ())
        .unwrap();
    assert_eq!(
        reg.send(Kind::Property, &key, Msg::Text("hi".into())),
        Ok(5)
    );
    assert_eq!(
        reg.send(Kind::Property, &key, Msg::Text("bye".into())),
        Ok(5)
    );
    for rx in &mut rxs {
        assert_eq!(rx.recv().await.as_deref(), Some("hi"));
        assert_eq!(rx.recv().await.as_deref(), Some("bye"));
    }
    // The outsider got nothing: a marker sent to it arrives first.
    outsider.tell(Msg::Text("marker".into())).unwrap();
    assert_eq!(orx.recv().await.as_deref(), Some("marker"));
    // Holders of another message type are skipped.
    assert_eq!(reg.send(Kind::Property, &key, 42u32), Ok(0));
}

#[tokio::test]
async fn send_to_a_name() {
    let node = Node::new("props@test");
    let reg = Registry::new(&node);
    let (r, mut rx) = spawn_with(&node).await;
    reg.register(Kind::Name, "svc", r.pid(), ()).unwrap();
    assert_eq!(
        reg.send(Kind::Name, &Key::from("svc"), Msg::Text("x".into())),
        Ok(1)
    );
    assert_eq!(rx.recv().await.as_deref(), Some("x"));
    assert!(matches!(
        reg.send(Kind::Name, &Key::from("none"), Msg::Stop),
        Err(KeySendError::NotRegistered { .. })
    ));
    assert!(matches!(
        reg.send(Kind::Name, &Key::from("svc"), 1u8),
        Err(KeySendError::Ref(_))
    ));
}
