//! Process groups, after OTP's `pg`: a scope (a registry) holds named groups of processes;
//! a process may join a group more than once and must leave as many times. In a global scope
//! membership is replicated like entries: each node sends its own processes' joins and leaves.

use crate::error::RegistryError;
use crate::key::Key;
use crate::monitor::{GroupChange, GroupMonitor, Sink};
use crate::registry::Registry;
use crate::sync::Op;
use actor_core::Pid;
use std::collections::{BTreeMap, HashMap};

impl Registry {
    /// Adds each of `pids` to `group` (OTP `pg:join/3`), once per occurrence: a pid listed
    /// twice, or joining again later, is a member twice and must leave twice. Every pid must be
    /// a live process of this node; if one is not, nobody joins.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node};
    /// # use actor_registry::{Key, Registry};
    /// # struct W; impl Actor for W { type Msg = (); async fn handle(&mut self, _: (), _: &mut Context<Self>) {} }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("pg@localhost");
    /// let scope = Registry::new(&node);
    /// let a = node.spawn(W).await.unwrap().pid();
    /// let b = node.spawn(W).await.unwrap().pid();
    /// scope.join("workers", [a, b, a]).unwrap();
    /// assert_eq!(scope.members(&Key::from("workers")), vec![a, b, a]);
    /// scope.leave("workers", [a]).unwrap();
    /// assert_eq!(scope.members(&Key::from("workers")), vec![a, b]);
    /// # });
    /// ```
    pub fn join(
        &self,
        group: impl Into<Key>,
        pids: impl IntoIterator<Item = Pid>,
    ) -> Result<(), RegistryError> {
        let group = group.into();
        let pids: Vec<Pid> = pids.into_iter().collect();
        for &pid in &pids {
            self.check_pid(pid)?;
        }
        let mut st = self.inner.state.lock();
        self.join_locked(&mut st, &group, &pids);
        self.flush(&mut st);
        Ok(())
    }

    pub(crate) fn join_locked(&self, st: &mut crate::state::State, group: &Key, pids: &[Pid]) {
        if pids.is_empty() {
            return;
        }
        for &pid in pids {
            if st.join_one(group, pid) {
                self.watch(st, pid);
            }
        }
        st.notify_group(group, pids, GroupChange::Joined);
        if self.replicates(pids[0]) {
            st.outbox.push(Op::Join {
                group: group.clone(),
                pids: pids.to_vec(),
            });
        }
    }

    /// Removes one membership of each of `pids` from `group` (OTP `pg:leave/3`). If any pid
    /// is not a member (as often as listed), nothing changes and the error names it.
    pub fn leave(
        &self,
        group: impl Into<Key>,
        pids: impl IntoIterator<Item = Pid>,
    ) -> Result<(), RegistryError> {
        let group = group.into();
        let pids: Vec<Pid> = pids.into_iter().collect();
        for &pid in &pids {
            self.check_owner(pid)?;
        }
        let mut st = self.inner.state.lock();
        self.leave_locked(&mut st, &group, &pids)?;
        self.flush(&mut st);
        Ok(())
    }

    pub(crate) fn leave_locked(
        &self,
        st: &mut crate::state::State,
        group: &Key,
        pids: &[Pid],
    ) -> Result<(), RegistryError> {
        // Check first, so a refused leave changes nothing.
        let mut wanted: HashMap<Pid, usize> = HashMap::new();
        for &pid in pids {
            *wanted.entry(pid).or_default() += 1;
        }
        let members = st.groups.get(group);
        for (&pid, &n) in &wanted {
            let have = members.map_or(0, |m| m.iter().filter(|p| **p == pid).count());
            if have < n {
                return Err(RegistryError::NotJoined {
                    group: group.clone(),
                    pid,
                });
            }
        }
        if pids.is_empty() {
            return Ok(());
        }
        for &pid in pids {
            let left = st.leave_one(group, pid);
            debug_assert!(left, "membership checked above");
        }
        st.notify_group(group, pids, GroupChange::Left);
        if self.replicates(pids[0]) {
            st.outbox.push(Op::Leave {
                group: group.clone(),
                pids: pids.to_vec(),
            });
        }
        Ok(())
    }

    /// The members of `group` on every node of the scope, a pid once per join (OTP
    /// `pg:get_members/2`). Empty for an unknown group.
    pub fn members(&self, group: &Key) -> Vec<Pid> {
        self.inner
            .state
            .lock()
            .groups
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// The members of `group` that run on this node (OTP `pg:get_local_members/2`).
    pub fn local_members(&self, group: &Key) -> Vec<Pid> {
        let node = &self.inner.node;
        self.inner
            .state
            .lock()
            .groups
            .get(group)
            .map(|m| m.iter().copied().filter(|p| node.is_local(*p)).collect())
            .unwrap_or_default()
    }

    /// Every group with at least one member, ordered (OTP `pg:which_groups/1`).
    pub fn which_groups(&self) -> Vec<Key> {
        self.inner.state.lock().groups.keys().cloned().collect()
    }

    /// Monitors `group`: its members now, then every join and leave (including by exit and,
    /// in a global scope, by nodedown) as a [`GroupEvent`](crate::GroupEvent) (OTP
    /// `pg:monitor/2`).
    pub fn monitor_group(&self, group: impl Into<Key>) -> GroupMonitor {
        let group = group.into();
        let (sink, rx, missed) = Sink::new();
        let mut st = self.inner.state.lock();
        let mut members = BTreeMap::new();
        if let Some(m) = st.groups.get(&group) {
            members.insert(group.clone(), m.clone());
        }
        st.group_monitors.entry(group).or_default().push(sink);
        GroupMonitor {
            members,
            rx,
            missed,
        }
    }

    /// Monitors every group of the scope: all memberships now, then every join and leave
    /// (OTP `pg:monitor_scope/1`).
    pub fn monitor_scope(&self) -> GroupMonitor {
        let (sink, rx, missed) = Sink::new();
        let mut st = self.inner.state.lock();
        let members = st.groups.clone();
        st.scope_monitors.push(sink);
        GroupMonitor {
            members,
            rx,
            missed,
        }
    }
}
