//! Discovery: finding the scope's server on every connected node, and never leaving a
//! connected node unpeered.
//!
//! A discovery task per node asks the node where its server is (`whereis`, an rpc) and sends
//! that server `Discover`, again and again with a capped backoff for as long as the two nodes
//! are connected and not peers: the peer's scope may start late, a message may be lost with a
//! connection that loses a simultaneous connect, an rpc may time out. Tasks start for the
//! nodes connected when the scope starts, on every nodeup, and from a periodic
//! reconciliation that compares the connected nodes with the peers, so a nodeup event that
//! was dropped (a full event queue) cannot leave two replicas unsynced.

use super::protocol::SyncMsg;
use crate::registry::Inner;
use actor_core::{NodeId, Pid};
use actor_dist::{Dist, NodeEvent, RpcError};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long discovery waits for a peer to say where its server is.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// The first delay between two discovery attempts to one node.
const FIRST_RETRY: Duration = Duration::from_millis(50);

/// The longest delay between two discovery attempts to one node.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(5);

/// How often the connected nodes are compared with the peers.
pub(crate) const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// The name of the rpc function through which peers find a scope's server.
pub(crate) fn whereis_fn(scope: &str) -> String {
    format!("actor_registry.whereis/{scope}")
}

/// What every discovery task of one scope shares.
struct Discovery {
    reg: Weak<Inner>,
    dist: Dist,
    scope: String,
    me: Pid,
    /// Whether this replica opted in to take part although its node is hidden.
    hidden: bool,
    /// Nodes with a discovery task running: at most one per node.
    running: Mutex<HashSet<String>>,
}

impl Discovery {
    /// Starts discovering `name` unless a task for it is running already.
    fn start(self: &Arc<Self>, name: String) {
        if self.running.lock().insert(name.clone()) {
            tokio::spawn(discover(self.clone(), name));
        }
    }

    /// A node that refused us may accept us after a reconnect (as another incarnation, or
    /// with this node visible).
    fn forget_refusal(&self, name: &str) {
        if let Some(inner) = self.reg.upgrade() {
            inner
                .state
                .lock()
                .refused_by
                .remove(&NodeId::from_name(name));
        }
    }

    /// The nodes this replica should be peered with and is not.
    fn unpeered(&self) -> Option<Vec<String>> {
        let inner = self.reg.upgrade()?;
        let st = inner.state.lock();
        Some(
            self.dist
                .visible_peers()
                .into_iter()
                .filter(|n| {
                    let id = NodeId::from_name(n);
                    !st.peers.contains_key(&id) && !st.refused_by.contains(&id)
                })
                .collect(),
        )
    }
}

/// Finds the servers of the scope on the nodes connected now, on every node that comes up,
/// and on every connected node found unpeered by the periodic reconciliation, and sends each
/// `Discover`. Ends when the registry is gone.
pub(crate) async fn discover_loop(
    reg: Weak<Inner>,
    dist: Dist,
    scope: String,
    me: Pid,
    hidden: bool,
    mut events: mpsc::Receiver<NodeEvent>,
) {
    let d = Arc::new(Discovery {
        reg,
        dist,
        scope,
        me,
        hidden,
        running: Mutex::new(HashSet::new()),
    });
    for name in d.dist.visible_peers() {
        d.start(name);
    }
    let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reconcile.tick().await;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                // A hidden node is not discovered: it takes part only if it opts in, and then
                // it discovers us.
                Some(NodeEvent::Up(info)) => {
                    d.forget_refusal(&info.name);
                    if !info.hidden {
                        d.start(info.name);
                    }
                }
                Some(NodeEvent::Down { node, .. }) => d.forget_refusal(&node),
                // A failed authentication changes no connection.
                Some(NodeEvent::AuthFailed { .. }) => {}
                // The distribution is gone: nothing more will connect.
                None => return,
            },
            _ = reconcile.tick() => {
                let Some(missing) = d.unpeered() else { return };
                for name in missing {
                    d.start(name);
                }
            }
        }
        if d.reg.strong_count() == 0 {
            return;
        }
    }
}

/// Finds `name`'s server and sends it `Discover`, again with a capped backoff until the two
/// replicas are peers or the node is no longer connected (its next nodeup, or the
/// reconciliation, starts over).
async fn discover(d: Arc<Discovery>, name: String) {
    struct Done<'a>(&'a Discovery, &'a str);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.running.lock().remove(self.1);
        }
    }
    let _done = Done(&d, &name);
    let id = NodeId::from_name(&name);
    let mut delay = FIRST_RETRY;
    loop {
        let synced = match d.reg.upgrade() {
            Some(inner) => {
                let st = inner.state.lock();
                st.peers.contains_key(&id) || st.refused_by.contains(&id)
            }
            None => return,
        };
        if synced || !d.dist.visible_peers().contains(&name) {
            return;
        }
        let found: Result<Option<Pid>, RpcError> = d
            .dist
            .call(&name, &whereis_fn(&d.scope), &(), DISCOVER_TIMEOUT)
            .await;
        match found {
            Ok(Some(server)) => {
                if let Ok(r) = d.dist.system_ref::<SyncMsg>(server) {
                    let _ = r.tell(SyncMsg::Discover {
                        from: d.me,
                        scope: d.scope.clone(),
                        hidden: d.hidden,
                    });
                }
            }
            // Not running there (yet): try again; its start also discovers us.
            Ok(None) | Err(RpcError::NoSuchFunction(_)) => {}
            Err(e) => {
                tracing::debug!(node = %name, scope = %d.scope, error = %e, "registry discovery failed")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY);
    }
}
