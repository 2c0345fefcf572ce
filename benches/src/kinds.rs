//! The entity kinds the entity workloads (W16, W17, W18) run with, behind one trait, so that
//! each workload runs once with the bench's own 2-state machine ([`Switch`], peer
//! `actor-entity`) and once with an application governor ([`EntitlementKind`], peer
//! `entitlement`: `examples::governors::entitlement`, the machine the README's demo runs).
//!
//! A kind gives the key of entity `i`, a read request, the `n`th state-changing request of a
//! key's sequence (every one valid after the ones before it), and how to tell that a reply
//! is the state after `n` transitions (the workloads check it after a failover).

use actor_core::ExitReason;
use actor_entity::Entity;
use examples::governors::entitlement::{Cmd, Entitlement, State};
use serde::{Deserialize, Serialize};
use statem::{Ctx, Event, RemoteMachine, StateMachine, Transition};

/// Tenants of the governor keys (`tenant-0` .. `tenant-7`).
pub const TENANTS: u64 = 8;

/// An entity kind a workload runs with.
pub trait BenchKind: Send + Sync + 'static {
    /// The entity.
    type E: Entity;

    /// The key of entity `i`, prefixed with `prefix` (a workload's phase).
    fn key(prefix: &str, i: u64) -> String;

    /// A request that reads the state (writes nothing once the key has a receipt).
    fn read() -> <Self::E as StateMachine>::Call;

    /// The `n`th (1-based) state-changing request of a key's sequence.
    fn step(n: u64) -> <Self::E as StateMachine>::Call;

    /// Whether `reply` (to a read or a step) shows the state after `n` transitions.
    fn is_after(reply: &<Self::E as StateMachine>::Reply, n: u64) -> bool;
}

/// The names of every tenant of [`EntitlementKind`]'s keys.
pub fn tenants() -> Vec<String> {
    (0..TENANTS).map(|t| format!("tenant-{t}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The bench's own machine.

/// A light switch: the 2-state entity of W16-W18 (peer `actor-entity`).
pub struct Switch {
    on: bool,
    flips: u64,
}

/// What a [`Switch`] takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SwitchReq {
    /// Read the state.
    Get,
    /// Turn it over (a durable change).
    Flip,
}

impl StateMachine for Switch {
    type State = bool;
    type Call = SwitchReq;
    /// The state and the number of flips, after the request.
    type Reply = (bool, u64);
    type Msg = ();
    type Timer = ();

    async fn init(&mut self, _: &mut Ctx<'_, Self>) -> Result<bool, ExitReason> {
        Ok(self.on)
    }

    async fn handle_event(
        &mut self,
        on: &bool,
        ev: Event<Self>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Transition<Self> {
        match ev {
            Event::Call(SwitchReq::Get, from) => {
                ctx.reply(from, (*on, self.flips));
                Transition::KeepState
            }
            Event::Call(SwitchReq::Flip, from) => {
                self.flips += 1;
                ctx.reply(from, (!on, self.flips));
                Transition::NextState(!on)
            }
            _ => Transition::KeepState,
        }
    }
}

impl RemoteMachine for Switch {
    const NAME: &'static str = "bench.Switch";
}

impl Entity for Switch {
    const KIND: &'static str = "switch";
    type Data = u64;

    fn activate(_key: &str, last: Option<(bool, u64)>) -> Self {
        let (on, flips) = last.unwrap_or((false, 0));
        Switch { on, flips }
    }

    fn data(&self) -> &u64 {
        &self.flips
    }
}

/// [`Switch`] as a workload kind (peer `actor-entity`).
pub struct SwitchKind;

impl BenchKind for SwitchKind {
    type E = Switch;

    fn key(prefix: &str, i: u64) -> String {
        format!("{prefix}-{i}")
    }

    fn read() -> SwitchReq {
        SwitchReq::Get
    }

    fn step(_n: u64) -> SwitchReq {
        SwitchReq::Flip
    }

    fn is_after(reply: &(bool, u64), n: u64) -> bool {
        *reply == (n % 2 == 1, n)
    }
}

// ---------------------------------------------------------------------------------------------
// The entitlement governor.

/// The entitlement governor of `examples` as a workload kind (peer `entitlement`): keys
/// `tenant-<i mod 8>/<prefix>-<i>`; the sequence is grant, approve, then suspend (reason
/// `step <n>`) and reinstate in turn.
pub struct EntitlementKind;

impl BenchKind for EntitlementKind {
    type E = Entitlement;

    fn key(prefix: &str, i: u64) -> String {
        format!("tenant-{}/{prefix}-{i}", i % TENANTS)
    }

    fn read() -> Cmd {
        Cmd::Status
    }

    fn step(n: u64) -> Cmd {
        match n {
            1 => Cmd::Grant,
            2 => Cmd::Approve,
            n if n % 2 == 1 => Cmd::Suspend {
                reason: format!("step {n}"),
            },
            _ => Cmd::Reinstate,
        }
    }

    fn is_after(reply: &<Entitlement as StateMachine>::Reply, n: u64) -> bool {
        let Ok(view) = reply else { return false };
        let (state, reason) = match n {
            0 => (State::Unentitled, None),
            1 => (State::PendingReview, None),
            n if n >= 3 && n % 2 == 1 => (State::Suspended, Some(format!("step {n}"))),
            _ => (State::Entitled, None),
        };
        view.state == state && view.data.reason == reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_steps_name_the_state_after_them() {
        assert!(matches!(EntitlementKind::step(1), Cmd::Grant));
        assert!(matches!(EntitlementKind::step(2), Cmd::Approve));
        assert!(matches!(EntitlementKind::step(3), Cmd::Suspend { .. }));
        assert!(matches!(EntitlementKind::step(4), Cmd::Reinstate));
        assert!(SwitchKind::is_after(&(false, 10), 10));
        assert!(!SwitchKind::is_after(&(false, 9), 10));
        assert_eq!(
            EntitlementKind::key("k", 9),
            "tenant-1/k-9",
            "tenant from the index"
        );
    }
}
