//! Supervisor reports as `tracing` events (OTP's `supervisor_report` and progress reports).
//! The events and their fields are listed in the module docs ("Reports").

use crate::error::SpawnError;
use crate::exit::ExitReason;
use crate::pid::Pid;

/// The target of every supervisor event.
pub(crate) const TARGET: &str = "actor_core::supervisor";

/// `errorContext child_terminated`: a child exited by itself with a reason the supervisor
/// reports (any reason for a permanent child; an abnormal one otherwise).
pub(crate) fn child_terminated(sup: Pid, id: &str, pid: Pid, reason: &ExitReason) {
    tracing::error!(
        target: TARGET,
        report = "supervisor_report",
        error_context = "child_terminated",
        sup = %sup,
        child_id = id,
        child_pid = %pid,
        reason = %reason,
        "child terminated"
    );
}

/// `errorContext start_error`: a (re)start failed.
pub(crate) fn start_error(sup: Pid, id: &str, reason: &SpawnError) {
    tracing::error!(
        target: TARGET,
        report = "supervisor_report",
        error_context = "start_error",
        sup = %sup,
        child_id = id,
        reason = %reason,
        "child failed to start"
    );
}

/// `errorContext shutdown`, reason `reached_max_restart_intensity`: the supervisor gives up.
pub(crate) fn intensity_reached(sup: Pid, id: &str) {
    tracing::error!(
        target: TARGET,
        report = "supervisor_report",
        error_context = "shutdown",
        sup = %sup,
        child_id = id,
        reason = "reached_max_restart_intensity",
        "reached maximum restart intensity; shutting down"
    );
}

/// `errorContext shutdown_error`: a child stopped by the supervisor ended with another reason
/// than its shutdown policy expects (`killed` after its shutdown timeout, for one).
pub(crate) fn shutdown_error(
    sup: Pid,
    id: &str,
    pid: Pid,
    reason: &ExitReason,
    timed_out: Option<std::time::Duration>,
) {
    match timed_out {
        Some(limit) => tracing::error!(
            target: TARGET,
            report = "supervisor_report",
            error_context = "shutdown_error",
            sup = %sup,
            child_id = id,
            child_pid = %pid,
            reason = %reason,
            shutdown_timeout = ?limit,
            "child did not stop within its shutdown timeout; killed"
        ),
        None => tracing::error!(
            target: TARGET,
            report = "supervisor_report",
            error_context = "shutdown_error",
            sup = %sup,
            child_id = id,
            child_pid = %pid,
            reason = %reason,
            "child stopped with an unexpected reason"
        ),
    }
}

/// Progress report: a child (re)started.
pub(crate) fn started(sup: Pid, id: &str, pid: Pid) {
    tracing::debug!(
        target: TARGET,
        report = "progress",
        sup = %sup,
        child_id = id,
        child_pid = %pid,
        "child started"
    );
}

/// Auto shutdown: a significant child ended and the supervisor shuts itself down.
pub(crate) fn auto_shutdown(sup: Pid, id: &str) {
    tracing::info!(
        target: TARGET,
        report = "auto_shutdown",
        sup = %sup,
        child_id = id,
        "significant child ended; supervisor shutting down"
    );
}
