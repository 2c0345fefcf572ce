//! Discovery: finding the scope's server on every connected node.

use super::protocol::SyncMsg;
use crate::registry::Inner;
use actor_core::{NodeId, Pid};
use actor_dist::{Dist, NodeEvent, RpcError};
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long discovery waits for a peer to say where its server is.
const DISCOVER_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the rpc function through which peers find a scope's server.
pub(crate) fn whereis_fn(scope: &str) -> String {
    format!("actor_registry.whereis/{scope}")
}

/// Finds the servers of the scope on the nodes connected now and on every node that comes up,
/// and sends each `Discover`. Ends when the registry is gone.
pub(crate) async fn discover_loop(
    reg: Weak<Inner>,
    dist: Dist,
    scope: String,
    me: Pid,
    mut events: mpsc::Receiver<NodeEvent>,
) {
    for name in dist.nodes() {
        tokio::spawn(discover(reg.clone(), dist.clone(), name, scope.clone(), me));
    }
    while let Some(ev) = events.recv().await {
        if reg.strong_count() == 0 {
            return;
        }
        if let NodeEvent::Up(info) = ev {
            if !info.hidden {
                tokio::spawn(discover(
                    reg.clone(),
                    dist.clone(),
                    info.name,
                    scope.clone(),
                    me,
                ));
            }
        }
    }
}

/// Finds `name`'s server and sends it `Discover`, again with backoff until the two replicas
/// are peers: a message can be lost with a connection that loses a simultaneous connect.
async fn discover(reg: Weak<Inner>, dist: Dist, name: String, scope: String, me: Pid) {
    let id = NodeId::from_name(&name);
    let mut delay = Duration::from_millis(50);
    for _ in 0..10 {
        let synced = match reg.upgrade() {
            Some(inner) => inner.state.lock().peers.contains_key(&id),
            None => return,
        };
        // Synced, or gone (its next nodeup starts over).
        if synced || !dist.nodes().contains(&name) {
            return;
        }
        let found: Result<Option<Pid>, RpcError> = dist
            .call(&name, &whereis_fn(&scope), &(), DISCOVER_TIMEOUT)
            .await;
        match found {
            Ok(Some(server)) => {
                if let Ok(r) = dist.actor_ref::<SyncMsg>(server) {
                    let _ = r.tell(SyncMsg::Discover {
                        from: me,
                        scope: scope.clone(),
                    });
                }
            }
            // Not running there (yet): when it starts, it discovers us.
            Ok(None) | Err(RpcError::NoSuchFunction(_)) => return,
            Err(e) => {
                tracing::debug!(node = %name, %scope, error = %e, "registry discovery failed")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
