//! Node-local registered names: OTP's `register/2`, `unregister/1`, `whereis/1` and
//! `registered/0`.
//!
//! A process has at most one registered name and a name names at most one process, as in OTP.
//! The name is freed as part of the process's exit, before its links and monitors fire (an
//! [`ExitHook`]), so a supervisor restarting it can register the same name at once. For
//! gproc-style names, properties and cluster-wide names, see the actor-registry crate.

use crate::actor::{Actor, Context};
use crate::dist::Signal;
use crate::exit::ExitReason;
use crate::node::Node;
use crate::pid::{MonitorRef, Pid};
use crate::process::{ExitHook, FastMap};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Why [`Node::register`] refused (OTP raises `badarg` for all of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Another live process has the name.
    #[error("{name:?} is already registered to {holder}")]
    NameTaken {
        /// The name.
        name: String,
        /// Its holder.
        holder: Pid,
    },
    /// The process already has a (different) name.
    #[error("{pid} is already registered as {name:?}")]
    AlreadyNamed {
        /// The process.
        pid: Pid,
        /// Its name.
        name: String,
    },
    /// The process is not a live process of this node.
    #[error("{0} is not a live process of this node")]
    NoProc(Pid),
}

#[derive(Default)]
struct Tables {
    by_name: HashMap<String, Pid>,
    by_pid: FastMap<Pid, String>,
}

/// A node's registered names; also the exit hook that frees a process's name.
#[derive(Default)]
pub(crate) struct Names {
    tables: RwLock<Tables>,
}

impl ExitHook for Names {
    fn exited(&self, pid: Pid, _: &ExitReason) {
        let mut t = self.tables.write();
        if let Some(name) = t.by_pid.remove(&pid) {
            t.by_name.remove(&name);
        }
    }
}

impl Node {
    /// Registers `pid` under `name` on this node (OTP `register/2`). The name is freed when
    /// the process exits, before its links and monitors fire.
    ///
    /// ```
    /// # use actor_core::{Actor, Context, Node, RegisterError};
    /// # struct A;
    /// # impl Actor for A { type Msg = u32; async fn handle(&mut self, _: u32, _: &mut Context<Self>) {} }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let node = Node::new("n@localhost");
    /// let a = node.spawn(A).await.unwrap();
    /// node.register("billing", a.pid()).unwrap();
    /// assert_eq!(node.whereis("billing"), Some(a.pid()));
    /// let b = node.spawn(A).await.unwrap();
    /// assert!(matches!(node.register("billing", b.pid()), Err(RegisterError::NameTaken { .. })));
    /// // A typed reference by name:
    /// node.named::<u32>("billing").unwrap().tell(7).unwrap();
    /// # });
    /// ```
    pub fn register(&self, name: impl Into<String>, pid: Pid) -> Result<(), RegisterError> {
        let name = name.into();
        if self.lookup(pid).is_none() {
            return Err(RegisterError::NoProc(pid));
        }
        {
            let mut t = self.inner.names.tables.write();
            if let Some(&holder) = t.by_name.get(&name) {
                return Err(RegisterError::NameTaken { name, holder });
            }
            if let Some(old) = t.by_pid.get(&pid) {
                return Err(RegisterError::AlreadyNamed {
                    pid,
                    name: old.clone(),
                });
            }
            t.by_name.insert(name.clone(), pid);
            t.by_pid.insert(pid, name.clone());
        }
        // After the insert: either the exit hook is in place and will free the name, or the
        // process is already past that point and the name is taken back here.
        if !self.on_exit(pid, self.inner.names.clone()) {
            self.inner.names.exited(pid, &ExitReason::NoProc);
            return Err(RegisterError::NoProc(pid));
        }
        Ok(())
    }

    /// Removes the name (OTP `unregister/1`); `false` if it was not registered.
    pub fn unregister(&self, name: &str) -> bool {
        let mut t = self.inner.names.tables.write();
        match t.by_name.remove(name) {
            Some(pid) => {
                t.by_pid.remove(&pid);
                true
            }
            None => false,
        }
    }

    /// The process registered as `name` on this node (OTP `whereis/1`).
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.names.tables.read().by_name.get(name).copied()
    }

    /// The name of the local process `pid`, if it has one.
    pub fn name_of(&self, pid: Pid) -> Option<String> {
        self.inner.names.tables.read().by_pid.get(&pid).cloned()
    }

    /// All registered names of this node, sorted (OTP `registered/0`).
    pub fn registered(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .names
            .tables
            .read()
            .by_name
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// A typed reference to the process registered as `name` (checked as
    /// [`Node::actor_ref`] checks). A name with no holder gives
    /// [`RefError::NoProc`](crate::RefError::NoProc) with the node's own pseudo-pid.
    pub fn named<M: Send + 'static>(
        &self,
        name: &str,
    ) -> Result<crate::ActorRef<M>, crate::RefError> {
        match self.whereis(name) {
            Some(pid) => self.actor_ref(pid),
            None => Err(crate::RefError::NoProc(self.pid())),
        }
    }
}

impl<A: Actor> Context<A> {
    /// Monitors the process registered as `name` on this node now (OTP
    /// `monitor(process, Name)`): the monitor follows that process, not the name. With no
    /// process by that name, a `Down` with `noproc` arrives at once; its `pid` is then the
    /// node's pseudo-pid ([`Node::pid`]).
    pub fn monitor_name(&mut self, name: &str) -> MonitorRef {
        match self.node().whereis(name) {
            Some(pid) => self.monitor(pid),
            None => {
                let mref = self.node().make_ref();
                let me = self.pid();
                let node_pid = self.node().pid();
                self.watching_insert(mref, node_pid);
                self.node().signal(
                    me,
                    Signal::Down {
                        mref,
                        pid: node_pid,
                        reason: ExitReason::NoProc,
                    },
                );
                mref
            }
        }
    }
}

/// Shared handle type for the node's names table.
pub(crate) type SharedNames = Arc<Names>;
