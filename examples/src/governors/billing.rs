//! The **billing** governor: is a tenant's account paid up.
//!
//! ```text
//!              overdue (something is due)            grace period runs out
//!   active ─────────────────────────────▶ past_due ─────────────────────────▶ suspended
//!     ▲  ▲          payment clears the due   │                                    │
//!     │  └───────────────────────────────────┘◀──── payment clears the due ───────┘
//!     │
//!     │  a payment the local gateway cannot process goes by rpc to the backup node;
//!     │  if the backup does not answer in time (from any state):
//!     │
//!     │   sync done (to the state it came from, or active if nothing is due)
//!     └──────────────────────────── backup_sync_required ◀─┐
//!                                        │ retry: backoff  │
//!                                        └─────────────────┘ (doubling, capped)
//! ```
//!
//! - The grace period is a **state timeout** of `past_due`: a payment that clears the due
//!   leaves the state and so cancels it.
//! - The retry is a **generic timeout** named `Retry`, restarted with a doubled delay after
//!   every failed attempt (capped). The number of attempts is not durable (retries write no
//!   receipts); the payment waiting for sync is.
//! - A payment is sent to the backup node with an id (`key#n`), so a backup that did
//!   process a payment whose answer was lost can recognise the retry.
//! - The rpc runs inside the event callback, bounded by `backup_timeout`: the governor takes
//!   no other event meanwhile, as a `gen_statem` making an `erpc:call` would not.
//! - After a restart (failover, passivation) in `past_due`, the grace period starts again in
//!   full, and in `backup_sync_required` a retry is made after the first backoff.
//! - A quota breach adds the configured overage fee to the amount due.

use super::base::{next_state, Base};
use super::env::GovernorEnv;
use super::payment::Intents;
use super::{add, positive, GovernorError, QuotaBreached};
use actor_core::ExitReason;
use actor_dist::Dist;
use actor_entity::Entity;
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, Observed, RemoteMachine, StateMachine, Transition};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The rpc a backup node serves ([`serve_backup`]).
pub const BACKUP_RPC: &str = "billing.backup_payment";

/// The billing states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Paid up (or not yet overdue).
    Active,
    /// Overdue, within the grace period.
    PastDue,
    /// The grace period ran out.
    Suspended,
    /// A payment waits for the backup node.
    BackupSyncRequired,
}

/// Processes payments on this node. `false`: it cannot now (the payment goes to the backup).
pub trait Gateway: Send + Sync + 'static {
    /// Charges `amount` for `tenant`.
    fn charge(&self, tenant: &str, amount: u64) -> bool;
}

/// A gateway that is up or down by a switch.
pub struct Switch(pub AtomicBool);

impl Gateway for Switch {
    fn charge(&self, _tenant: &str, _amount: u64) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Billing policy and services.
#[derive(Clone)]
pub struct Config {
    /// How long `past_due` lasts before `suspended` (default 7 days).
    pub grace: Duration,
    /// The node serving [`BACKUP_RPC`] (default none: a payment the gateway cannot process
    /// is refused).
    pub backup_node: Option<String>,
    /// How long the backup may take (default 2 s).
    pub backup_timeout: Duration,
    /// The first and the largest delay between retries (default 1 s, 60 s).
    pub backoff: (Duration, Duration),
    /// The local payment gateway (default: always up).
    pub gateway: Arc<dyn Gateway>,
    /// Added to the amount due on a quota breach (default 100).
    pub overage_fee: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grace: Duration::from_secs(7 * 24 * 3600),
            backup_node: None,
            backup_timeout: Duration::from_secs(2),
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            gateway: Arc::new(Switch(AtomicBool::new(true))),
            overage_fee: 100,
        }
    }
}

/// A payment sent to the backup node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPayment {
    /// The tenant.
    pub tenant: String,
    /// The payment's id (`key#n`), the same on every retry.
    pub id: String,
    /// The amount.
    pub amount: u64,
}

/// Serves [`BACKUP_RPC`] on `dist`'s node: `f` processes a payment (`Err`: declined).
pub fn serve_backup<F, Fut>(dist: &Dist, f: F)
where
    F: Fn(BackupPayment) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    dist.register_rpc(BACKUP_RPC, f);
}

/// Requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmd {
    /// Adds `amount` to the amount due.
    Invoice {
        /// Positive.
        amount: i64,
    },
    /// The due date passed: `active → past_due` if something is due.
    Overdue,
    /// Pays `amount` (locally, else through the backup node).
    Pay {
        /// Positive.
        amount: i64,
    },
    /// Read.
    Status,
    /// Payment intent, phase 1: only while `active`.
    Prepare {
        /// The intent id.
        intent: String,
        /// The amount.
        amount: i64,
    },
    /// Payment intent, phase 2: record the payment and advance a period (idempotent).
    Commit {
        /// The intent id.
        intent: String,
    },
    /// Payment intent: forget it (idempotent).
    Abort {
        /// The intent id.
        intent: String,
    },
}

/// Casts and timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// The grace period ran out.
    GraceOver,
    /// Try the payment waiting for sync again.
    Retry,
    /// The tenant's quota was breached.
    QuotaBreached(QuotaBreached),
    /// Keeps a waiting governor from being passivated (see
    /// [`GovernorsConfig::keep_alive`](super::GovernorsConfig::keep_alive)).
    KeepAlive,
}

/// The durable data besides the state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    /// Amount due.
    pub due: u64,
    /// Total paid (payments and committed intents).
    pub paid_total: u64,
    /// Subscription periods paid (committed intents).
    pub period: u64,
    /// Payments accepted (numbers their ids).
    pub payments: u64,
    /// Quota breaches charged.
    pub overages: u64,
    /// A payment waiting for the backup (its id and amount), and the state to go back to.
    pub pending: Option<(String, u64, State)>,
    /// Payment intents.
    pub intents: Intents,
}

/// What a request answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The state after the request.
    pub state: State,
    /// The data after it.
    pub data: Data,
}

/// The billing governor of one account (`"tenant/account"`).
pub struct Billing {
    base: Base<State>,
    data: Data,
    /// Failed retries since the payment went to sync (not durable).
    attempts: u32,
}

/// Timer names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The backup retry.
    Retry,
    /// The keep-alive.
    KeepAlive,
}

impl Billing {
    fn env(&self) -> &GovernorEnv {
        self.base.env()
    }

    /// Processes a payment: the gateway, else the backup. `Ok(false)`: the backup did not
    /// answer (sync required).
    async fn process(&self, id: &str, amount: u64) -> Result<bool, GovernorError> {
        let cfg = &self.env().cfg.billing;
        if cfg.gateway.charge(&self.base.tenant, amount) {
            return Ok(true);
        }
        let Some(backup) = &cfg.backup_node else {
            return Err(GovernorError::Unavailable("no payment backup node".into()));
        };
        let req = BackupPayment {
            tenant: self.base.tenant.clone(),
            id: id.to_string(),
            amount,
        };
        let res: Result<Result<(), String>, _> = self
            .env()
            .dist
            .call(backup, BACKUP_RPC, &req, cfg.backup_timeout)
            .await;
        match res {
            Ok(Ok(())) => Ok(true),
            Ok(Err(declined)) => Err(GovernorError::Unavailable(format!(
                "payment declined: {declined}"
            ))),
            Err(e) => {
                tracing::info!(key = %self.base.key, "payment backup failed: {e}");
                Ok(false)
            }
        }
    }

    /// The state after a payment of `amount` is applied in state `s`.
    fn paid(&mut self, s: State, amount: u64) -> State {
        self.data.due = self.data.due.saturating_sub(amount);
        self.data.paid_total = self.data.paid_total.saturating_add(amount);
        match s {
            State::PastDue | State::Suspended if self.data.due == 0 => State::Active,
            _ => s,
        }
    }

    fn arm(&self, next: State, from: State, ctx: &mut Ctx<'_, Self>) {
        if next == State::PastDue && from != State::PastDue {
            ctx.state_timeout(self.env().cfg.billing.grace, Msg::GraceOver);
        }
    }

    async fn step(
        &mut self,
        s: State,
        cmd: &Cmd,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<State, GovernorError> {
        use State::*;
        match (s, cmd) {
            (_, Cmd::Status) => Ok(s),
            (BackupSyncRequired, Cmd::Pay { .. } | Cmd::Prepare { .. }) => {
                Err(GovernorError::invalid(&s, cmd))
            }
            (_, Cmd::Invoice { amount }) => {
                self.data.due = add(self.data.due, positive(*amount)?)?;
                Ok(s)
            }
            (Active, Cmd::Overdue) if self.data.due > 0 => Ok(PastDue),
            (_, Cmd::Pay { amount }) => {
                let amount = positive(*amount)?;
                add(self.data.paid_total, amount)?;
                let id = format!("{}#{}", self.base.key, self.data.payments + 1);
                let done = self.process(&id, amount).await?;
                self.data.payments += 1;
                if done {
                    return Ok(self.paid(s, amount));
                }
                self.data.pending = Some((id, amount, s));
                self.attempts = 0;
                let first = self.env().cfg.billing.backoff.0;
                ctx.generic_timeout(Timer::Retry, first, Msg::Retry);
                Ok(BackupSyncRequired)
            }
            (Active, Cmd::Prepare { intent, amount }) => {
                let amount = positive(*amount)?;
                add(self.data.paid_total, amount)?;
                self.data.intents.prepare(intent, amount)?;
                Ok(s)
            }
            (_, Cmd::Commit { intent }) => {
                if let Some(amount) = self.data.intents.commit(intent)? {
                    self.data.paid_total = self.data.paid_total.saturating_add(amount);
                    self.data.period += 1;
                }
                Ok(s)
            }
            (_, Cmd::Abort { intent }) => {
                self.data.intents.abort(intent)?;
                Ok(s)
            }
            _ => Err(GovernorError::invalid(&s, cmd)),
        }
    }

    /// A retry of the payment waiting for sync.
    async fn retry(&mut self, ctx: &mut Ctx<'_, Self>) -> Transition<Self> {
        let Some((id, amount, resume)) = self.data.pending.clone() else {
            return Transition::NextState(State::Active);
        };
        match self.process(&id, amount).await {
            Ok(true) => {
                self.data.pending = None;
                let next = self.paid(resume, amount);
                self.arm(next, State::BackupSyncRequired, ctx);
                Transition::NextState(next)
            }
            // Not answered (or declined, or no backup any more): try again later.
            _ => {
                self.attempts = self.attempts.saturating_add(1);
                let (first, max) = self.env().cfg.billing.backoff;
                let delay = first.saturating_mul(1u32 << self.attempts.min(16)).min(max);
                ctx.generic_timeout(Timer::Retry, delay, Msg::Retry);
                Transition::KeepState
            }
        }
    }

    /// Restarts the keep-alive while the governor waits for a timer of its own (grace, retry).
    fn keep_alive(&self, s: &State, ctx: &mut Ctx<'_, Self>) {
        let waiting = matches!(s, State::PastDue | State::BackupSyncRequired);
        (self.base).keep_alive(waiting, ctx, Timer::KeepAlive, Msg::KeepAlive);
    }

    async fn handle(
        &mut self,
        s: &State,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match ev {
            Event::Call(cmd, from) => {
                // Refused requests must leave the data as it was.
                let before = self.data.clone();
                let res = match self.base.admit() {
                    Ok(()) => self.step(*s, &cmd, ctx).await,
                    Err(e) => Err(e),
                };
                match res {
                    Ok(next) => self.arm(next, *s, ctx),
                    Err(_) => self.data = before,
                }
                let data = &self.data;
                self.base.answer(res, from, ctx, |state| View {
                    state,
                    data: data.clone(),
                })
            }
            Event::StateTimeout(Msg::GraceOver) if *s == State::PastDue => {
                Transition::NextState(State::Suspended)
            }
            Event::GenericTimeout(Timer::Retry, Msg::Retry) if *s == State::BackupSyncRequired => {
                self.retry(ctx).await
            }
            Event::Cast(Msg::QuotaBreached(_)) if self.base.refused.is_none() => {
                let fee = self.env().cfg.billing.overage_fee;
                self.data.due = self.data.due.saturating_add(fee);
                self.data.overages += 1;
                Transition::KeepState
            }
            _ => Transition::KeepState,
        }
    }
}

impl StateMachine for Billing {
    type State = State;
    type Call = Cmd;
    type Reply = Result<View, GovernorError>;
    type Msg = Msg;
    type Timer = Timer;

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<State, ExitReason> {
        let me = ctx.myself();
        let env = (self.base)
            .init_subscribed(ctx.node(), me, Msg::QuotaBreached)
            .await?;
        let start = self.base.start;
        match start {
            State::PastDue => ctx.state_timeout(env.cfg.billing.grace, Msg::GraceOver),
            State::BackupSyncRequired => {
                ctx.generic_timeout(Timer::Retry, env.cfg.billing.backoff.0, Msg::Retry)
            }
            _ => {}
        }
        self.keep_alive(&start, ctx);
        Ok(start)
    }

    async fn handle_event(
        &mut self,
        s: &State,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        let t = self.handle(s, ev, ctx).await;
        self.keep_alive(&next_state(&t, s), ctx);
        t
    }

    fn on_transition(&mut self, t: &Observed<'_, Self>) {
        self.base.publish(Self::KIND, t.from, t.to);
    }
}

impl RemoteMachine for Billing {
    const NAME: &'static str = "examples.governors.Billing";
}

impl Entity for Billing {
    const KIND: &'static str = "billing";
    type Data = Data;

    fn activate(key: &str, last: Option<(State, Data)>) -> Self {
        let (base, data) = Base::activate(key, last, State::Active);
        Billing {
            base,
            data,
            attempts: 0,
        }
    }

    fn data(&self) -> &Data {
        &self.data
    }

    fn tenant(&self) -> String {
        self.base.tenant.clone()
    }
}

#[cfg(test)]
#[path = "billing_tests.rs"]
mod tests;
