//! Reading many entries at once: select by pattern, count, the full listing and what one
//! pid holds.

use crate::key::{Key, Kind, Pattern, Value};
use crate::registry::Registry;
use crate::state::min_pid;
use actor_core::Pid;
use std::ops::Bound;

/// One registry entry, as returned by [`Registry::select`] and [`Registry::list`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Kind of the key.
    pub kind: Kind,
    /// The key.
    pub key: Key,
    /// The holder.
    pub pid: Pid,
    /// The holder's value (for an aggregated counter, the current sum).
    pub value: Value,
}

impl Registry {
    /// The entries of `kind` whose key matches `pattern`, in key order then pid order
    /// (gproc `select/1`). Exact leading parts of the pattern narrow an ordered range scan
    /// for non-name kinds; names are scanned shard by shard.
    pub fn select(&self, kind: Kind, pattern: &Pattern) -> Vec<Entry> {
        let mut out = Vec::new();
        self.for_each_match(kind, pattern, |e| out.push(e));
        if kind == Kind::Name {
            out.sort();
        }
        out
    }

    /// How many entries of `kind` match `pattern`.
    pub fn count(&self, kind: Kind, pattern: &Pattern) -> usize {
        let mut n = 0;
        self.for_each_match(kind, pattern, |_| n += 1);
        n
    }

    fn for_each_match(&self, kind: Kind, pattern: &Pattern, mut f: impl FnMut(Entry)) {
        if kind == Kind::Name {
            for shard in self.inner.names.iter() {
                for (k, s) in shard.read().iter() {
                    if pattern.matches(k) {
                        f(Entry {
                            kind,
                            key: k.clone(),
                            pid: s.pid,
                            value: s.value.clone(),
                        });
                    }
                }
            }
            return;
        }
        let prefix = pattern.fixed_prefix();
        let st = self.inner.state.lock();
        let range = st.entries.range((
            Bound::Included((kind, prefix.clone(), min_pid())),
            Bound::Unbounded,
        ));
        for ((k, key, pid), v) in range {
            if *k != kind || !key.starts_with(&prefix) {
                break;
            }
            if pattern.matches(key) {
                f(Entry {
                    kind,
                    key: key.clone(),
                    pid: *pid,
                    value: v.clone(),
                });
            }
        }
    }

    /// Every entry of every kind, ordered (for debugging tools).
    pub fn list(&self) -> Vec<Entry> {
        let mut out = self.select(Kind::Name, &Pattern::all());
        let st = self.inner.state.lock();
        out.extend(st.entries.iter().map(|((kind, key, pid), v)| Entry {
            kind: *kind,
            key: key.clone(),
            pid: *pid,
            value: v.clone(),
        }));
        out
    }

    /// The keys `pid` holds (gproc `info(Pid, gproc)`), ordered.
    pub fn keys_of(&self, pid: Pid) -> Vec<(Kind, Key)> {
        let mut v: Vec<_> = self
            .inner
            .state
            .lock()
            .by_pid
            .get(&pid)
            .map(|s| s.keys.to_vec())
            .unwrap_or_default();
        v.sort();
        v
    }
}
