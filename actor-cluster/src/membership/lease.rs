//! The lease behind [`Strategy::LeaseMajority`](super::Strategy::LeaseMajority): something
//! outside the cluster (a Kubernetes lease, a row in a database) that at most one owner holds.

use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::sync::Arc;

/// Why a lease could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease unavailable: {0}")]
pub struct LeaseError(pub String);

/// A lease that at most one owner holds at a time. Owners are node names (a side asks under
/// its lowest member's name), so every node of a side asks with the same owner and gets the
/// same answer; `acquire` by the holder again must succeed. A side is quorate while the
/// holder is one of its members. Membership never releases the lease on its own (a release
/// while a side still counts on it could let another side take it): the holder keeps it
/// across heals, and a real lease expires when its holder stops renewing it (a Kubernetes
/// lease's duration); [`Membership::leave`](super::Membership::leave) releases it.
pub trait Lease: Send + Sync + 'static {
    /// Takes the lease for `owner`: `Ok(true)` when `owner` holds it now, `Ok(false)` when
    /// another owner does.
    fn acquire(&self, owner: &str) -> BoxFuture<'_, Result<bool, LeaseError>>;
    /// Gives the lease up if `owner` holds it.
    fn release(&self, owner: &str) -> BoxFuture<'_, Result<(), LeaseError>>;
    /// Who holds it now.
    fn holder(&self) -> BoxFuture<'_, Result<Option<String>, LeaseError>>;
}

/// An in-process lease for tests: nodes of one test process share it (clone it into each
/// node's configuration).
///
/// ```
/// use actor_cluster::membership::{Lease, TestLease};
/// # futures::executor::block_on(async {
/// let lease = TestLease::new();
/// assert_eq!(lease.acquire("a").await, Ok(true));
/// assert_eq!(lease.acquire("b").await, Ok(false));
/// lease.release("a").await.unwrap();
/// assert_eq!(lease.acquire("b").await, Ok(true));
/// # });
/// ```
#[derive(Clone, Default, Debug)]
pub struct TestLease {
    holder: Arc<Mutex<Option<String>>>,
}

impl TestLease {
    /// A free lease.
    pub fn new() -> Self {
        Self::default()
    }

    /// Who holds it.
    pub fn current(&self) -> Option<String> {
        self.holder.lock().clone()
    }
}

impl Lease for TestLease {
    fn acquire(&self, owner: &str) -> BoxFuture<'_, Result<bool, LeaseError>> {
        let mut h = self.holder.lock();
        let ok = match &*h {
            Some(o) => o == owner,
            None => {
                *h = Some(owner.to_string());
                true
            }
        };
        Box::pin(async move { Ok(ok) })
    }

    fn release(&self, owner: &str) -> BoxFuture<'_, Result<(), LeaseError>> {
        let mut h = self.holder.lock();
        if h.as_deref() == Some(owner) {
            *h = None;
        }
        Box::pin(async { Ok(()) })
    }

    fn holder(&self) -> BoxFuture<'_, Result<Option<String>, LeaseError>> {
        let h = self.holder.lock().clone();
        Box::pin(async move { Ok(h) })
    }
}
