//! What nodes exchange: reachability reports (pulled as heartbeats, so the answer is known to
//! come from the node asked), pokes, and the leave announcement. postcard, through
//! actor-dist's rpc frames, which travel in the control lane: user backpressure never
//! delays or refuses them.

use super::view::{Health, MemberInfo};
use serde::{Deserialize, Serialize};

/// The rpc a node serves for its report (a heartbeat: `Pull` → `Option<Report>`).
pub(crate) const PULL_FN: &str = "actor_cluster.membership.pull";
/// The rpc (cast) that asks a node to pull from the sender now: its report changed.
pub(crate) const POKE_FN: &str = "actor_cluster.membership.poke";
/// The rpc a leaving node calls on each peer (`Leave` → `bool`).
pub(crate) const LEAVE_FN: &str = "actor_cluster.membership.leave";
/// The rpc (cast) a leaving node sends last: close the connection with reason `shutdown`.
pub(crate) const BYE_FN: &str = "actor_cluster.membership.bye";

/// The rpc an operator's node calls on each peer to down a node (`DownNotice` → `bool`).
pub(crate) const DOWN_FN: &str = "actor_cluster.membership.down";

/// "`name` (incarnation `creation`) is down, by `by`'s operator."
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DownNotice {
    pub name: String,
    pub creation: u32,
    pub by: String,
}

/// Longest name, version or role accepted in a report.
pub(crate) const MAX_TEXT: usize = 255;
/// Most roles per member accepted.
pub(crate) const MAX_ROLES: usize = 32;

/// A heartbeat: "send me your report unless it is still `have`".
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Pull {
    pub from: String,
    pub have: Option<u64>,
}

/// "I am leaving" (`Leave`) or "close our connection now" (`Bye`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Leave {
    pub name: String,
    pub creation: u32,
}

/// One member as the reporting node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Who.
    pub info: MemberInfo,
    /// Up (counted) in the reporter's view, or joining.
    pub up: bool,
    /// How the reporter's heartbeats to it fare.
    pub health: Health,
}

/// A node's reachability report: who it knows and how each looks from there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The reporting node.
    pub from: MemberInfo,
    /// Bumped whenever the content changes.
    pub seq: u64,
    /// The reporter announced its leave.
    pub leaving: bool,
    /// Every member the reporter knows but itself.
    pub members: Vec<Line>,
    /// Incarnations that left or were removed.
    pub tombstones: Vec<(String, u32)>,
}

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadReport {
    /// It claims to come from another node than the one asked.
    #[error("report from {claimed} received from {peer}")]
    WrongSender {
        /// The node asked.
        peer: String,
        /// The name in the report.
        claimed: String,
    },
    /// Too many members or tombstones.
    #[error("report lists {0} entries, over the bound")]
    TooLarge(usize),
    /// A name, version or role is empty or too long, or there are too many roles.
    #[error("malformed entry {0:?}")]
    Malformed(String),
    /// A member is listed twice.
    #[error("member {0} listed twice")]
    Duplicate(String),
}

fn check_info(i: &MemberInfo) -> Result<(), BadReport> {
    let bad_text = |s: &str| s.len() > MAX_TEXT;
    if i.name.is_empty()
        || bad_text(&i.name)
        || bad_text(&i.app_version)
        || i.roles.len() > MAX_ROLES
        || i.roles.iter().any(|r| bad_text(r))
    {
        let mut n = i.name.clone();
        n.truncate(MAX_TEXT);
        return Err(BadReport::Malformed(n));
    }
    Ok(())
}

impl Report {
    /// Checks a report received from `peer` against the bounds; the report must be the
    /// peer's own.
    pub fn validate(
        &self,
        peer: &str,
        max_members: usize,
        max_tombstones: usize,
    ) -> Result<(), BadReport> {
        check_info(&self.from)?;
        if self.from.name != peer {
            return Err(BadReport::WrongSender {
                peer: peer.to_string(),
                claimed: self.from.name.clone(),
            });
        }
        if self.members.len() > max_members {
            return Err(BadReport::TooLarge(self.members.len()));
        }
        if self.tombstones.len() > max_tombstones {
            return Err(BadReport::TooLarge(self.tombstones.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for l in &self.members {
            check_info(&l.info)?;
            if !seen.insert(l.info.name.as_str()) || l.info.name == self.from.name {
                return Err(BadReport::Duplicate(l.info.name.clone()));
            }
        }
        for (n, _) in &self.tombstones {
            if n.is_empty() || n.len() > MAX_TEXT {
                return Err(BadReport::Malformed(String::new()));
            }
        }
        Ok(())
    }

    /// The reporter's line about `name`.
    pub fn line(&self, name: &str) -> Option<&Line> {
        self.members.iter().find(|l| l.info.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(name: &str) -> MemberInfo {
        MemberInfo {
            name: name.into(),
            creation: 1,
            started: 5,
            app_version: "1".into(),
            roles: vec!["r".into()],
        }
    }

    fn report() -> Report {
        Report {
            from: info("a@h"),
            seq: 3,
            leaving: false,
            members: vec![Line {
                info: info("b@h"),
                up: true,
                health: Health::Degraded,
            }],
            tombstones: vec![("c@h".into(), 2)],
        }
    }

    #[test]
    fn a_report_round_trips_and_validates() {
        let r = report();
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: Report = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.validate("a@h", 10, 10), Ok(()));
    }

    #[test]
    fn a_report_for_another_node_or_over_the_bounds_is_refused() {
        let r = report();
        assert!(matches!(
            r.validate("x@h", 10, 10),
            Err(BadReport::WrongSender { .. })
        ));
        assert_eq!(r.validate("a@h", 0, 10), Err(BadReport::TooLarge(1)));
        let mut dup = report();
        dup.members.push(dup.members[0].clone());
        assert!(matches!(
            dup.validate("a@h", 10, 10),
            Err(BadReport::Duplicate(_))
        ));
        let mut long = report();
        long.members[0].info.roles = vec!["x".repeat(MAX_TEXT + 1)];
        assert!(matches!(
            long.validate("a@h", 10, 10),
            Err(BadReport::Malformed(_))
        ));
        let mut me_too = report();
        me_too.members[0].info.name = "a@h".into();
        assert!(me_too.validate("a@h", 10, 10).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The decoders are total: arbitrary bytes decode or fail, never panic, and what
        /// decodes validates or is refused with an error.
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(r) = postcard::from_bytes::<Report>(&bytes) {
                let _ = r.validate("a@h", 16, 16);
            }
            let _ = postcard::from_bytes::<Option<Report>>(&bytes);
            let _ = postcard::from_bytes::<Pull>(&bytes);
            let _ = postcard::from_bytes::<Leave>(&bytes);
            let _ = postcard::from_bytes::<DownNotice>(&bytes);
        }

        /// Mutating a valid report's bytes never panics the decoder or the checks.
        #[test]
        fn mutated_reports_never_panic(pos in 0usize..64, val in any::<u8>()) {
            let mut bytes = postcard::to_allocvec(&report()).unwrap();
            let i = pos % bytes.len();
            bytes[i] = val;
            if let Ok(r) = postcard::from_bytes::<Report>(&bytes) {
                let _ = r.validate("a@h", 16, 16);
            }
        }
    }
}
