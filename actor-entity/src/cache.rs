//! The caller's cache of resolved activations: `(kind, key)` to the typed reference of the
//! activation last reached, so that a warm call by key costs a hash lookup and a call, not a
//! registry lookup, a directory key and a new reference per call.
//!
//! An entry is dropped when it may be stale: its activation (on this node) exited (the live
//! table's exit hook), its node went down (the host's node-event watcher; a hit on a node
//! that is not connected is also not used), or a call through it failed (any error: the
//! next attempt resolves the key again). The cache is bounded
//! ([`EntityConfig::ref_cache`](crate::EntityConfig::ref_cache)): when full, an arbitrary
//! entry makes room. A stale entry is never trusted for more than one failed request, and a
//! request is sent again only when it provably did not reach a live activation, as without
//! the cache.

use actor_core::{NodeId, Pid};
use parking_lot::RwLock;
use std::any::Any;
use std::collections::HashMap;

struct Cached {
    pid: Pid,
    /// A `StatemRef<E>` of the kind's entity type.
    r: Box<dyn Any + Send + Sync>,
}

#[derive(Default)]
struct Maps {
    kinds: HashMap<&'static str, HashMap<String, Cached>>,
    len: usize,
}

/// Resolved activations by kind and key, at most `max`.
pub(crate) struct RefCache {
    max: usize,
    maps: RwLock<Maps>,
}

impl Default for RefCache {
    fn default() -> Self {
        RefCache::new(crate::host::DEFAULT_REF_CACHE)
    }
}

impl RefCache {
    pub(crate) fn new(max: usize) -> RefCache {
        RefCache {
            max,
            maps: RwLock::new(Maps::default()),
        }
    }

    /// The cached reference of `kind`/`key` with its pid.
    pub(crate) fn get<R: Any + Clone>(&self, kind: &str, key: &str) -> Option<(Pid, R)> {
        let maps = self.maps.read();
        let c = maps.kinds.get(kind)?.get(key)?;
        Some((c.pid, c.r.downcast_ref::<R>()?.clone()))
    }

    /// Caches `r` (the activation `pid`) for `kind`/`key`, making room if full.
    pub(crate) fn insert<R: Any + Send + Sync>(
        &self,
        kind: &'static str,
        key: &str,
        pid: Pid,
        r: R,
    ) {
        if self.max == 0 {
            return;
        }
        let mut maps = self.maps.write();
        let present = maps.kinds.get(kind).is_some_and(|m| m.contains_key(key));
        if !present && maps.len >= self.max {
            let victim = maps
                .kinds
                .iter()
                .find_map(|(k, m)| m.keys().next().map(|key| (*k, key.clone())));
            if let Some((k, victim)) = victim {
                remove(&mut maps, k, &victim, None);
            }
        }
        let c = Cached {
            pid,
            r: Box::new(r),
        };
        if maps
            .kinds
            .entry(kind)
            .or_default()
            .insert(key.to_string(), c)
            .is_none()
        {
            maps.len += 1;
        }
    }

    /// Drops the entry of `kind`/`key` if it is for `pid` (or any, with `None`).
    pub(crate) fn evict(&self, kind: &str, key: &str, pid: Option<Pid>) {
        let mut maps = self.maps.write();
        remove(&mut maps, kind, key, pid);
    }

    /// Drops every entry of an activation on `node`; how many.
    pub(crate) fn purge_node(&self, node: NodeId) -> usize {
        let mut maps = self.maps.write();
        let mut gone = 0;
        for m in maps.kinds.values_mut() {
            let before = m.len();
            m.retain(|_, c| c.pid.node != node);
            gone += before - m.len();
        }
        maps.kinds.retain(|_, m| !m.is_empty());
        maps.len -= gone;
        gone
    }

    pub(crate) fn len(&self) -> usize {
        self.maps.read().len
    }
}

fn remove(maps: &mut Maps, kind: &str, key: &str, pid: Option<Pid>) {
    let Some(m) = maps.kinds.get_mut(kind) else {
        return;
    };
    if m.get(key).is_some_and(|c| pid.is_none_or(|p| p == c.pid)) {
        m.remove(key);
        maps.len -= 1;
        if m.is_empty() {
            maps.kinds.remove(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(node: &str, id: u64) -> Pid {
        Pid {
            node: NodeId::from_name(node),
            id,
            creation: 1,
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let c = RefCache::new(8);
        for i in 0..100u64 {
            c.insert("k", &format!("key-{i}"), pid("a", i), i);
            assert!(c.len() <= 8);
        }
        assert_eq!(c.len(), 8);
        // The newest is always there; replacing an entry does not evict another.
        assert_eq!(c.get::<u64>("k", "key-99"), Some((pid("a", 99), 99)));
        c.insert("k", "key-99", pid("a", 100), 100u64);
        assert_eq!(c.len(), 8);
        assert_eq!(c.get::<u64>("k", "key-99"), Some((pid("a", 100), 100)));
        let off = RefCache::new(0);
        off.insert("k", "x", pid("a", 1), 1u64);
        assert_eq!(off.len(), 0);
        assert_eq!(off.get::<u64>("k", "x"), None);
    }

    #[test]
    fn a_down_node_and_a_failed_call_clean_up() {
        let c = RefCache::new(100);
        for i in 0..10u64 {
            let node = if i % 2 == 0 { "a" } else { "b" };
            c.insert("k", &format!("{i}"), pid(node, i), i);
        }
        c.insert("j", "x", pid("b", 50), 50u64);
        assert_eq!(c.purge_node(NodeId::from_name("b")), 6);
        assert_eq!(c.len(), 5);
        assert_eq!(c.get::<u64>("j", "x"), None);
        assert_eq!(c.maps.read().kinds.len(), 1, "empty kinds are dropped");
        // Evicting for another pid (an activation already replaced) keeps the entry.
        c.evict("k", "0", Some(pid("a", 7)));
        assert_eq!(c.len(), 5);
        c.evict("k", "0", Some(pid("a", 0)));
        c.evict("k", "2", None);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get::<u64>("k", "0"), None);
        // A wrong type is a miss, not a panic.
        assert_eq!(c.get::<String>("k", "4"), None);
    }
}
