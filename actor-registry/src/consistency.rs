//! The registry's internal consistency check, for tests and debugging tools.

use crate::key::Kind;
use crate::registry::Registry;

impl Registry {
    /// Checks the registry's internal consistency and panics with a description if it is
    /// broken: every entry, name and membership is listed under its pid and the other way
    /// round, no group is empty, every aggregated counter equals the sum of its counters, and
    /// no remote pid is kept that holds nothing. For tests and debugging tools; takes the
    /// registry lock.
    #[doc(hidden)]
    pub fn assert_consistent(&self) {
        let st = self.inner.state.lock();
        let mut listed = 0usize;
        for (pid, held) in &st.by_pid {
            let keys = held.keys.to_vec();
            if !self.inner.node.is_local(*pid) {
                assert!(
                    !keys.is_empty() || !held.groups.is_empty(),
                    "remote {pid} kept with nothing held"
                );
            }
            for (kind, key) in keys {
                listed += 1;
                let present = match kind {
                    Kind::Name => self
                        .shard(&key)
                        .read()
                        .get(&key)
                        .is_some_and(|s| s.pid == *pid),
                    _ => st.entries.contains_key(&(kind, key.clone(), *pid)),
                };
                assert!(
                    present,
                    "{pid} lists {kind:?} {key:?}, which it does not hold"
                );
            }
            for g in &held.groups {
                let n = held.groups.iter().filter(|x| *x == g).count();
                let m = st
                    .groups
                    .get(g)
                    .map_or(0, |v| v.iter().filter(|p| *p == pid).count());
                assert_eq!(n, m, "{pid}'s memberships of {g:?}");
            }
        }
        let names: usize = self.inner.names.iter().map(|s| s.read().len()).sum();
        assert_eq!(
            listed,
            names + st.entries.len(),
            "entries not listed under their pid"
        );
        for (g, members) in &st.groups {
            assert!(!members.is_empty(), "empty group {g:?} kept");
            for p in members {
                assert!(
                    st.by_pid.get(p).is_some_and(|h| h.groups.contains(g)),
                    "member {p} of {g:?} not listed under its pid"
                );
            }
        }
        for ((kind, key, pid), v) in &st.entries {
            if *kind == Kind::AggregatedCounter {
                assert_eq!(
                    v.as_int(),
                    Some(st.counter_sum(key)),
                    "aggregated counter {key:?} of {pid}"
                );
            }
        }
    }
}
