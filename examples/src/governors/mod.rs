//! **Governors**: the per-tenant state machines the framework is built for, as entities.
//!
//! - [`entitlement`]: may a tenant use the product (`unentitled → pending_review → entitled`,
//!   `suspended`, `revoked`), with a review window that decides by itself.
//! - [`billing`]: is the tenant paid up (`active`, `past_due`, `suspended`,
//!   `backup_sync_required`), with payments sent to a backup node by rpc when they cannot be
//!   processed locally, and retried with backoff when the backup does not answer.
//! - [`quota`]: is the tenant within its usage (`within`, `warning`, `breached`) per window,
//!   counted in registry counters; a breach is published to the tenant's other governors.
//! - [`payment`]: the subscription payment across entitlement and billing, all or nothing
//!   even if a node dies half-way (an intent entity and a recovery pass).
//!
//! Each governor is an [`Entity`](actor_entity::Entity): one activation per key in the
//! cluster, reached by key from any node through [`Entities`](actor_entity::Entities), every
//! change of its (state, data) written as a receipt (tenant, time, from, to) before its
//! callers hear about it. Keys are `"tenant/id"` (an entitlement `"acme/pro"`, a billing
//! account `"acme/main"`, a quota `"acme/api-calls"`); the entity layer names them
//! `("entity", kind, key)`, so `("entity", "entitlement", "acme/pro")` is the issue's
//! `("entitlement", tenant, id)`.
//!
//! # Start
//!
//! On every node: start the node's [`Entities`](actor_entity::Entities), then
//! [`Governors::start`], which registers the four kinds and the node's environment (see
//! below). Then call from anywhere:
//!
//! ```
//! use actor_core::Node;
//! use actor_dist::{Cookie, Dist, DistConfig};
//! use actor_entity::log::LocalLog;
//! use actor_entity::{Entities, EntityConfig};
//! use actor_journal::{JournalConfig, RedbJournal};
//! use actor_registry::{GlobalConfig, GlobalRegistry};
//! use examples::governors::entitlement::{Cmd, Entitlement, State};
//! use examples::governors::quota::{self, Quota};
//! use examples::governors::{GovernorError, Governors, GovernorsConfig, StaticTenants};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let journal = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
//! let dist = Dist::start(&Node::new("gov@127.0.0.1"), DistConfig::new(Cookie::new("c").unwrap()))
//!     .await
//!     .unwrap();
//! let global = GlobalRegistry::start(&dist, GlobalConfig::new("governors")).await.unwrap();
//! let log = Arc::new(LocalLog::new(Arc::new(journal)));
//! let entities = Entities::start(&dist, &global, log, EntityConfig::default()).await;
//! let tenants = Arc::new(StaticTenants::new(["acme"]));
//! let govs = Governors::start(&entities, &global, GovernorsConfig::new(tenants)).await.unwrap();
//!
//! let t = Duration::from_secs(5);
//! let granted = govs.call::<Entitlement, _>("acme/pro", Cmd::Grant, t).await.unwrap();
//! assert_eq!(granted.state, State::PendingReview);
//! let approved = govs.call::<Entitlement, _>("acme/pro", Cmd::Approve, t).await.unwrap();
//! assert_eq!(approved.state, State::Entitled);
//! // Bad input is a typed error, and changes nothing.
//! let again = govs.call::<Entitlement, _>("acme/pro", Cmd::Approve, t).await;
//! assert!(matches!(again, Err(GovernorError::InvalidEvent { .. })));
//! let usage = quota::Cmd::Usage { window: None, amount: 10 };
//! assert_eq!(govs.call::<Quota, _>("acme/api", usage, t).await.unwrap().data.used, 10);
//! // Every change is a receipt, queried by tenant and time from any node.
//! let receipts = entities.receipts_by_tenant("acme", 0..u64::MAX, 100).await.unwrap();
//! assert!(receipts.iter().any(|r| r.kind == "entitlement" && r.to == "Entitled"));
//! # });
//! ```
//!
//! # Bad input
//!
//! Every reply is `Result<_, `[`GovernorError`]`>`. An unknown tenant (not in the
//! [`Tenants`] directory), a malformed key, an event invalid in the current state, a negative,
//! zero or overflowing amount, a usage report for a closed window: the caller gets the typed
//! error, the machine neither changes state nor data (so no receipt is written), and it keeps
//! running. No input panics a governor. Refusals are counted in [`GovernorStats::refused`]
//! and logged at debug level.
//!
//! # Publication
//!
//! Every durable change of state is published as a [`StateChange`] to the global property
//! [`events_key`]`(tenant)`: any actor taking `StateChange` that registers that property (on
//! any node) receives it ([`Governors::subscribe`]). It is published from the machine's
//! transition observer, which statem calls only after the receipt is durable, so a subscriber
//! never sees a change that a crash could undo.
//!
//! # Timers and passivation
//!
//! Review windows, grace periods, backup retries and quota windows are statem timeouts; they
//! live in the activation. After a move or a failover the new activation starts them again
//! from its durable state (in full: late rather than early). So that the entity layer does
//! not passivate a governor whose timer is running (the timer would then wait for the next
//! use), a waiting governor makes a keep-alive event every
//! [`GovernorsConfig::keep_alive`] (keep it below `EntityConfig::passivate_after`); such an
//! event changes nothing and writes nothing.
//!
//! # How a governor gets its environment
//!
//! [`Entity::activate`](actor_entity::Entity::activate) gets only the key and the last
//! durable state; billing needs the node's `Dist` for its rpc, quota the registry. Without
//! process-wide statics, each node runs one small local actor registered as [`ENV_NAME`]
//! holding an `Arc<`[`GovernorEnv`]`>`; a governor asks it once in `init` (a local call,
//! `ctx.node().whereis(..)`). This is what an OTP application does with a named server. The
//! entity layer could make it direct; the change asked for is in the closing report:
//! `Entity::activate(key, last, env: &Self::Env)` with an associated `type Env: Send + Sync`
//! given to `Entities::register_with::<E>(env)`.

mod base;
pub mod billing;
pub mod entitlement;
mod env;
pub mod payment;
pub mod quota;
#[cfg(test)]
pub(crate) mod testkit;

pub use env::{
    env_of, GovernorEnv, GovernorStats, Governors, GovernorsConfig, StaticTenants, Tenants,
    ENV_NAME,
};

use actor_dist::Message;
use actor_registry::Key;
use serde::{Deserialize, Serialize};

/// Why a governor refused a request. The machine made no transition and wrote no receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum GovernorError {
    /// The key's tenant is not in the node's [`Tenants`] directory.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// A key that is not `"tenant/id"`.
    #[error("bad key {0:?}: expected \"tenant/id\"")]
    BadKey(String),
    /// The event is not valid in the governor's current state.
    #[error("{event} is not valid in state {state}")]
    InvalidEvent {
        /// The state, as `Debug` prints it.
        state: String,
        /// The event.
        event: String,
    },
    /// An amount that is zero or negative.
    #[error("amount {0} must be positive")]
    BadAmount(i64),
    /// An amount that would overflow a total.
    #[error("amount {0} overflows the total")]
    Overflow(i64),
    /// A usage report for a window that is already closed.
    #[error("window {window} is closed (the current window is {current})")]
    WindowClosed {
        /// The window reported.
        window: u64,
        /// The open window.
        current: u64,
    },
    /// A usage report for a window that has not opened yet.
    #[error("window {window} is not open yet (the current window is {current})")]
    WindowNotOpen {
        /// The window reported.
        window: u64,
        /// The open window.
        current: u64,
    },
    /// Another coordinated operation (intent) is prepared on this governor.
    #[error("intent {0:?} is pending on this governor")]
    IntentPending(String),
    /// This intent was already aborted here; it cannot be prepared again.
    #[error("intent {0:?} was aborted")]
    IntentAborted(String),
    /// The governor could not reach a service it needs (the payment backup, ...).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl GovernorError {
    /// An [`InvalidEvent`](GovernorError::InvalidEvent) error.
    pub fn invalid(state: &impl std::fmt::Debug, event: &impl std::fmt::Debug) -> Self {
        GovernorError::InvalidEvent {
            state: format!("{state:?}"),
            event: format!("{event:?}"),
        }
    }
}

/// Checks an amount from a request: positive, and returned as `u64`.
pub fn positive(amount: i64) -> Result<u64, GovernorError> {
    if amount <= 0 {
        return Err(GovernorError::BadAmount(amount));
    }
    Ok(amount as u64)
}

/// Adds `amount` to `total`, or [`GovernorError::Overflow`].
pub fn add(total: u64, amount: u64) -> Result<u64, GovernorError> {
    total
        .checked_add(amount)
        .filter(|t| *t <= i64::MAX as u64)
        .ok_or(GovernorError::Overflow(amount.min(i64::MAX as u64) as i64))
}

/// Splits a governor key `"tenant/id"` into its tenant and id (both non-empty).
pub fn split_key(key: &str) -> Result<(&str, &str), GovernorError> {
    match key.split_once('/') {
        Some((t, id)) if !t.is_empty() && !id.is_empty() => Ok((t, id)),
        _ => Err(GovernorError::BadKey(key.to_string())),
    }
}

/// A durable change of a governor's state, published to [`events_key`]`(tenant)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The tenant.
    pub tenant: String,
    /// The governor kind (`"entitlement"`, `"billing"`, `"quota"`, `"payment_intent"`).
    pub kind: String,
    /// The governor's key.
    pub key: String,
    /// The state before, as `Debug` prints it.
    pub from: String,
    /// The state after.
    pub to: String,
}

impl Message for StateChange {
    const NAME: &'static str = "examples.governors.StateChange";
}

/// A quota breach, published to the tenant's entitlement and billing governors
/// ([`breach_key`]) and as a [`StateChange`] to [`events_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaBreached {
    /// The tenant.
    pub tenant: String,
    /// The quota governor's key.
    pub quota: String,
    /// The window breached.
    pub window: u64,
    /// Usage in that window.
    pub used: u64,
    /// The limit.
    pub limit: u64,
}

impl Message for QuotaBreached {
    const NAME: &'static str = "examples.governors.QuotaBreached";
}

/// The global property a tenant's state changes are published to.
pub fn events_key(tenant: &str) -> Key {
    Key::from(("governor.events", tenant))
}

/// The global property through which governors of `kind` of `tenant` hear of quota breaches.
pub fn breach_key(tenant: &str, kind: &str) -> Key {
    Key::from(("quota.breach", tenant, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_amounts_are_checked() {
        assert_eq!(split_key("acme/pro"), Ok(("acme", "pro")));
        for bad in ["", "acme", "/pro", "acme/", "/"] {
            assert_eq!(split_key(bad), Err(GovernorError::BadKey(bad.into())));
        }
        assert_eq!(positive(5), Ok(5));
        assert_eq!(positive(0), Err(GovernorError::BadAmount(0)));
        assert_eq!(positive(-3), Err(GovernorError::BadAmount(-3)));
        assert_eq!(add(1, 2), Ok(3));
        assert!(matches!(
            add(i64::MAX as u64, 1),
            Err(GovernorError::Overflow(_))
        ));
        assert!(add(u64::MAX, 1).is_err());
    }
}
