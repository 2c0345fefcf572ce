//! What a user implements to make a state machine an entity: its kind, how it is built for a
//! key from its last durable state, and what of it is durable.

use serde::de::DeserializeOwned;
use serde::Serialize;
use statem::RemoteMachine;

/// A `statem` machine that lives as an entity: one activation per key in the cluster, its
/// state and data written to the receipt log with every change.
///
/// The machine's `init` must return the state it was activated with (`last.0`), or its
/// initial state for a new key: the entity layer rebuilds the machine with
/// [`activate`](Entity::activate), then starts it.
///
/// What is durable is the pair (state, [`data`](Entity::data)): after every event, the pair is
/// encoded and, if it differs from the last one written, a receipt carrying it is appended
/// before the event's replies are sent. Events that change nothing (reads) write nothing.
///
/// `Call` and `Msg` are `Clone` so that a request that provably did not reach a live
/// activation (it was passivated, handed over or fenced before handling it) can be sent again
/// to the next one.
pub trait Entity:
    RemoteMachine<
    State: Serialize + DeserializeOwned + Send + Sync,
    Call: Serialize + DeserializeOwned + Clone + Send,
    Msg: Serialize + DeserializeOwned + Clone + Send,
    Reply: Serialize + DeserializeOwned + Send,
>
{
    /// The entity kind: a stable name, the same on every node.
    const KIND: &'static str;

    /// The durable data besides the state.
    type Data: Serialize + DeserializeOwned + Send;

    /// Builds the machine for `key`: `last` is its last durable (state, data), or `None` for a
    /// key never written. Its `init` then returns `last`'s state.
    fn activate(key: &str, last: Option<(Self::State, Self::Data)>) -> Self;

    /// The durable data now.
    fn data(&self) -> &Self::Data;

    /// The tenant the entity's receipts are filed under (queries by tenant and time).
    fn tenant(&self) -> String {
        String::new()
    }

    /// Whether an idle activation in `state` may be passivated (default: yes). Say no while
    /// a timer of the machine must fire (a review window, a retry): passivation stops the
    /// machine and its timers with it. Asked after every event.
    fn may_passivate(&self, state: &Self::State) -> bool {
        let _ = state;
        true
    }
}
