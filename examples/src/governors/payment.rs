//! The **subscription payment**: entitlement and billing of one tenant must both be
//! `entitled`/`active`, then the payment is recorded on both (billing advances a period,
//! entitlement counts a paid period), all or nothing, even if a node dies half-way.
//!
//! It is a two-phase commit whose coordinator's log is an entity of its own, the **payment
//! intent** (`"tenant/intent-id"`), so the decision is a receipt in the journal like any
//! other transition:
//!
//! ```text
//!         begin            both prepared              both committed
//!  new ─────────▶ started ───────────────▶ prepared ──────────────────▶ committed
//!                    │  a participant refuses,
//!                    │  or recovery finds it here
//!                    └──────────────────────────────▶ aborted
//! ```
//!
//! 1. **Begin**: the intent is written (`started`) with the two governor keys and the amount.
//! 2. **Prepare**: each governor checks its state (entitlement `entitled`, billing `active`)
//!    and writes the intent as prepared (a receipt). A refusal aborts the intent and both
//!    governors. At most one intent is prepared per governor at a time.
//! 3. **Decide**: the intent goes to `prepared`: from this receipt on, the payment *will*
//!    happen.
//! 4. **Commit**: each governor applies the payment, idempotently keyed by the intent id (a
//!    second commit of the same id changes nothing); then the intent is `committed`.
//!
//! A coordinator that cannot reach a governor (its node died) stops and leaves the intent as
//! it is, for recovery.
//!
//! **Recovery** ([`Governors::recover_payments`]), from any node, after a crash: every intent
//! of the tenant whose last receipt is `started` is aborted on both governors (nothing was
//! decided, so nothing was applied: *presumed abort*), every one in `prepared` is committed on
//! both. The intent entity is the single place the decision is taken: `started → prepared`
//! and `started → aborted` exclude each other, so a slow coordinator and a recovery pass
//! cannot decide differently; a governor that has aborted an intent refuses to prepare it
//! later. Each governor remembers its last 32 decided intents (bounded): run recovery well
//! before a governor sees 32 newer payments.

use super::base::Base;
use super::billing::{self, Billing};
use super::entitlement::{self, Entitlement};
use super::env::Governors;
use super::{positive, split_key, GovernorError};
use actor_core::ExitReason;
use actor_entity::Entity;
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, Observed, RemoteMachine, StateMachine, Transition};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

/// How many decided intents a governor remembers.
pub const DECIDED: usize = 32;

/// A governor's side of payment intents: the one prepared now, and the last decided ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intents {
    /// The intent prepared here, with its amount.
    pub prepared: Option<(String, u64)>,
    /// The last [`DECIDED`] intents decided here: `true` committed, `false` aborted.
    pub decided: VecDeque<(String, bool)>,
}

impl Intents {
    fn decided(&self, id: &str) -> Option<bool> {
        self.decided.iter().find(|(i, _)| i == id).map(|(_, c)| *c)
    }

    fn decide(&mut self, id: &str, committed: bool) {
        self.decided.push_back((id.to_string(), committed));
        while self.decided.len() > DECIDED {
            self.decided.pop_front();
        }
    }

    /// Prepares `id` (idempotent). Refused if another intent is prepared or `id` was aborted.
    pub fn prepare(&mut self, id: &str, amount: u64) -> Result<(), GovernorError> {
        match (self.decided(id), &self.prepared) {
            (Some(true), _) => Ok(()),
            (Some(false), _) => Err(GovernorError::IntentAborted(id.to_string())),
            (None, Some((p, _))) if p == id => Ok(()),
            (None, Some((p, _))) => Err(GovernorError::IntentPending(p.clone())),
            (None, None) => {
                self.prepared = Some((id.to_string(), amount));
                Ok(())
            }
        }
    }

    /// Commits `id`: its amount if it was prepared here and is committed now, `None` if it
    /// was committed before (idempotent).
    pub fn commit(&mut self, id: &str) -> Result<Option<u64>, GovernorError> {
        match (self.decided(id), &self.prepared) {
            (Some(true), _) => Ok(None),
            (Some(false), _) => Err(GovernorError::IntentAborted(id.to_string())),
            (None, Some((p, amount))) if p == id => {
                let amount = *amount;
                self.prepared = None;
                self.decide(id, true);
                Ok(Some(amount))
            }
            _ => Err(GovernorError::invalid(
                &"not prepared",
                &format!("commit {id}"),
            )),
        }
    }

    /// Aborts `id` (idempotent), prepared here or not: a later prepare of it is refused.
    pub fn abort(&mut self, id: &str) -> Result<(), GovernorError> {
        match self.decided(id) {
            Some(true) => Err(GovernorError::invalid(&"committed", &format!("abort {id}"))),
            Some(false) => Ok(()),
            None => {
                if self.prepared.as_ref().is_some_and(|(p, _)| p == id) {
                    self.prepared = None;
                }
                self.decide(id, false);
                Ok(())
            }
        }
    }
}

/// The states of a payment intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Not begun (no receipt yet).
    New,
    /// Begun; nothing decided.
    Started,
    /// Decided: the payment happens on both governors.
    Prepared,
    /// Applied on both.
    Committed,
    /// Applied on neither.
    Aborted,
}

/// What the intent records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    /// The entitlement governor's key.
    pub entitlement: String,
    /// The billing governor's key.
    pub billing: String,
    /// The amount.
    pub amount: u64,
    /// Why it was aborted.
    pub reason: Option<String>,
}

/// Requests to a payment intent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmd {
    /// `new → started` (idempotent with the same arguments).
    Begin {
        /// The entitlement governor's key (same tenant).
        entitlement: String,
        /// The billing governor's key (same tenant).
        billing: String,
        /// The amount, positive.
        amount: i64,
    },
    /// `started → prepared` (idempotent).
    Decide,
    /// `prepared → committed` (idempotent).
    Commit,
    /// `new`/`started → aborted` (idempotent).
    Abort {
        /// Why.
        reason: String,
    },
    /// Read.
    Status,
}

/// What a request answers.
pub type View = (State, Data);

/// A payment intent (the coordinator's durable log), key `"tenant/intent-id"`.
pub struct PaymentIntent {
    base: Base<State>,
    data: Data,
}

impl PaymentIntent {
    fn step(&mut self, s: State, cmd: &Cmd) -> Result<State, GovernorError> {
        use State::*;
        match (s, cmd) {
            (_, Cmd::Status) => Ok(s),
            (
                New,
                Cmd::Begin {
                    entitlement,
                    billing,
                    amount,
                },
            ) => {
                let amount = positive(*amount)?;
                for k in [entitlement, billing] {
                    if split_key(k)?.0 != self.base.tenant {
                        return Err(GovernorError::BadKey(k.clone()));
                    }
                }
                self.data = Data {
                    entitlement: entitlement.clone(),
                    billing: billing.clone(),
                    amount,
                    reason: None,
                };
                Ok(Started)
            }
            (
                Started,
                Cmd::Begin {
                    entitlement,
                    billing,
                    amount,
                },
            ) if *entitlement == self.data.entitlement
                && *billing == self.data.billing
                && *amount as u64 == self.data.amount =>
            {
                Ok(s)
            }
            (Started | Prepared, Cmd::Decide) => Ok(Prepared),
            (Aborted, Cmd::Decide) => Err(GovernorError::IntentAborted(self.base.key.clone())),
            (Prepared | Committed, Cmd::Commit) => Ok(Committed),
            (New | Started, Cmd::Abort { reason }) => {
                self.data.reason = Some(reason.clone());
                Ok(Aborted)
            }
            (Aborted, Cmd::Abort { .. }) => Ok(s),
            _ => Err(GovernorError::invalid(&s, cmd)),
        }
    }
}

impl StateMachine for PaymentIntent {
    type State = State;
    type Call = Cmd;
    type Reply = Result<View, GovernorError>;
    type Msg = ();
    type Timer = ();

    async fn init(&mut self, ctx: &mut Ctx<'_, Self>) -> Result<State, ExitReason> {
        self.base.init(ctx.node()).await?;
        Ok(self.base.start)
    }

    async fn handle_event(
        &mut self,
        s: &State,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        let Event::Call(cmd, from) = ev else {
            return Transition::KeepState;
        };
        let res = self.base.admit().and_then(|()| self.step(*s, &cmd));
        let data = &self.data;
        (self.base).answer(res, from, ctx, |next| (next, data.clone()))
    }

    fn on_transition(&mut self, t: &Observed<'_, Self>) {
        self.base.publish(Self::KIND, t.from, t.to);
    }
}

impl RemoteMachine for PaymentIntent {
    const NAME: &'static str = "examples.governors.PaymentIntent";
}

impl Entity for PaymentIntent {
    const KIND: &'static str = "payment_intent";
    type Data = Data;

    fn activate(key: &str, last: Option<(State, Data)>) -> Self {
        let (base, data) = Base::activate(key, last, State::New);
        PaymentIntent { base, data }
    }

    fn data(&self) -> &Data {
        &self.data
    }

    fn tenant(&self) -> String {
        self.base.tenant.clone()
    }
}

/// How a payment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied on both governors.
    Committed,
    /// Applied on neither, and why.
    Aborted(String),
}

/// One payment intent, step by step (the coordinator). [`Payment::run`] does every step.
pub struct Payment<'a> {
    govs: &'a Governors,
    /// The intent's key, `"tenant/intent-id"`; also the id the governors know it by.
    pub key: String,
    /// Timeout of each call.
    pub timeout: Duration,
}

impl Governors {
    /// The payment intent `intent` of `tenant`.
    pub fn payment(&self, tenant: &str, intent: &str) -> Payment<'_> {
        Payment {
            govs: self,
            key: format!("{tenant}/{intent}"),
            timeout: Duration::from_secs(5),
        }
    }

    /// Completes or aborts every unfinished payment intent of `tenant` begun at or after
    /// `since` (receipt time, microseconds since the Unix epoch; see the module docs), reading
    /// the tenant's receipts page by page. Returns what happened to each, by intent key.
    pub async fn recover_payments(
        &self,
        tenant: &str,
        since: u64,
    ) -> Result<BTreeMap<String, Outcome>, GovernorError> {
        const PAGE: usize = 1000;
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        let (mut start, mut at_start) = (since, HashSet::new());
        loop {
            let page = self
                .entities()
                .receipts_by_tenant(tenant, start..u64::MAX, PAGE)
                .await
                .map_err(|e| GovernorError::Unavailable(e.to_string()))?;
            let full = page.len() == PAGE;
            let mut progress = false;
            for r in page {
                if r.time == start && !at_start.insert(r.id) {
                    continue; // Seen on the previous page.
                }
                progress = true;
                if r.time != start {
                    start = r.time;
                    at_start.clear();
                    at_start.insert(r.id);
                }
                if r.kind == PaymentIntent::KIND {
                    last.insert(String::from_utf8_lossy(&r.key).into_owned(), r.to);
                }
            }
            if !full || !progress {
                break;
            }
        }
        let mut out = BTreeMap::new();
        for (key, to) in last {
            if to == format!("{:?}", State::Started) || to == format!("{:?}", State::Prepared) {
                let (_, id) = split_key(&key)?;
                out.insert(key.clone(), self.payment(tenant, id).finish().await?);
            }
        }
        Ok(out)
    }
}

impl Payment<'_> {
    async fn intent(&self, cmd: Cmd) -> Result<View, GovernorError> {
        self.govs
            .call::<PaymentIntent, _>(&self.key, cmd, self.timeout)
            .await
    }

    /// Runs the whole payment: begin, prepare, decide, commit. A refusal by either governor
    /// aborts on both and is returned as the error.
    pub async fn run(
        &self,
        entitlement: &str,
        billing: &str,
        amount: i64,
    ) -> Result<Outcome, GovernorError> {
        self.begin(entitlement, billing, amount).await?;
        if let Err(e) = self.prepare().await {
            return match e {
                GovernorError::Unavailable(_) => Err(e),
                _ => self.abort(&e.to_string()).await.and(Err(e)),
            };
        }
        self.commit().await
    }

    /// Step 1: writes the intent.
    pub async fn begin(
        &self,
        entitlement: &str,
        billing: &str,
        amount: i64,
    ) -> Result<(), GovernorError> {
        let (entitlement, billing) = (entitlement.to_string(), billing.to_string());
        self.intent(Cmd::Begin {
            entitlement,
            billing,
            amount,
        })
        .await
        .map(drop)
    }

    /// Steps 2 and 3: prepares both governors, then decides (the intent goes to `prepared`).
    pub async fn prepare(&self) -> Result<(), GovernorError> {
        let (_, d) = self.intent(Cmd::Status).await?;
        let intent = self.key.clone();
        let t = self.timeout;
        let cmd = entitlement::Cmd::Prepare {
            intent: intent.clone(),
        };
        self.govs
            .call::<Entitlement, _>(&d.entitlement, cmd, t)
            .await?;
        let cmd = billing::Cmd::Prepare {
            intent,
            amount: d.amount as i64,
        };
        self.govs.call::<Billing, _>(&d.billing, cmd, t).await?;
        self.intent(Cmd::Decide).await.map(drop)
    }

    /// Step 4: applies the payment on both governors, then marks the intent committed.
    pub async fn commit(&self) -> Result<Outcome, GovernorError> {
        let (_, d) = self.intent(Cmd::Status).await?;
        let t = self.timeout;
        let intent = self.key.clone();
        let cmd = entitlement::Cmd::Commit {
            intent: intent.clone(),
        };
        self.govs
            .call::<Entitlement, _>(&d.entitlement, cmd, t)
            .await?;
        self.govs
            .call::<Billing, _>(&d.billing, billing::Cmd::Commit { intent }, t)
            .await?;
        self.intent(Cmd::Commit).await?;
        Ok(Outcome::Committed)
    }

    /// Aborts the intent (only before the decision), then both governors.
    pub async fn abort(&self, reason: &str) -> Result<Outcome, GovernorError> {
        let (_, d) = self
            .intent(Cmd::Abort {
                reason: reason.to_string(),
            })
            .await?;
        let (t, intent) = (self.timeout, self.key.clone());
        let cmd = entitlement::Cmd::Abort {
            intent: intent.clone(),
        };
        self.govs
            .call::<Entitlement, _>(&d.entitlement, cmd, t)
            .await?;
        self.govs
            .call::<Billing, _>(&d.billing, billing::Cmd::Abort { intent }, t)
            .await?;
        Ok(Outcome::Aborted(reason.to_string()))
    }

    /// Completes the intent from wherever it stopped: a `started` one is aborted (presumed
    /// abort), a `prepared` one committed, a finished one left as it is.
    pub async fn finish(&self) -> Result<Outcome, GovernorError> {
        let (s, d) = self.intent(Cmd::Status).await?;
        match s {
            State::New | State::Started => self.abort("recovered before the decision").await,
            State::Prepared => self.commit().await,
            State::Committed => Ok(Outcome::Committed),
            State::Aborted => Ok(Outcome::Aborted(d.reason.unwrap_or_default())),
        }
    }
}

#[cfg(test)]
#[path = "payment_tests.rs"]
mod tests;

#[cfg(test)]
mod intents {
    use super::*;

    #[test]
    fn prepare_commit_abort_are_idempotent_and_exclusive() {
        let mut i = Intents::default();
        assert_eq!(i.prepare("a", 5), Ok(()));
        assert_eq!(i.prepare("a", 5), Ok(()));
        assert_eq!(
            i.prepare("b", 1),
            Err(GovernorError::IntentPending("a".into()))
        );
        assert_eq!(i.commit("a"), Ok(Some(5)));
        assert_eq!(i.commit("a"), Ok(None), "a second commit applies nothing");
        assert_eq!(
            i.prepare("a", 5),
            Ok(()),
            "a committed intent stays committed"
        );
        assert!(i.abort("a").is_err());
        assert!(i.commit("b").is_err(), "not prepared");
        assert_eq!(i.abort("b"), Ok(()));
        assert_eq!(i.abort("b"), Ok(()));
        assert_eq!(
            i.prepare("b", 1),
            Err(GovernorError::IntentAborted("b".into()))
        );
        assert_eq!(i.prepared, None);
    }

    #[test]
    fn decided_intents_are_bounded() {
        let mut i = Intents::default();
        for n in 0..DECIDED * 3 {
            let id = n.to_string();
            i.prepare(&id, 1).unwrap();
            i.commit(&id).unwrap();
        }
        assert_eq!(i.decided.len(), DECIDED);
        assert_eq!(i.decided.front().unwrap().0, (DECIDED * 2).to_string());
    }
}
