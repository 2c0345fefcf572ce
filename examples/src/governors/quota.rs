//! The **quota-SLA** governor: is a tenant within its usage of one resource in the current
//! window.
//!
//! ```text
//!            usage ≥ warn%            usage ≥ limit
//!   within ───────────────▶ warning ───────────────▶ breached ──▶ publishes QuotaBreached
//!     ▲ ▲                      │                        │          to the tenant's
//!     │ └──────────────────────┘                        │          entitlement + billing
//!     └──────── window rolls over (generic timeout) ────┘
//! ```
//!
//! - **Windows** are numbered from 0 per governor; a generic timeout named `Window` closes
//!   the current one every `window` and opens the next (a receipt). An empty window is not
//!   numbered and stops the timer until the next usage (which opens a full window), so an
//!   idle governor writes nothing and can be passivated. A report names its window
//!   (or `None` for the current one): a closed window is [`GovernorError::WindowClosed`], a
//!   future one [`GovernorError::WindowNotOpen`]. After a restart the window runs again in
//!   full (a window may last longer than configured, never shorter).
//! - **Counters**: each quota governor holds the global registry counter
//!   `("quota.usage", tenant)` with its current window's usage, and the first one of a
//!   tenant to start holds the **aggregated counter** of that key: the tenant's usage across
//!   all its resources, read with [`Governors::tenant_usage`](super::Governors::tenant_usage)
//!   from any node. The counters are views; the durable count is the governor's data.
//! - **Breach**: entering `breached` publishes a [`QuotaBreached`] (from the transition
//!   observer, so only once the receipt is durable) to the property
//!   [`breach_key`](super::breach_key)`(tenant, kind)` for `entitlement` and `billing`; the
//!   tenant's active governors of those kinds act on it (suspension by policy, an overage
//!   fee). A governor not active at that moment misses it, as a process not registered
//!   misses a gproc publication; the breach stays in the quota governor's receipts.

use super::base::{next_state, Base};
use super::env::Governors;
use super::{add, positive, GovernorError, QuotaBreached};
use actor_core::{ExitReason, Pid};
use actor_entity::Entity;
use actor_registry::{Key, Kind, Value};
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, Observed, RemoteMachine, StateMachine, Transition};
use std::time::Duration;

/// The quota states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Below the warning level.
    Within,
    /// At or above the warning level.
    Warning,
    /// At or above the limit.
    Breached,
}

/// Quota limits.
#[derive(Clone, Debug)]
pub struct Config {
    /// Usage per window that breaches (default 1000).
    pub limit: u64,
    /// The warning level in percent of the limit (default 80).
    pub warn_percent: u64,
    /// The window length (default 60 s).
    pub window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limit: 1000,
            warn_percent: 80,
            window: Duration::from_secs(60),
        }
    }
}

/// Requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmd {
    /// Usage in `window` (`None`: the current one).
    Usage {
        /// The window.
        window: Option<u64>,
        /// Positive.
        amount: i64,
    },
    /// Read.
    Status,
}

/// Timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// The window is over.
    Roll,
    /// Keeps a waiting governor from being passivated (see
    /// [`GovernorsConfig::keep_alive`](super::GovernorsConfig::keep_alive)).
    KeepAlive,
}

/// Timer names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The window roll-over.
    Window,
    /// The keep-alive.
    KeepAlive,
}

/// The durable data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    /// The current window.
    pub window: u64,
    /// Usage in it.
    pub used: u64,
    /// Windows breached so far.
    pub breaches: u64,
}

/// What a request answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The state.
    pub state: State,
    /// The data.
    pub data: Data,
    /// The limit.
    pub limit: u64,
}

/// The registry key of a tenant's usage counters.
pub fn usage_key(tenant: &str) -> Key {
    Key::from(("quota.usage", tenant))
}

/// The quota governor of one resource (`"tenant/resource"`).
pub struct Quota {
    base: Base<State>,
    data: Data,
    pid: Option<Pid>,
    /// Whether the window timer runs (not while the window is empty).
    rolling: bool,
}

impl Quota {
    fn cfg(&self) -> Config {
        self.base.cfg(|c| &c.quota)
    }

    fn level(&self, used: u64) -> State {
        let cfg = self.cfg();
        if used >= cfg.limit {
            State::Breached
        } else if used.saturating_mul(100) >= cfg.limit.saturating_mul(cfg.warn_percent) {
            State::Warning
        } else {
            State::Within
        }
    }

    /// Moves this governor's registry counter by `delta` (a view: failures are only logged).
    fn count(&self, delta: i64) {
        if let (Some(env), Some(pid)) = (&self.base.env, self.pid) {
            if let Err(e) =
                env.global
                    .registry()
                    .update_counter(usage_key(&self.base.tenant), pid, delta)
            {
                tracing::debug!(key = %self.base.key, "quota counter: {e}");
            }
        }
    }

    fn step(&mut self, s: State, cmd: &Cmd) -> Result<State, GovernorError> {
        match cmd {
            Cmd::Status => Ok(s),
            Cmd::Usage { window, amount } => {
                let amount = positive(*amount)?;
                let current = self.data.window;
                match window {
                    Some(w) if *w < current => {
                        return Err(GovernorError::WindowClosed {
                            window: *w,
                            current,
                        })
                    }
                    Some(w) if *w > current => {
                        return Err(GovernorError::WindowNotOpen {
                            window: *w,
                            current,
                        })
                    }
                    _ => {}
                }
                let used = add(self.data.used, amount)?;
                self.data.used = used;
                self.count(amount as i64);
                let next = self.level(used);
                if next == State::Breached && s != State::Breached {
                    self.data.breaches += 1;
                }
                Ok(next)
            }
        }
    }

    /// Restarts the keep-alive while the governor waits for its window to roll over.
    fn keep_alive(&self, s: &State, ctx: &mut Ctx<'_, Self>) {
        let waiting = self.data.used > 0 || *s != State::Within;
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
                let res = self.base.admit().and_then(|()| self.step(*s, &cmd));
                if res.is_ok() && !self.rolling && self.data.used > 0 {
                    self.rolling = true;
                    ctx.generic_timeout(Timer::Window, self.cfg().window, Msg::Roll);
                }
                let (data, limit) = (&self.data, self.cfg().limit);
                self.base.answer(res, from, ctx, |state| View {
                    state,
                    data: data.clone(),
                    limit,
                })
            }
            Event::GenericTimeout(Timer::Window, Msg::Roll)
                if self.data.used == 0 && *s == State::Within =>
            {
                // An empty window: it is not numbered, and the timer waits for usage.
                self.rolling = false;
                Transition::KeepState
            }
            Event::GenericTimeout(Timer::Window, Msg::Roll) => {
                self.count(-(self.data.used as i64));
                self.data.window += 1;
                self.data.used = 0;
                ctx.generic_timeout(Timer::Window, self.cfg().window, Msg::Roll);
                Transition::NextState(State::Within)
            }
            _ => Transition::KeepState,
        }
    }
}

impl StateMachine for Quota {
    type State = State;
    type Call = Cmd;
    type Reply = Result<View, GovernorError>;
    type Msg = Msg;
    type Timer = Timer;

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<State, ExitReason> {
        let env = self.base.init(ctx.node()).await?;
        let start = self.base.start;
        if self.base.refused.is_none() {
            let reg = env.global.registry();
            let (key, pid) = (usage_key(&self.base.tenant), ctx.pid());
            // The first quota governor of the tenant holds the aggregate; the others
            // find it taken.
            let _ = reg.register(Kind::AggregatedCounter, key.clone(), pid, ());
            if let Err(e) = reg.register(Kind::Counter, key, pid, self.data.used as i64) {
                tracing::warn!(key = %self.base.key, "quota counter: {e}");
            }
            self.pid = Some(pid);
            if self.data.used > 0 || start != State::Within {
                self.rolling = true;
                ctx.generic_timeout(Timer::Window, env.cfg.quota.window, Msg::Roll);
            }
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
        let Some(env) = self.base.publish(Self::KIND, t.from, t.to) else {
            return;
        };
        if *t.to == State::Breached {
            env.publish_breach(&QuotaBreached {
                tenant: self.base.tenant.clone(),
                quota: self.base.key.clone(),
                window: self.data.window,
                used: self.data.used,
                limit: self.cfg().limit,
            });
        }
    }
}

impl RemoteMachine for Quota {
    const NAME: &'static str = "examples.governors.Quota";
}

impl Entity for Quota {
    const KIND: &'static str = "quota";
    type Data = Data;

    fn activate(key: &str, last: Option<(State, Data)>) -> Self {
        let (base, data) = Base::activate(key, last, State::Within);
        Quota {
            base,
            data,
            pid: None,
            rolling: false,
        }
    }

    fn data(&self) -> &Data {
        &self.data
    }

    fn tenant(&self) -> String {
        self.base.tenant.clone()
    }
}

impl Governors {
    /// The tenant's usage in the current windows of all its quota governors, as this node's
    /// registry replica sees it: the aggregated counter, or the sum of the counters while no
    /// governor holds the aggregate.
    pub fn tenant_usage(&self, tenant: &str) -> i64 {
        let reg = self.env().global.registry();
        let key = usage_key(tenant);
        match reg.lookup_value(Kind::AggregatedCounter, &key) {
            Ok(Value::Int(n)) => n,
            _ => reg
                .lookup_values(Kind::Counter, &key)
                .into_iter()
                .filter_map(|(_, v)| match v {
                    Value::Int(n) => Some(n),
                    _ => None,
                })
                .sum(),
        }
    }
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
