//! The [`Persist`] hook of an activation: after every event, the (state, data) pair is
//! encoded; when it changed, a receipt carrying it is appended with the activation's epoch
//! and the next sequence number before the event's replies go out.

use crate::entity::Entity;
use crate::error::Refusal;
use crate::log::{EntityLog, LogError};
use actor_core::{ExitReason, Term};
use actor_journal::{receipt_id, Receipt};
use futures::future::BoxFuture;
use statem::{Observed, Persist};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The exit reason of an activation that a newer one fenced: `{shutdown, fenced}` (a clean
/// exit: supervisors do not restart it, and callers may retry with the newer activation).
pub fn fenced() -> ExitReason {
    ExitReason::shutdown_with(Term::atom("fenced"))
}

/// Ids and clocks shared by the activations of one node.
pub(crate) struct Ids {
    /// The node id (the high half of receipt ids).
    pub(crate) node: u64,
    /// The low half: the node incarnation in the top bits, then a counter.
    pub(crate) counter: AtomicU64,
}

impl Ids {
    pub(crate) fn new(node: u64, creation: u32) -> Ids {
        Ids {
            node,
            counter: AtomicU64::new(u64::from(creation) << 40),
        }
    }

    fn next(&self) -> u128 {
        receipt_id(self.node, self.counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// One activation's writer.
pub(crate) struct Journaler {
    pub(crate) log: Arc<dyn EntityLog>,
    pub(crate) ids: Arc<Ids>,
    pub(crate) kind: &'static str,
    pub(crate) key: String,
    /// The epoch held; 0: none yet (the first write claims one, from `read`).
    pub(crate) epoch: u64,
    /// The log position the activation read.
    pub(crate) read: actor_journal::LogPosition,
    /// The last sequence number written (or recovered).
    pub(crate) seq: u64,
    /// The encoding of the last (state, data) written.
    pub(crate) last: Vec<u8>,
    pub(crate) buf: Vec<u8>,
    /// Milliseconds (of the host's clock) of the last event: for passivation.
    pub(crate) activity: Arc<AtomicU64>,
    /// What the machine said after its last event: may it be passivated now?
    pub(crate) passivable: Arc<std::sync::atomic::AtomicBool>,
    /// Passivate after this long without an event (milliseconds; `None`: never).
    pub(crate) idle_ms: Option<u64>,
    pub(crate) clock: crate::host::Clock,
    /// Whether `last` is durable (recovered or written); `false` for a key never written,
    /// whose `last` is its initial state.
    pub(crate) durable: bool,
    /// This node's quorum state: a write is refused (and undone) when not quorate.
    pub(crate) quorum: Option<actor_cluster::membership::Quorum>,
    /// The host's counts.
    pub(crate) stats: std::sync::Weak<crate::live::Live>,
}

impl Journaler {
    /// Encodes (state, data) into `self.buf`'s allocation.
    fn encode<E: Entity>(&mut self, machine: &E, state: &E::State) -> Result<Vec<u8>, String> {
        self.buf.clear();
        postcard::to_extend(&(state, machine.data()), std::mem::take(&mut self.buf))
            .map_err(|e| format!("entity state does not encode: {e}"))
    }
}

impl<E: Entity> Persist<E> for Journaler {
    fn started(&mut self, machine: &E, state: &E::State) {
        // What `init` produced is the baseline: a first event that changes nothing (a read,
        // a refused request) writes nothing, even for a key never written before.
        if let Ok(bytes) = self.encode(machine, state) {
            self.last = bytes;
        }
        self.passivable
            .store(machine.may_passivate(state), Ordering::Relaxed);
    }

    fn check(&mut self, machine: &E, state: &E::State) -> Option<ExitReason> {
        // Decided in order with the events: one that arrived since the host asked has
        // refreshed the activity (or vetoed) by now.
        let idle = self.idle_ms?;
        let quiet = self
            .clock
            .now_ms()
            .saturating_sub(self.activity.load(Ordering::Relaxed));
        (quiet >= idle && machine.may_passivate(state)).then_some(ExitReason::Shutdown)
    }

    fn persist<'a>(
        &'a mut self,
        machine: &'a E,
        t: &'a Observed<'a, E>,
    ) -> BoxFuture<'a, Result<(), ExitReason>> {
        self.activity.store(self.clock.now_ms(), Ordering::Relaxed);
        self.buf.clear();
        let encoded = postcard::to_extend(&(t.to, machine.data()), std::mem::take(&mut self.buf));
        let bytes = match encoded {
            Ok(b) => b,
            Err(e) => {
                return Box::pin(async move {
                    Err(ExitReason::error(format!(
                        "entity state does not encode: {e}"
                    )))
                })
            }
        };
        if bytes == self.last {
            self.buf = bytes;
            return Box::pin(async { Ok(()) });
        }
        if let Some(Err(nq)) = self.quorum.as_ref().map(|q| q.check()) {
            // A write on the minority side: refused before anything is written, and undone
            // (`undo`): the machine goes back to `last` and keeps serving reads.
            self.buf = bytes;
            if let Some(live) = self.stats.upgrade() {
                live.stats.refused.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(kind = self.kind, key = %self.key, %nq, "write refused: not quorate");
            let reason = Refusal::not_quorate(&nq).reason();
            return Box::pin(async move { Err(reason) });
        }
        let receipt = Receipt {
            id: self.ids.next(),
            time: Receipt::now_micros(),
            tenant: machine.tenant(),
            kind: self.kind.to_string(),
            key: self.key.as_bytes().to_vec(),
            epoch: self.epoch,
            seq: self.seq + 1,
            from: format!("{:?}", t.from),
            to: format!("{:?}", t.to),
            event: format!("{:?}", t.kind).into_bytes(),
            metadata: Vec::new(),
            state: bytes.clone(),
        };
        Box::pin(async move {
            let written = if self.epoch == 0 {
                self.log.claim(receipt, self.read).await.map(Some)
            } else {
                self.log.append(receipt).await.map(|()| None)
            };
            match written {
                Ok(claimed) => {
                    if let Some(epoch) = claimed {
                        self.epoch = epoch;
                    }
                    self.seq += 1;
                    self.durable = true;
                    self.buf = std::mem::replace(&mut self.last, bytes);
                    Ok(())
                }
                Err(LogError::Fenced { promised }) => {
                    tracing::warn!(
                        kind = self.kind,
                        key = %self.key,
                        epoch = self.epoch,
                        promised,
                        "entity activation fenced by a newer one: stopping"
                    );
                    Err(fenced())
                }
                Err(e) => {
                    tracing::warn!(
                        kind = self.kind,
                        key = %self.key,
                        epoch = self.epoch,
                        error = %e,
                        "receipt log failed: the activation stops"
                    );
                    Err(Refusal::log(&e).reason())
                }
            }
        })
    }

    fn undo(&mut self, reason: &ExitReason) -> Option<E> {
        // Only a minority refusal is undone; anything else stops the activation.
        if !matches!(
            Refusal::from_reason(reason),
            Some(Refusal::NotQuorate { .. })
        ) {
            return None;
        }
        let last = if self.durable {
            match postcard::from_bytes::<(E::State, E::Data)>(&self.last) {
                Ok(last) => Some(last),
                Err(e) => {
                    tracing::warn!(kind = self.kind, key = %self.key, error = %e, "cannot undo: the last state does not decode");
                    return None;
                }
            }
        } else {
            None
        };
        Some(E::activate(&self.key, last))
    }
}
