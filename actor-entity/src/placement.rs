//! Where a new activation goes: a [`Placement`] picks one node among the [`Candidate`]s.
//!
//! Candidates are the nodes that registered the entity kind (this node and the connected
//! visible ones), each with its last load report and the activations this node placed there
//! since that report (**in flight**): load reports are up to a report interval old, so without
//! counting what was just placed, back-to-back placements would all pile onto the node that
//! looked emptiest.

use actor_dist::LoadReport;
use std::collections::HashMap;

/// A node that can take an activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The node's name.
    pub node: String,
    /// Its last load report (this node's own is current).
    pub load: LoadReport,
    /// Activations this node placed there that its load report does not show yet.
    pub in_flight: u64,
    /// Whether it is the node the request came from (the caller's node, not the key's
    /// coordinator that decides).
    pub local: bool,
}

impl Candidate {
    /// Live actors, counting the placements in flight.
    pub fn actors(&self) -> u64 {
        self.load.actors + self.in_flight
    }
}

/// Chooses the node for a new activation of `kind`/`key`. Every implementation must return
/// one of the candidates' names (or `None` if it will not place the key anywhere).
pub trait Placement: Send + Sync + 'static {
    /// The node for the activation.
    fn place(&self, kind: &str, key: &str, candidates: &[Candidate]) -> Option<String>;
}

/// The default: the node with the fewest actors (placements in flight included), then the
/// shortest backlog, then the least memory, then the name (so every tie is broken alike).
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastLoaded;

impl Placement for LeastLoaded {
    fn place(&self, _kind: &str, _key: &str, candidates: &[Candidate]) -> Option<String> {
        candidates
            .iter()
            .min_by_key(|c| (c.actors(), c.load.backlog, c.load.memory, c.node.clone()))
            .map(|c| c.node.clone())
    }
}

/// Rendezvous (highest random weight) hashing of the key over the candidates: every node
/// computes the same node for a key, and when a node joins or leaves only the keys that hash
/// to it move.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConsistentHash;

/// A stable 64-bit hash (FNV-1a): the same on every node and every build.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // Finalise (splitmix64) so close inputs spread.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Placement for ConsistentHash {
    fn place(&self, kind: &str, key: &str, candidates: &[Candidate]) -> Option<String> {
        candidates
            .iter()
            .max_by_key(|c| {
                (
                    stable_hash(&[kind.as_bytes(), key.as_bytes(), c.node.as_bytes()]),
                    c.node.clone(),
                )
            })
            .map(|c| c.node.clone())
    }
}

/// The caller's node when it is a candidate, else what the inner placement chooses.
#[derive(Clone, Copy, Debug, Default)]
pub struct PreferLocal<P>(pub P);

impl<P: Placement> Placement for PreferLocal<P> {
    fn place(&self, kind: &str, key: &str, candidates: &[Candidate]) -> Option<String> {
        match candidates.iter().find(|c| c.local) {
            Some(c) => Some(c.node.clone()),
            None => self.0.place(kind, key, candidates),
        }
    }
}

/// Only nodes with the role a kind asks for (kinds without a role go anywhere), then the
/// inner placement among them.
#[derive(Clone, Debug, Default)]
pub struct ByRole<P> {
    /// Roles of each node, by node name.
    pub node_roles: HashMap<String, Vec<String>>,
    /// The role each kind needs.
    pub kind_role: HashMap<String, String>,
    /// The placement among the nodes that have the role.
    pub inner: P,
}

impl<P: Placement> Placement for ByRole<P> {
    fn place(&self, kind: &str, key: &str, candidates: &[Candidate]) -> Option<String> {
        let Some(role) = self.kind_role.get(kind) else {
            return self.inner.place(kind, key, candidates);
        };
        let fit: Vec<Candidate> = candidates
            .iter()
            .filter(|c| {
                self.node_roles
                    .get(&c.node)
                    .is_some_and(|rs| rs.contains(role))
            })
            .cloned()
            .collect();
        self.inner.place(kind, key, &fit)
    }
}

/// A placement from a closure, for tests and one-off rules.
pub struct PlaceWith<F>(pub F);

impl<F> Placement for PlaceWith<F>
where
    F: Fn(&str, &str, &[Candidate]) -> Option<String> + Send + Sync + 'static,
{
    fn place(&self, kind: &str, key: &str, candidates: &[Candidate]) -> Option<String> {
        (self.0)(kind, key, candidates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(node: &str, actors: u64, in_flight: u64) -> Candidate {
        Candidate {
            node: node.into(),
            load: LoadReport {
                actors,
                backlog: 0,
                memory: 0,
            },
            in_flight,
            local: node == "a",
        }
    }

    #[test]
    fn least_loaded_counts_placements_in_flight() {
        let mut cs = vec![cand("a", 10, 0), cand("b", 10, 0), cand("c", 10, 0)];
        let mut placed = HashMap::new();
        for _ in 0..30 {
            let n = LeastLoaded.place("k", "x", &cs).unwrap();
            *placed.entry(n.clone()).or_insert(0) += 1;
            cs.iter_mut().find(|c| c.node == n).unwrap().in_flight += 1;
        }
        assert_eq!(placed.values().copied().collect::<Vec<_>>(), vec![10; 3]);
    }

    #[test]
    fn consistent_hash_moves_only_the_keys_of_a_leaving_node() {
        let all = vec![cand("a", 0, 0), cand("b", 0, 0), cand("c", 0, 0)];
        let two = vec![cand("a", 0, 0), cand("b", 0, 0)];
        let mut moved = 0;
        let mut counts = HashMap::new();
        for i in 0..3000 {
            let key = format!("key-{i}");
            let before = ConsistentHash.place("k", &key, &all).unwrap();
            let after = ConsistentHash.place("k", &key, &two).unwrap();
            *counts.entry(before.clone()).or_insert(0) += 1;
            if before != after {
                assert_eq!(before, "c", "only c's keys move");
                moved += 1;
            }
        }
        assert_eq!(moved, counts["c"]);
        for n in ["a", "b", "c"] {
            assert!((800..1200).contains(&counts[n]), "{counts:?}");
        }
    }

    #[test]
    fn prefer_local_and_roles() {
        let cs = vec![cand("a", 100, 0), cand("b", 0, 0)];
        assert_eq!(PreferLocal(LeastLoaded).place("k", "x", &cs).unwrap(), "a");
        let by_role = ByRole {
            node_roles: HashMap::from([("a".into(), vec!["billing".into()])]),
            kind_role: HashMap::from([("invoice".into(), "billing".into())]),
            inner: LeastLoaded,
        };
        assert_eq!(by_role.place("invoice", "x", &cs).unwrap(), "a");
        assert_eq!(by_role.place("other", "x", &cs).unwrap(), "b");
    }
}
