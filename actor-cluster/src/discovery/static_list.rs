//! [`StaticList`]: a fixed list of peers (libcluster's `Epmd` strategy).

use super::{DiscoveryError, Peer, Strategy};
use futures::future::BoxFuture;

/// A fixed list of peers: seeds, or every node of a small cluster. Peers with a name are
/// connected to by name; peers given by address only are asked for their name first.
///
/// ```
/// use actor_cluster::discovery::{Peer, StaticList, Strategy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let list = StaticList::new([
///     Peer::named("a@10.0.0.1", "10.0.0.1:4370".parse().unwrap()),
///     Peer::addr("10.0.0.2:4370".parse().unwrap()),
/// ]);
/// assert_eq!(list.discover().await.unwrap().len(), 2);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct StaticList {
    peers: Vec<Peer>,
}

impl StaticList {
    /// The list `peers`.
    pub fn new(peers: impl IntoIterator<Item = Peer>) -> StaticList {
        StaticList {
            peers: peers.into_iter().collect(),
        }
    }

    /// The peers of the list.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }
}

impl Strategy for StaticList {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<Peer>, DiscoveryError>> {
        let peers = self.peers.clone();
        Box::pin(async move { Ok(peers) })
    }
}
