//! The quorum state write paths consult: quorate, minority or deciding, the typed
//! [`NotQuorate`] error, and a cheap handle to read, check and watch it.

use std::time::Duration;
use tokio::sync::watch;

/// Whether this node's side may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuorumState {
    /// The side satisfies the strategy: writes may go ahead.
    Quorate,
    /// The picture changed and this node cannot count itself on a quorate side yet (a peer
    /// went silent, a partition is settling): read-only until it settles.
    Deciding,
    /// Decided down (on the losing side of a partition, dropped from an overlapping
    /// partition, every side downed because the picture would not settle, left, or stopped):
    /// read-only.
    Minority,
}

/// The quorum state with what it was judged on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumInfo {
    /// The state.
    pub state: QuorumState,
    /// This node's side as counted for the state (sorted names).
    pub side: Vec<String>,
    /// Up members the side was measured against.
    pub members: usize,
}

/// A write refused because this node is not on a quorate side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not quorate ({state:?}): this node's side holds {side} of {members} members")]
pub struct NotQuorate {
    /// The state when refused.
    pub state: QuorumState,
    /// Size of this node's side.
    pub side: usize,
    /// Up members.
    pub members: usize,
}

/// A handle to this node's quorum state (cheap to clone).
///
/// ```no_run
/// # async fn demo(m: actor_cluster::membership::Membership) -> Result<(), actor_cluster::membership::NotQuorate> {
/// let quorum = m.quorum();
/// quorum.check()?; // a write path refuses to write on the minority side
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Quorum {
    pub(crate) rx: watch::Receiver<QuorumInfo>,
}

impl Quorum {
    /// The state now.
    pub fn state(&self) -> QuorumState {
        self.rx.borrow().state
    }

    /// The state with its side.
    pub fn info(&self) -> QuorumInfo {
        self.rx.borrow().clone()
    }

    /// `Ok` when quorate, otherwise the typed refusal write paths return.
    pub fn check(&self) -> Result<(), NotQuorate> {
        let i = self.rx.borrow();
        match i.state {
            QuorumState::Quorate => Ok(()),
            state => Err(NotQuorate {
                state,
                side: i.side.len(),
                members: i.members,
            }),
        }
    }

    /// Same as [`check`](Quorum::check).
    pub fn ensure_quorate(&self) -> Result<(), NotQuorate> {
        self.check()
    }

    /// Waits until quorate, at most `timeout`; then the refusal of that moment.
    pub async fn wait_quorate(&self, timeout: Duration) -> Result<(), NotQuorate> {
        let mut rx = self.rx.clone();
        let _ =
            tokio::time::timeout(timeout, rx.wait_for(|i| i.state == QuorumState::Quorate)).await;
        self.check()
    }

    /// A receiver of every change of the state (a `watch`: a slow reader sees the latest).
    pub fn subscribe(&self) -> watch::Receiver<QuorumInfo> {
        self.rx.clone()
    }
}
