//! Stopping one child according to its [`Shutdown`] policy.

use super::report;
use super::spec::{Restart, Shutdown};
use crate::dist::Signal;
use crate::exit::ExitReason;
use crate::node::Node;
use crate::pid::Pid;

/// The child being stopped, for the policy and the report.
pub(crate) struct Stopping<'a> {
    pub(crate) id: &'a str,
    pub(crate) pid: Pid,
    pub(crate) policy: Shutdown,
    pub(crate) restart: Restart,
}

/// Stops `child` on behalf of the supervisor `sup` and waits until it has exited.
///
/// As OTP does: the link is removed first (so the child's exit does not come back as an exit
/// signal), then `shutdown` (or `kill`) is sent from the supervisor, which is the child's
/// parent, so a child that traps exits runs its `stopped` hook. An exit reason the policy does
/// not expect is reported as `shutdown_error` (OTP's `shutdown/1` rules).
pub(crate) async fn shutdown_child(node: &Node, sup: Pid, child: Stopping<'_>) -> ExitReason {
    let pid = child.pid;
    let mut exited = Box::pin(node.wait_exit(pid));
    node.unlink(sup, pid);
    let exit = |reason| {
        node.signal(
            pid,
            Signal::Exit {
                from: sup,
                reason,
                link: false,
            },
        )
    };
    let mut timed_out = None;
    let reason = match child.policy {
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
                    timed_out = Some(limit);
                    exit(ExitReason::Kill);
                    exited.await
                }
            }
        }
    };
    if !expected(&reason, child.policy, child.restart) {
        report::shutdown_error(sup, child.id, pid, &reason, timed_out);
    }
    reason
}

/// OTP's `shutdown/1`: `killed` is expected from brutal_kill, `shutdown` otherwise, and a
/// non-permanent child may also have ended `normal`, `shutdown` or `{shutdown, _}`. `noproc` (the child
/// was already gone, its own exit signal is still on its way) is not reported here.
fn expected(reason: &ExitReason, policy: Shutdown, restart: Restart) -> bool {
    match reason {
        ExitReason::NoProc => true,
        ExitReason::Killed => policy == Shutdown::BrutalKill,
        ExitReason::Shutdown => policy != Shutdown::BrutalKill || restart != Restart::Permanent,
        ExitReason::Normal | ExitReason::ShutdownWith(_) => restart != Restart::Permanent,
        _ => false,
    }
}
