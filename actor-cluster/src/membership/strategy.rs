//! Evaluating a split-brain strategy for one side.

use super::config::Strategy;
use super::view::MemberInfo;
use std::collections::BTreeSet;

/// What a strategy says about a side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The side keeps working.
    Keep,
    /// The side is down.
    Down,
    /// The side keeps working only if it holds the lease, asked for as `owner`; `majority`:
    /// it may ask at once (otherwise after the minority delay).
    Lease { owner: String, majority: bool },
}

fn with_role<'a>(members: &'a [MemberInfo], role: Option<&str>) -> Vec<&'a MemberInfo> {
    let r: Vec<_> = members.iter().filter(|m| m.has_role(role)).collect();
    if r.is_empty() {
        members.iter().collect()
    } else {
        r
    }
}

/// Keep-majority over `members` (sorted by name): more than half, or exactly half holding the
/// lowest name.
fn majority(side: &BTreeSet<String>, members: &[MemberInfo], role: Option<&str>) -> bool {
    let m = with_role(members, role);
    let k = m.iter().filter(|x| side.contains(&x.name)).count();
    let lowest = m.iter().map(|x| &x.name).min();
    2 * k > m.len() || (2 * k == m.len() && k > 0 && lowest.is_some_and(|l| side.contains(l)))
}

/// Evaluates `strategy` for `side` against the up `members`.
pub(crate) fn evaluate(
    strategy: &Strategy,
    side: &BTreeSet<String>,
    members: &[MemberInfo],
) -> Outcome {
    if members.is_empty() {
        return Outcome::Down;
    }
    let whole = members.iter().all(|m| side.contains(&m.name));
    let keep = |b: bool| if b { Outcome::Keep } else { Outcome::Down };
    match strategy {
        Strategy::KeepMajority { role } => keep(majority(side, members, role.as_deref())),
        Strategy::KeepOldest { down_if_alone } => {
            let oldest = members
                .iter()
                .min_by(|a, b| a.age_cmp(b))
                .expect("not empty");
            let with_oldest = side.contains(&oldest.name);
            let k = members.iter().filter(|m| side.contains(&m.name)).count();
            if *down_if_alone && members.len() > 2 {
                if with_oldest {
                    keep(k > 1)
                } else {
                    keep(k == members.len() - 1)
                }
            } else {
                keep(with_oldest)
            }
        }
        Strategy::StaticQuorum { size, role } => {
            let m = with_role(members, role.as_deref());
            keep(m.iter().filter(|x| side.contains(&x.name)).count() >= *size)
        }
        Strategy::Master(master) => keep(side.contains(master)),
        Strategy::DownAll | Strategy::Manual => keep(whole),
        Strategy::LeaseMajority { .. } => {
            if whole {
                Outcome::Keep
            } else {
                let owner = members
                    .iter()
                    .map(|m| &m.name)
                    .filter(|n| side.contains(*n))
                    .min();
                match owner {
                    Some(o) => Outcome::Lease {
                        owner: o.clone(),
                        majority: majority(side, members, None),
                    },
                    None => Outcome::Down,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<MemberInfo> {
        (1..=n)
            .map(|i| MemberInfo {
                name: format!("n{i}"),
                creation: 1,
                // n1 is the youngest, n{n} the oldest.
                started: (100 - i) as u64,
                app_version: String::new(),
                roles: if i <= 2 { vec!["db".into()] } else { vec![] },
            })
            .collect()
    }

    fn side(xs: &[usize]) -> BTreeSet<String> {
        xs.iter().map(|i| format!("n{i}")).collect()
    }

    /// Every pair of complementary sides: at most one keeps, whatever the strategy.
    #[test]
    fn two_complementary_sides_never_both_keep() {
        let strategies = [
            Strategy::KeepMajority { role: None },
            Strategy::KeepMajority {
                role: Some("db".into()),
            },
            Strategy::KeepOldest {
                down_if_alone: false,
            },
            Strategy::KeepOldest {
                down_if_alone: true,
            },
            Strategy::StaticQuorum {
                size: 3,
                role: None,
            },
            Strategy::Master("n2".into()),
            Strategy::DownAll,
            Strategy::Manual,
        ];
        for n in 1..=6usize {
            let ms = members(n);
            for mask in 0u32..(1 << n) {
                let a: Vec<usize> = (1..=n).filter(|i| mask & (1 << (i - 1)) != 0).collect();
                let b: Vec<usize> = (1..=n).filter(|i| mask & (1 << (i - 1)) == 0).collect();
                for s in &strategies {
                    if matches!(s, Strategy::StaticQuorum { .. }) && n > 5 {
                        continue;
                    }
                    let ka = evaluate(s, &side(&a), &ms) == Outcome::Keep;
                    let kb = evaluate(s, &side(&b), &ms) == Outcome::Keep;
                    assert!(!(ka && kb), "{s:?}: {a:?} and {b:?} both keep");
                }
            }
        }
    }

    #[test]
    fn keep_majority_breaks_ties_by_the_lowest_name() {
        let ms = members(4);
        let s = Strategy::KeepMajority { role: None };
        assert_eq!(evaluate(&s, &side(&[1, 4]), &ms), Outcome::Keep);
        assert_eq!(evaluate(&s, &side(&[2, 3]), &ms), Outcome::Down);
        assert_eq!(evaluate(&s, &side(&[2, 3, 4]), &ms), Outcome::Keep);
    }

    #[test]
    fn keep_oldest_and_down_if_alone() {
        let ms = members(5); // n5 is the oldest
        let s = Strategy::KeepOldest {
            down_if_alone: false,
        };
        assert_eq!(evaluate(&s, &side(&[5]), &ms), Outcome::Keep);
        let alone = Strategy::KeepOldest {
            down_if_alone: true,
        };
        assert_eq!(evaluate(&alone, &side(&[5]), &ms), Outcome::Down);
        assert_eq!(evaluate(&alone, &side(&[1, 2, 3, 4]), &ms), Outcome::Keep);
        assert_eq!(evaluate(&alone, &side(&[4, 5]), &ms), Outcome::Keep);
        assert_eq!(evaluate(&alone, &side(&[1, 2, 3]), &ms), Outcome::Down);
    }

    #[test]
    fn static_quorum_master_and_down_all() {
        let ms = members(5);
        let q = Strategy::StaticQuorum {
            size: 3,
            role: None,
        };
        assert_eq!(evaluate(&q, &side(&[1, 2, 3]), &ms), Outcome::Keep);
        assert_eq!(evaluate(&q, &side(&[4, 5]), &ms), Outcome::Down);
        let m = Strategy::Master("n4".into());
        assert_eq!(evaluate(&m, &side(&[4, 5]), &ms), Outcome::Keep);
        assert_eq!(
            evaluate(&Strategy::DownAll, &side(&[1, 2, 3, 4]), &ms),
            Outcome::Down
        );
        assert_eq!(
            evaluate(&Strategy::DownAll, &side(&[1, 2, 3, 4, 5]), &ms),
            Outcome::Keep
        );
    }

    #[test]
    fn lease_majority_asks_for_the_lease_only_when_split() {
        let ms = members(5);
        let s = Strategy::LeaseMajority {
            lease: std::sync::Arc::new(super::super::lease::TestLease::new()),
            minority_delay: std::time::Duration::from_millis(10),
        };
        assert_eq!(evaluate(&s, &side(&[1, 2, 3, 4, 5]), &ms), Outcome::Keep);
        assert_eq!(
            evaluate(&s, &side(&[3, 4, 5]), &ms),
            Outcome::Lease {
                owner: "n3".into(),
                majority: true
            }
        );
        assert_eq!(
            evaluate(&s, &side(&[1, 2]), &ms),
            Outcome::Lease {
                owner: "n1".into(),
                majority: false
            }
        );
    }
}
