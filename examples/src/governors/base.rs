//! What every governor holds and does besides its machine and its data: its key and tenant,
//! the state it was activated in, the node's [`GovernorEnv`], and the refusal it answers every
//! request with when its tenant is unknown; getting the environment in `init`, answering a
//! call, publishing a change of state, the keep-alive. A governor file keeps only its states,
//! its data and its transitions.

use super::env::{need_env, refusal, GovernorEnv, GovernorsConfig};
use super::{split_key, GovernorError, QuotaBreached, StateChange};
use actor_core::{ExitReason, Node, ReplyTo};
use actor_entity::Entity;
use statem::{Ctx, StateMachine, StatemRef, Transition};
use std::fmt::Debug;
use std::sync::Arc;

/// The plumbing of one governor activation in state type `S`.
pub(crate) struct Base<S> {
    /// The entity key, `"tenant/id"`.
    pub key: String,
    /// The key's tenant (empty for a malformed key).
    pub tenant: String,
    /// The state the activation starts in.
    pub start: S,
    /// The node's environment, from `init` on.
    pub env: Option<Arc<GovernorEnv>>,
    /// Set in `init` when the key or its tenant is refused: every request gets it.
    pub refused: Option<GovernorError>,
}

impl<S: Copy + PartialEq + Debug> Base<S> {
    /// The activation of `key` from its last durable state and data (or `initial` and the
    /// default data), as [`Entity::activate`] gets them.
    pub fn activate<D: Default>(key: &str, last: Option<(S, D)>, initial: S) -> (Self, D) {
        let (start, data) = last.unwrap_or((initial, D::default()));
        let base = Base {
            key: key.to_string(),
            tenant: split_key(key)
                .map(|(t, _)| t.to_string())
                .unwrap_or_default(),
            start,
            env: None,
            refused: None,
        };
        (base, data)
    }

    /// The environment (set in `init`).
    pub fn env(&self) -> &GovernorEnv {
        self.env.as_ref().expect("set in init")
    }

    /// A policy read from the environment, or its default before `init`.
    pub fn cfg<C: Clone + Default>(&self, f: impl FnOnce(&GovernorsConfig) -> &C) -> C {
        self.env
            .as_ref()
            .map(|e| f(&e.cfg).clone())
            .unwrap_or_default()
    }

    /// The first step of every governor's `init`: gets the node's environment (an error if
    /// [`Governors::start`](super::Governors::start) did not run here) and checks the key's
    /// tenant (an unknown one is kept as the refusal of every request, not an error).
    pub async fn init(&mut self, node: &Node) -> Result<Arc<GovernorEnv>, ExitReason> {
        let env = need_env(node).await?;
        match env.check_tenant(&self.key) {
            Ok(tenant) => self.tenant = tenant,
            Err(e) => self.refused = Some(e),
        }
        self.env = Some(env.clone());
        Ok(env)
    }

    /// [`init`](Self::init), then subscribes the activation `me` to its tenant's quota
    /// breaches (unless it refuses everything).
    pub async fn init_subscribed<E: Entity<State = S>>(
        &mut self,
        node: &Node,
        me: StatemRef<E>,
        map: fn(QuotaBreached) -> E::Msg,
    ) -> Result<Arc<GovernorEnv>, ExitReason> {
        let env = self.init(node).await?;
        if self.refused.is_none() {
            env.subscribe_breaches::<E>(node, &self.tenant, me, map)
                .await?;
        }
        Ok(env)
    }

    /// Whether a request may run: `Err` with the refusal of a governor whose tenant is
    /// unknown.
    pub fn admit(&self) -> Result<(), GovernorError> {
        match &self.refused {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Answers a call with the outcome of its step: `Ok(next)` replies `view(next)` and goes
    /// to `next`; an error is counted and logged as a refusal, replied, and changes nothing.
    pub fn answer<E, V>(
        &self,
        res: Result<S, GovernorError>,
        from: ReplyTo<Result<V, GovernorError>>,
        ctx: &mut Ctx<'_, E>,
        view: impl FnOnce(S) -> V,
    ) -> Transition<E>
    where
        E: Entity<State = S, Reply = Result<V, GovernorError>>,
    {
        match res {
            Ok(next) => {
                ctx.reply(from, Ok(view(next)));
                Transition::NextState(next)
            }
            Err(e) => {
                refusal(&self.env, E::KIND, &self.key, &e);
                ctx.reply(from, Err(e));
                Transition::KeepState
            }
        }
    }

    /// Restarts the keep-alive timer `timer` if the governor is `waiting` for a timer of its
    /// own and keep-alives are on (see
    /// [`GovernorsConfig::keep_alive`](super::GovernorsConfig::keep_alive)).
    pub fn keep_alive<M: StateMachine>(
        &self,
        waiting: bool,
        ctx: &mut Ctx<'_, M>,
        timer: M::Timer,
        msg: M::Msg,
    ) {
        if let (Some(every), true) = (self.env.as_ref().and_then(|e| e.cfg.keep_alive), waiting) {
            ctx.generic_timeout(timer, every, msg);
        }
    }

    /// Publishes a change of state `from → to` of governor kind `kind` (nothing if the state
    /// did not change, or before `init`). Returns the environment if it published.
    pub fn publish(&self, kind: &str, from: &S, to: &S) -> Option<&GovernorEnv> {
        let env = self.env.as_deref()?;
        if from == to {
            return None;
        }
        env.publish(StateChange {
            tenant: self.tenant.clone(),
            kind: kind.into(),
            key: self.key.clone(),
            from: format!("{from:?}"),
            to: format!("{to:?}"),
        });
        Some(env)
    }
}

/// The state a transition leaves the machine in, from `s`.
pub(crate) fn next_state<M: StateMachine>(t: &Transition<M>, s: &M::State) -> M::State
where
    M::State: Copy,
{
    match t {
        Transition::NextState(next) => *next,
        _ => *s,
    }
}
