//! The replica server: one per node, wrapping the node's journal. Each request's journal
//! operation is started (takes its place in the journal's queue) in arrival order, then
//! answered from a task when it is durable, so that requests of many keys share group commits
//! and one slow fsync does not stop the mailbox.

use super::protocol::{Head, Promise, Refusal, ReplicaMsg, WireBounds};
use super::ReplicaStats;
use actor_core::{Actor, Context, ReplyTo};
use actor_journal::{JournalError, JournalStore, LogPosition};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use tokio::sync::Semaphore;

/// The replica server actor.
pub(crate) struct Replica {
    pub(crate) store: Arc<dyn JournalStore>,
    pub(crate) bounds: WireBounds,
    /// Requests being served at once, at most (then the mailbox waits).
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) stats: Arc<ReplicaStats>,
}

fn refusal(err: JournalError) -> Refusal {
    match err {
        JournalError::Fenced { promised } => Refusal::Fenced { promised },
        JournalError::Diverged {
            last_seq,
            last_epoch,
        } => Refusal::Diverged {
            last: LogPosition {
                seq: last_seq,
                epoch: last_epoch,
            },
        },
        JournalError::Invalid(why) => Refusal::Invalid(why),
        other => Refusal::Failed(other.to_string()),
    }
}

impl Replica {
    /// Polls `op` once (so that a journal write takes its place in the journal's order now),
    /// then finishes it in a task, holding an in-flight permit, and replies.
    async fn serve<T: Send + 'static>(
        &self,
        op: impl Future<Output = Result<T, Refusal>> + Send + 'static,
        reply: ReplyTo<Result<T, Refusal>>,
    ) {
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut op: Pin<Box<dyn Future<Output = Result<T, Refusal>> + Send>> = Box::pin(op);
        let first = std::future::poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx))).await;
        match first {
            Poll::Ready(answer) => {
                reply.send(answer);
            }
            Poll::Pending => {
                tokio::spawn(async move {
                    let answer = op.await;
                    reply.send(answer);
                    drop(permit);
                });
            }
        }
    }

    fn invalid(&self, why: Refusal) -> Refusal {
        self.stats.invalid.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(?why, "replica: refused an invalid request");
        why
    }
}

impl Actor for Replica {
    type Msg = ReplicaMsg;

    async fn handle(&mut self, msg: ReplicaMsg, _ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let bounds = self.bounds;
        match msg {
            ReplicaMsg::Prepare { key, epoch, reply } => {
                if let Err(why) = bounds.check_key(&key) {
                    reply.send(Err(self.invalid(why)));
                    return;
                }
                self.stats.prepares.fetch_add(1, Ordering::Relaxed);
                let op = async move {
                    let acc = store.promise(&key, epoch).await.map_err(refusal)?;
                    let skip = acc.entries.len().saturating_sub(bounds.max_tail);
                    Ok(Promise {
                        last: LogPosition {
                            seq: acc.last_seq,
                            epoch: acc.last_epoch,
                        },
                        snapshot: acc.snapshot,
                        tail: acc.entries.into_iter().skip(skip).collect(),
                    })
                };
                self.serve(op, reply).await;
            }
            ReplicaMsg::Accept {
                key,
                epoch,
                prev,
                receipts,
                reply,
            } => {
                if let Err(why) = bounds
                    .check_key(&key)
                    .and_then(|()| bounds.check_receipts(&receipts))
                {
                    reply.send(Err(self.invalid(why)));
                    return;
                }
                self.stats.accepts.fetch_add(1, Ordering::Relaxed);
                let op = async move {
                    store
                        .accept(&key, epoch, prev, receipts)
                        .await
                        .map_err(refusal)
                };
                self.serve(op, reply).await;
            }
            ReplicaMsg::Entries {
                key,
                after,
                limit,
                reply,
            } => {
                if let Err(why) = bounds.check_key(&key) {
                    reply.send(Err(self.invalid(why)));
                    return;
                }
                let limit = (limit as usize).min(bounds.max_read);
                let op = async move {
                    let acc = store.last_state(&key).await.map_err(refusal)?;
                    let last = LogPosition {
                        seq: acc.last_seq,
                        epoch: acc.last_epoch,
                    };
                    let entries = store
                        .entries_after(&key, after, limit)
                        .await
                        .map_err(refusal)?;
                    Ok((last, entries))
                };
                self.serve(op, reply).await;
            }
            ReplicaMsg::Head { key, reply } => {
                if let Err(why) = bounds.check_key(&key) {
                    reply.send(Err(self.invalid(why)));
                    return;
                }
                self.stats.heads.fetch_add(1, Ordering::Relaxed);
                let op = async move {
                    let acc = store.head(&key).await.map_err(refusal)?;
                    Ok(Head {
                        promised: acc.promised,
                        last: LogPosition {
                            seq: acc.last_seq,
                            epoch: acc.last_epoch,
                        },
                        snapshot: acc.snapshot,
                        receipt: acc.entries.into_iter().last(),
                    })
                };
                self.serve(op, reply).await;
            }
            ReplicaMsg::ByTenant {
                tenant,
                start,
                end,
                limit,
                reply,
            } => {
                if tenant.len() > bounds.max_key_bytes {
                    reply.send(Err(self.invalid(Refusal::Invalid("tenant too long".into()))));
                    return;
                }
                let limit = (limit as usize).min(bounds.max_read);
                let op = async move {
                    store
                        .by_tenant(&tenant, start..end, limit)
                        .await
                        .map_err(refusal)
                };
                self.serve(op, reply).await;
            }
        }
    }
}
