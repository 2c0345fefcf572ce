//! Stopping one child according to its [`Shutdown`] policy.

use super::spec::Shutdown;
use crate::dist::Signal;
use crate::exit::ExitReason;
use crate::node::Node;
use crate::pid::Pid;

/// Stops `child` on behalf of the supervisor `sup` and waits until it has exited.
///
/// As OTP does: the link is removed first (so the child's exit does not come back as an exit
/// signal), then `shutdown` (or `kill`) is sent from the supervisor, which is the child's
/// parent, so a child that traps exits runs its `stopped` hook.
pub(crate) async fn shutdown_child(
    node: &Node,
    sup: Pid,
    child: Pid,
    policy: Shutdown,
) -> ExitReason {
    let mut exited = Box::pin(node.wait_exit(child));
    node.unlink(sup, child);
    let exit = |reason| {
        node.signal(
            child,
            Signal::Exit {
                from: sup,
                reason,
                link: false,
            },
        )
    };
    match policy {
        Shutdown::BrutalKill => {
            exit(ExitReason::Kill);
            exited.await
        }
        Shutdown::Infinity => {
            exit(ExitReason::Shutdown);
            exited.await
        }
        Shutdown::Timeout(limit) => {
            exit(ExitReason::Shutdown);
            match tokio::time::timeout(limit, &mut exited).await {
                Ok(reason) => reason,
                Err(_) => {
                    tracing::warn!(%child, ?limit, "child ignored shutdown; killing it");
                    exit(ExitReason::Kill);
                    exited.await
                }
            }
        }
    }
}
