//! Phase 1's outcome: from a majority's promises, the log the new epoch adopts and the tail
//! it must re-propose (pure functions, so that the rule is tested on its own).

use super::protocol::Promise;
use actor_journal::LogPosition;

/// What one replica's promise tells about the epoch of its receipt at a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// The receipt there has this epoch (0 at seq 0).
    Known(u64),
    /// At or below the replica's snapshot: an acknowledged prefix.
    Covered,
    /// Below the tail the promise carried.
    Unknown,
}

fn tag(p: &Promise, seq: u64) -> Tag {
    if seq == 0 {
        return Tag::Known(0);
    }
    if seq == p.last.seq {
        return Tag::Known(p.last.epoch);
    }
    if let Some(first) = p.tail.first() {
        if seq >= first.seq && seq <= p.last.seq {
            if let Some(r) = p.tail.get((seq - first.seq) as usize) {
                return Tag::Known(r.epoch);
            }
        }
    }
    match &p.snapshot {
        Some(s) if seq <= s.seq => Tag::Covered,
        _ => Tag::Unknown,
    }
}

/// The recovery plan of a new epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Which promise holds the adopted log: the most up to date (highest last epoch, then
    /// longest).
    pub source: usize,
    /// The adopted log's last position.
    pub last: LogPosition,
    /// Re-propose the adopted receipts after this position (under the new epoch); `None`
    /// when there is nothing to re-propose (an empty log, or one that ends in a snapshot).
    pub from: Option<LogPosition>,
}

/// How far `r`'s log agrees with `a`'s (two receipts at one position are the same receipt,
/// and so are the logs before them): the highest position that can be confirmed from the
/// promises, conservatively lower when their tails do not reach.
fn matching(a: &Promise, r: &Promise) -> u64 {
    let mut m = r.last.seq.min(a.last.seq);
    while m > 0 {
        match (tag(a, m), tag(r, m)) {
            (Tag::Known(x), Tag::Known(y)) if x == y => return m,
            (Tag::Covered, _) | (_, Tag::Covered) => return m,
            (Tag::Known(_), Tag::Known(_)) => m -= 1,
            _ => {
                // Below a tail: only the snapshots (or the start) are known to agree.
                let floor = |p: &Promise| p.snapshot.as_ref().map_or(0, |s| s.seq);
                return floor(a).max(floor(r)).min(m - 1);
            }
        }
    }
    0
}

/// The plan from the promises of a majority (not empty).
pub(crate) fn plan(promises: &[Promise]) -> Plan {
    let source = promises
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| (p.last.epoch, p.last.seq))
        .map_or(0, |(i, _)| i);
    let a = &promises[source];
    let last = a.last;
    let snap = a.snapshot.as_ref().map_or(0, |s| s.seq);
    if last.seq == 0 || last.seq <= snap {
        return Plan {
            source,
            last,
            from: None,
        };
    }
    // Re-propose at least the last receipt (so that the new epoch's own receipt, on a
    // majority, commits the whole log), and from where the least matching promise diverges.
    let k = promises
        .iter()
        .map(|r| matching(a, r))
        .min()
        .unwrap_or(0)
        .min(last.seq - 1)
        .max(snap);
    let epoch = match tag(a, k) {
        Tag::Known(e) => e,
        _ => a.snapshot.as_ref().map_or(0, |s| s.epoch),
    };
    Plan {
        source,
        last,
        from: Some(LogPosition { seq: k, epoch }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actor_journal::Receipt;

    fn r(seq: u64, epoch: u64) -> Receipt {
        Receipt {
            id: u128::from(seq),
            time: seq,
            tenant: "t".into(),
            kind: "k".into(),
            key: b"a".to_vec(),
            epoch,
            seq,
            from: String::new(),
            to: String::new(),
            event: vec![],
            metadata: vec![],
            state: vec![],
        }
    }

    /// A promise whose log has these epochs at seq 1, 2, ...
    fn p(epochs: &[u64]) -> Promise {
        let tail: Vec<_> = epochs
            .iter()
            .enumerate()
            .map(|(i, e)| r(i as u64 + 1, *e))
            .collect();
        Promise {
            last: LogPosition {
                seq: epochs.len() as u64,
                epoch: epochs.last().copied().unwrap_or(0),
            },
            snapshot: None,
            tail,
        }
    }

    #[test]
    fn an_empty_log_needs_no_recovery() {
        let plan = plan(&[p(&[]), p(&[])]);
        assert_eq!(plan.from, None);
        assert_eq!(plan.last.seq, 0);
    }

    #[test]
    fn agreeing_logs_re_propose_the_last_receipt() {
        let plan = plan(&[p(&[1, 1, 1]), p(&[1, 1, 1])]);
        assert_eq!(plan.from, Some(LogPosition { seq: 2, epoch: 1 }));
        assert_eq!(plan.last, LogPosition { seq: 3, epoch: 1 });
    }

    #[test]
    fn the_highest_last_epoch_wins_over_a_longer_log() {
        // A minority tail of epoch 1 (seq 3, 4) against epoch 2's seq 3.
        let plan = plan(&[p(&[1, 1, 1, 1]), p(&[1, 1, 2])]);
        assert_eq!(plan.source, 1);
        assert_eq!(plan.last, LogPosition { seq: 3, epoch: 2 });
        assert_eq!(plan.from, Some(LogPosition { seq: 2, epoch: 1 }));
    }

    #[test]
    fn a_shorter_replica_pulls_the_start_back() {
        let plan = plan(&[p(&[1, 1, 1, 1, 1]), p(&[1])]);
        assert_eq!(plan.source, 0);
        assert_eq!(plan.from, Some(LogPosition { seq: 1, epoch: 1 }));
    }

    #[test]
    fn beyond_the_tails_it_starts_from_the_beginning() {
        let mut a = p(&[1; 10]);
        a.tail.drain(..7); // only 8..=10 carried
        let mut b = p(&[1, 1, 1, 1, 2]);
        b.last.epoch = 2;
        b.tail.drain(..4); // only 5 carried
        let plan = plan(&[a, b]);
        assert_eq!(plan.source, 1);
        // Nothing confirms agreement below seq 5: re-propose the whole log.
        assert_eq!(plan.from, Some(LogPosition { seq: 0, epoch: 0 }));
    }
}
