//! Reading receipts from any node: by tenant and time, and by entity.

use crate::error::EntityError;
use crate::host::{activation_err, Entities};
use actor_journal::{EntityKey, Receipt};
use std::ops::Range;

impl Entities {
    /// A tenant's receipts in a time range (microseconds since the Unix epoch), ordered by
    /// time then receipt id, at most `limit`. A replicated log merges what the nodes hold.
    pub async fn receipts_by_tenant(
        &self,
        tenant: &str,
        time: Range<u64>,
        limit: usize,
    ) -> Result<Vec<Receipt>, EntityError> {
        self.inner
            .log
            .by_tenant(tenant, time, limit)
            .await
            .map_err(|e| activation_err("*", tenant, format!("receipt log: {e}")))
    }

    /// The receipts of entity `kind`/`key` after sequence number `after`, at most `limit`.
    pub async fn receipts(
        &self,
        kind: &str,
        key: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Receipt>, EntityError> {
        let k = EntityKey {
            kind: kind.to_string(),
            key: key.as_bytes().to_vec(),
        };
        self.inner
            .log
            .entries(&k, after, limit)
            .await
            .map_err(|e| activation_err(kind, key, format!("receipt log: {e}")))
    }
}
