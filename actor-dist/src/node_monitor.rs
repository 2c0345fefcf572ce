//! `monitor_node`: an actor is told when a node goes down (OTP `monitor_node(Node, true)`).
//!
//! Each request is counted, as in OTP: monitoring a node twice gives two messages. A
//! request for a node that is not connected is answered at once. A watcher's requests go
//! with it when it exits (an exit hook), so nothing grows with short-lived watchers.

use crate::dist::Dist;
use actor_core::{ExitHook, ExitReason, Node, Pid};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Who monitors which node.
#[derive(Default)]
pub(crate) struct NodeMonitors {
    by_node: Mutex<HashMap<String, Vec<Pid>>>,
}

impl ExitHook for NodeMonitors {
    fn exited(&self, pid: Pid, _: &ExitReason) {
        let mut m = self.by_node.lock();
        m.retain(|_, watchers| {
            watchers.retain(|w| *w != pid);
            !watchers.is_empty()
        });
    }
}

impl NodeMonitors {
    /// `node` went down: every watcher gets one `nodedown` per request, and the requests end.
    pub(crate) fn node_down(&self, local: &Node, node: &str) {
        let watchers = self.by_node.lock().remove(node).unwrap_or_default();
        for w in watchers {
            local.deliver_nodedown(w, node);
        }
    }

    /// Requests held (for leak checks).
    pub(crate) fn count(&self) -> usize {
        self.by_node.lock().values().map(Vec::len).sum()
    }
}

impl Dist {
    /// Tells the local actor `watcher` (through [`Actor::handle_nodedown`]) when `node` goes
    /// down (OTP `monitor_node(Node, true)`). A node that is not connected now is reported at
    /// once. Returns `false` if `watcher` is not a live local process.
    ///
    /// [`Actor::handle_nodedown`]: actor_core::Actor::handle_nodedown
    pub fn monitor_node(&self, watcher: Pid, node: &str) -> bool {
        let local = self.node();
        if !local.is_alive(watcher) {
            return false;
        }
        let monitors = &self.inner.node_monitors;
        if !self.nodes_connected().iter().any(|n| n == node) {
            return local.deliver_nodedown(watcher, node);
        }
        monitors
            .by_node
            .lock()
            .entry(node.to_string())
            .or_default()
            .push(watcher);
        if !local.on_exit(watcher, monitors.clone() as Arc<dyn ExitHook>) {
            monitors.exited(watcher, &ExitReason::NoProc);
            return false;
        }
        // The node may have gone down in between: then its `node_down` ran before the push.
        if !self.nodes_connected().iter().any(|n| n == node) {
            let removed = {
                let mut m = monitors.by_node.lock();
                match m.get_mut(node) {
                    Some(ws) => match ws.iter().position(|w| *w == watcher) {
                        Some(i) => {
                            ws.remove(i);
                            true
                        }
                        None => false,
                    },
                    None => false,
                }
            };
            if removed {
                local.deliver_nodedown(watcher, node);
            }
        }
        true
    }

    /// Removes one `monitor_node` request of `watcher` for `node` (OTP
    /// `monitor_node(Node, false)`); `false` if there was none.
    pub fn demonitor_node(&self, watcher: Pid, node: &str) -> bool {
        let mut m = self.inner.node_monitors.by_node.lock();
        let Some(ws) = m.get_mut(node) else {
            return false;
        };
        let Some(i) = ws.iter().position(|w| *w == watcher) else {
            return false;
        };
        ws.remove(i);
        if ws.is_empty() {
            m.remove(node);
        }
        true
    }

    /// `monitor_node` requests held now (for leak checks).
    pub fn node_monitor_count(&self) -> usize {
        self.inner.node_monitors.count()
    }
}
