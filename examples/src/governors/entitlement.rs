//! The **entitlement** governor: may a tenant use a product.
//!
//! ```text
//!                 grant                 approve
//!  unentitled ─────────────▶ pending_review ──────────▶ entitled ◀──────┐
//!      ▲                        │    │  (review window                 │ reinstate
//!      │        reject          │    │   times out: the               │
//!      └────────────────────────┘    │   configured outcome)   suspend │
//!      ▲                             │                       (or a     ▼
//!      └──── timeout: reject ────────┘        quota breach, by policy) suspended
//!
//!  revoke: from every state but revoked ──▶ revoked (final: every change is refused)
//! ```
//!
//! The review window is a statem **state timeout**: entering `pending_review` starts it, and
//! any decision (a change of state) cancels it. When the activation is rebuilt in
//! `pending_review` (failover, passivation), the window starts again in full: a review is
//! never decided early by a restart, possibly later.
//!
//! Every change is a receipt, written by the entity layer before the caller's reply; a read
//! ([`Cmd::Status`]) or a refused request writes nothing. The governor also takes part in the
//! subscription payment ([`payment`](super::payment)): it prepares only while `entitled`.

use super::base::{next_state, Base};
use super::payment::Intents;
use super::{GovernorError, QuotaBreached};
use actor_core::ExitReason;
use actor_entity::Entity;
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, Observed, RemoteMachine, StateMachine, Transition};
use std::time::Duration;

/// The entitlement states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Not entitled (the start, or after a rejected review).
    Unentitled,
    /// A grant waits for review.
    PendingReview,
    /// Entitled.
    Entitled,
    /// Entitled but suspended (by an operator or a quota breach).
    Suspended,
    /// Revoked for good.
    Revoked,
}

/// What a review that is not decided in its window turns into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewOutcome {
    /// Approve (`entitled`).
    Approve,
    /// Reject (`unentitled`).
    Reject,
}

/// Entitlement policy.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a review may take (default 24 h).
    pub review_window: Duration,
    /// What an undecided review turns into (default: reject).
    pub on_review_timeout: ReviewOutcome,
    /// Whether a quota breach suspends an entitled tenant (default: yes).
    pub suspend_on_breach: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            review_window: Duration::from_secs(24 * 3600),
            on_review_timeout: ReviewOutcome::Reject,
            suspend_on_breach: true,
        }
    }
}

/// Requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmd {
    /// Ask for the entitlement: `unentitled → pending_review`.
    Grant,
    /// `pending_review → entitled`.
    Approve,
    /// `pending_review → unentitled`.
    Reject {
        /// Why.
        reason: String,
    },
    /// `entitled → suspended`.
    Suspend {
        /// Why.
        reason: String,
    },
    /// `suspended → entitled`.
    Reinstate,
    /// Any state but `revoked` → `revoked`.
    Revoke {
        /// Why.
        reason: String,
    },
    /// Read the state (writes nothing).
    Status,
    /// Payment intent, phase 1: only while `entitled`.
    Prepare {
        /// The intent id.
        intent: String,
    },
    /// Payment intent, phase 2: count a paid period (idempotent).
    Commit {
        /// The intent id.
        intent: String,
    },
    /// Payment intent: forget a prepared intent (idempotent).
    Abort {
        /// The intent id.
        intent: String,
    },
}

/// Casts, infos and timeouts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    /// The review window ran out.
    ReviewTimeout,
    /// The tenant's quota was breached.
    QuotaBreached(QuotaBreached),
    /// Keeps a waiting governor from being passivated (see
    /// [`GovernorsConfig::keep_alive`](super::GovernorsConfig::keep_alive)).
    KeepAlive,
}

/// The durable data besides the state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Data {
    /// Why the last rejection, suspension or revocation happened.
    pub reason: Option<String>,
    /// Subscription periods paid (committed payment intents).
    pub paid_periods: u64,
    /// Payment intents in progress and decided.
    pub intents: Intents,
}

/// What a request answers: the state and data after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The state.
    pub state: State,
    /// The data.
    pub data: Data,
}

/// The entitlement governor of one key (`"tenant/product"`).
pub struct Entitlement {
    base: Base<State>,
    data: Data,
}

impl Entitlement {
    fn cfg(&self) -> Config {
        self.base.cfg(|c| &c.entitlement)
    }

    /// One request: the next state, or an error with `self.data` untouched.
    fn step(&mut self, s: State, cmd: &Cmd) -> Result<State, GovernorError> {
        use State::*;
        let bad = || Err(GovernorError::invalid(&s, cmd));
        match (s, cmd) {
            (_, Cmd::Status) => Ok(s),
            (Unentitled, Cmd::Grant) => Ok(PendingReview),
            (PendingReview, Cmd::Approve) => Ok(Entitled),
            (PendingReview, Cmd::Reject { reason }) => {
                self.data.reason = Some(reason.clone());
                Ok(Unentitled)
            }
            (Entitled, Cmd::Suspend { reason }) => {
                self.data.reason = Some(reason.clone());
                Ok(Suspended)
            }
            (Suspended, Cmd::Reinstate) => {
                self.data.reason = None;
                Ok(Entitled)
            }
            // A prepared intent is completed in every state (two-phase commit: a prepared
            // participant must be able to commit or abort whatever happened since).
            (_, Cmd::Commit { intent }) => {
                let paid = super::add(self.data.paid_periods, 1)?;
                if self.data.intents.commit(intent)?.is_some() {
                    self.data.paid_periods = paid;
                }
                Ok(s)
            }
            (_, Cmd::Abort { intent }) => {
                self.data.intents.abort(intent)?;
                Ok(s)
            }
            (Revoked, _) => bad(),
            (_, Cmd::Revoke { reason }) => {
                self.data.reason = Some(reason.clone());
                Ok(Revoked)
            }
            (Entitled, Cmd::Prepare { intent }) => {
                self.data.intents.prepare(intent, 0)?;
                Ok(s)
            }
            _ => bad(),
        }
    }

    /// Restarts the keep-alive while the governor waits for its review window.
    fn keep_alive(&self, s: &State, ctx: &mut Ctx<'_, Self>) {
        let waiting = *s == State::PendingReview;
        self.base.keep_alive(waiting, ctx, (), Msg::KeepAlive);
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
                if res == Ok(State::PendingReview) && *s != State::PendingReview {
                    ctx.state_timeout(self.cfg().review_window, Msg::ReviewTimeout);
                }
                let data = &self.data;
                self.base.answer(res, from, ctx, |state| View {
                    state,
                    data: data.clone(),
                })
            }
            Event::StateTimeout(Msg::ReviewTimeout) if *s == State::PendingReview => {
                match self.cfg().on_review_timeout {
                    ReviewOutcome::Approve => Transition::NextState(State::Entitled),
                    ReviewOutcome::Reject => {
                        self.data.reason = Some("review window ran out".into());
                        Transition::NextState(State::Unentitled)
                    }
                }
            }
            Event::Cast(Msg::QuotaBreached(b))
                if *s == State::Entitled
                    && self.base.refused.is_none()
                    && self.cfg().suspend_on_breach =>
            {
                self.data.reason =
                    Some(format!("quota {} breached in window {}", b.quota, b.window));
                Transition::NextState(State::Suspended)
            }
            // Anything else (a breach in another state, a stray message) changes nothing.
            _ => Transition::KeepState,
        }
    }
}

impl StateMachine for Entitlement {
    type State = State;
    type Call = Cmd;
    type Reply = Result<View, GovernorError>;
    type Msg = Msg;
    type Timer = ();

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<State, ExitReason> {
        let me = ctx.myself();
        let env = (self.base)
            .init_subscribed(ctx.node(), me, Msg::QuotaBreached)
            .await?;
        let start = self.base.start;
        if start == State::PendingReview {
            ctx.state_timeout(env.cfg.entitlement.review_window, Msg::ReviewTimeout);
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

impl RemoteMachine for Entitlement {
    const NAME: &'static str = "examples.governors.Entitlement";
}

impl Entity for Entitlement {
    const KIND: &'static str = "entitlement";
    type Data = Data;

    fn activate(key: &str, last: Option<(State, Data)>) -> Self {
        let (base, data) = Base::activate(key, last, State::Unentitled);
        Entitlement { base, data }
    }

    fn data(&self) -> &Data {
        &self.data
    }

    fn tenant(&self) -> String {
        self.base.tenant.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use State::*;

    async fn call(m: &Member, key: &str, cmd: Cmd) -> Result<State, GovernorError> {
        m.govs
            .call::<Entitlement, _>(key, cmd, T)
            .await
            .map(|v| v.state)
    }

    fn reason(r: &str) -> String {
        r.to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_transition_is_a_receipt_and_published() {
        let (_dir, ms) = cluster(1, config()).await;
        let m = &ms[0];
        let mut events = m.collect("acme").await;
        let k = "acme/pro";
        assert_eq!(call(m, k, Cmd::Status).await, Ok(Unentitled));
        // The entity layer writes a fresh key's first state with its first event.
        let base = receipts(m, "entitlement", k).await;
        assert_eq!(call(m, k, Cmd::Status).await, Ok(Unentitled));
        assert_eq!(
            receipts(m, "entitlement", k).await,
            base,
            "a read writes nothing"
        );
        let steps = [
            (Cmd::Grant, PendingReview),
            (
                Cmd::Reject {
                    reason: reason("no"),
                },
                Unentitled,
            ),
            (Cmd::Grant, PendingReview),
            (Cmd::Approve, Entitled),
            (
                Cmd::Suspend {
                    reason: reason("ops"),
                },
                Suspended,
            ),
            (Cmd::Reinstate, Entitled),
            (
                Cmd::Revoke {
                    reason: reason("gone"),
                },
                Revoked,
            ),
        ];
        let mut prev = Unentitled;
        for (n, (cmd, to)) in steps.into_iter().enumerate() {
            assert_eq!(call(m, k, cmd.clone()).await, Ok(to), "{cmd:?}");
            assert_eq!(receipts(m, "entitlement", k).await, base + n + 1, "{cmd:?}");
            let ev = events.next().await;
            assert_eq!(
                (ev.key.as_str(), ev.from, ev.to),
                (k, format!("{prev:?}"), format!("{to:?}"))
            );
            prev = to;
        }
        // Revoked is final; Revoke from pending_review and suspended too.
        for (start, k2) in [(PendingReview, "acme/a"), (Suspended, "acme/b")] {
            call(m, k2, Cmd::Grant).await.unwrap();
            if start == Suspended {
                call(m, k2, Cmd::Approve).await.unwrap();
                call(
                    m,
                    k2,
                    Cmd::Suspend {
                        reason: reason("x"),
                    },
                )
                .await
                .unwrap();
            }
            assert_eq!(
                call(
                    m,
                    k2,
                    Cmd::Revoke {
                        reason: reason("r")
                    }
                )
                .await,
                Ok(Revoked)
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_events_and_unknown_tenants_are_typed_errors_with_no_receipt() {
        let (_dir, ms) = cluster(1, config()).await;
        let m = &ms[0];
        let k = "acme/pro";
        let invalid = |s: State, c: &Cmd| Err(GovernorError::invalid(&s, c));
        call(m, k, Cmd::Status).await.unwrap();
        let base = receipts(m, "entitlement", k).await;
        for cmd in [
            Cmd::Approve,
            Cmd::Reject {
                reason: reason("x"),
            },
            Cmd::Reinstate,
            Cmd::Suspend {
                reason: reason("x"),
            },
            Cmd::Prepare { intent: "i".into() },
        ] {
            assert_eq!(call(m, k, cmd.clone()).await, invalid(Unentitled, &cmd));
        }
        call(m, k, Cmd::Grant).await.unwrap();
        assert_eq!(
            call(m, k, Cmd::Grant).await,
            invalid(PendingReview, &Cmd::Grant)
        );
        call(
            m,
            k,
            Cmd::Revoke {
                reason: reason("x"),
            },
        )
        .await
        .unwrap();
        for cmd in [
            Cmd::Grant,
            Cmd::Reinstate,
            Cmd::Revoke {
                reason: reason("again"),
            },
        ] {
            assert_eq!(call(m, k, cmd.clone()).await, invalid(Revoked, &cmd));
        }
        assert_eq!(
            receipts(m, "entitlement", k).await,
            base + 2,
            "only the two changes"
        );
        // Unknown tenants and bad keys: refused by the client and by the machine itself.
        assert_eq!(
            call(m, "nobody/pro", Cmd::Grant).await,
            Err(GovernorError::UnknownTenant("nobody".into()))
        );
        assert_eq!(
            call(m, "nokey", Cmd::Grant).await,
            Err(GovernorError::BadKey("nokey".into()))
        );
        let direct = || m.entities.call::<Entitlement>("nobody/pro", Cmd::Grant, T);
        assert_eq!(
            direct().await.unwrap(),
            Err(GovernorError::UnknownTenant("nobody".into()))
        );
        let base = receipts(m, "entitlement", "nobody/pro").await;
        assert_eq!(
            direct().await.unwrap(),
            Err(GovernorError::UnknownTenant("nobody".into()))
        );
        assert_eq!(receipts(m, "entitlement", "nobody/pro").await, base);
        // Still running and answering.
        assert_eq!(call(m, k, Cmd::Status).await, Ok(Revoked));
        let refused = m
            .govs
            .env()
            .stats
            .refused
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(refused, 13, "every refusal counted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_undecided_review_times_out_to_the_configured_outcome() {
        for (outcome, expect) in [
            (ReviewOutcome::Reject, Unentitled),
            (ReviewOutcome::Approve, Entitled),
        ] {
            let mut cfg = config();
            cfg.entitlement.review_window = Duration::from_millis(100);
            cfg.entitlement.on_review_timeout = outcome;
            let (_dir, ms) = cluster(1, cfg).await;
            let m = &ms[0];
            let mut events = m.collect("acme").await;
            call(m, "acme/pro", Cmd::Grant).await.unwrap();
            events.next().await;
            let ev = events.next().await;
            assert_eq!(ev.to, format!("{expect:?}"));
            assert_eq!(call(m, "acme/pro", Cmd::Status).await, Ok(expect));
            assert_eq!(receipts(m, "entitlement", "acme/pro").await, 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_moved_review_still_times_out_and_keeps_one_breach_subscription() {
        let mut cfg = config();
        cfg.entitlement.review_window = Duration::from_millis(300);
        let (_dir, ms) = cluster(2, cfg).await;
        let k = "acme/pro";
        call(&ms[0], k, Cmd::Grant).await.unwrap();
        let subscribers = |m: &Member| {
            let key = super::super::breach_key("acme", Entitlement::KIND);
            m.global
                .registry()
                .lookup_pids(actor_registry::Kind::Property, &key)
                .len()
        };
        for to in [1, 0] {
            let node = ms[to].dist.name().to_string();
            ms[0]
                .entities
                .migrate::<Entitlement>(k, &node)
                .await
                .unwrap();
        }
        // The old activations' forwarders went with them.
        for m in &ms {
            eventually(|| async { subscribers(m) == 1 }).await;
        }
        // The window restarted on the new activation, and still decides.
        eventually(|| async { call(&ms[1], k, Cmd::Status).await == Ok(Unentitled) }).await;
        assert_eq!(receipts(&ms[0], "entitlement", k).await, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_review_is_kept_from_passivation_until_it_is_decided() {
        let mut cfg = config();
        cfg.entitlement.review_window = Duration::from_millis(600);
        cfg.keep_alive = Some(Duration::from_millis(40));
        let ecfg = actor_entity::EntityConfig {
            passivate_after: Some(Duration::from_millis(150)),
            ..actor_entity::EntityConfig::default()
        };
        let (_dir, ms) = cluster_with(1, cfg, ecfg).await;
        let m = &ms[0];
        let mut events = m.collect("acme").await;
        call(m, "acme/pro", Cmd::Grant).await.unwrap();
        assert_eq!(events.next().await.to, "PendingReview");
        // No call meanwhile: only the keep-alive keeps the activation (and its timer) alive.
        let ev = events.next().await;
        assert_eq!(
            (ev.from.as_str(), ev.to.as_str()),
            ("PendingReview", "Unentitled")
        );
        // Decided, it is idle like any other entity.
        eventually(|| async { m.entities.live() == 0 }).await;
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn cmd() -> impl Strategy<Value = Cmd> {
            let intent = prop_oneof![Just("i1".to_string()), Just("i2".to_string())];
            prop_oneof![
                Just(Cmd::Grant),
                Just(Cmd::Approve),
                Just(Cmd::Reject { reason: "r".into() }),
                Just(Cmd::Suspend { reason: "s".into() }),
                Just(Cmd::Reinstate),
                Just(Cmd::Revoke { reason: "v".into() }),
                Just(Cmd::Status),
                intent.clone().prop_map(|intent| Cmd::Prepare { intent }),
                intent.clone().prop_map(|intent| Cmd::Commit { intent }),
                intent.prop_map(|intent| Cmd::Abort { intent }),
            ]
        }

        proptest! {
            /// Any sequence of requests: a refusal changes nothing, revoked is final, and
            /// a paid period is counted once per intent.
            #[test]
            fn refusals_change_nothing_and_revoked_is_final(cmds in proptest::collection::vec(cmd(), 0..60)) {
                let mut m = Entitlement::activate("acme/pro", None);
                let mut s = State::Unentitled;
                for c in cmds {
                    let before = (s, m.data.clone());
                    match m.step(s, &c) {
                        Ok(next) => {
                            prop_assert!(before.0 != State::Revoked || next == State::Revoked);
                            s = next;
                        }
                        Err(_) => prop_assert_eq!((s, m.data.clone()), before),
                    }
                    let committed = m.data.intents.decided.iter().filter(|(_, c)| *c).count();
                    prop_assert_eq!(m.data.paid_periods, committed as u64);
                }
            }
        }
    }
}
