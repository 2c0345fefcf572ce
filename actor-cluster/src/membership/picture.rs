//! The partition picture: from every fresh reachability report, the graph of who reaches
//! whom, its connected components, the nodes that are only indirectly connected, and the
//! nodes to drop so that this node's component becomes a clean, fully connected side.
//!
//! Everything here is a pure function of the reports, so every node holding the same
//! reports computes the same picture.
//!
//! An edge `x—y` is up when at least one of `x` and `y` says something about the other (it
//! reaches it, or doubts: a degraded peer) and neither says it misses the other. A node speaks only about its own links: a report cannot remove an edge
//! between two other nodes, so a lying peer can at most cut itself off.
//!
//! Dropping (overlapping partitions): while the component is not a clique, the node with the
//! most missing links inside it is dropped; ties go first to the node that made more one-sided
//! accusations (it says it misses a node that says it reaches it: a liar, or a node with a
//! broken receive path, is dropped before the node it accuses), then to the youngest (largest
//! start stamp), then to the greatest name. The result is a clique every node of the component computes
//! alike; the dropped nodes are disconnected from it and end up on their own.

use std::collections::BTreeSet;

/// What one node says about another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Says {
    /// Reaches it.
    Reach,
    /// Heartbeats were missed, not enough to call it unreachable.
    Doubt,
    /// Does not reach it.
    Miss,
}

/// The partition picture as this node computes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionPicture {
    /// The connected components of the up members (each sorted; ordered by first name).
    pub components: Vec<Vec<String>>,
    /// Nodes of this node's component that do not reach every other node of it directly.
    pub indirectly_connected: Vec<String>,
    /// Nodes of this node's component to drop so that the rest is fully connected.
    pub dropped: Vec<String>,
    /// This node's side: its component without the dropped nodes, or this node alone when it
    /// is dropped itself.
    pub side: Vec<String>,
}

impl PartitionPicture {
    /// Whether this node is among the dropped.
    pub fn is_dropped(&self, me: &str) -> bool {
        self.dropped.iter().any(|d| d == me)
    }

    /// Whether every up member is on one fully connected side.
    pub fn is_whole(&self) -> bool {
        self.components.len() <= 1 && self.dropped.is_empty()
    }
}

/// The reachability graph over the up members.
pub(crate) struct Graph {
    /// Names, sorted.
    names: Vec<String>,
    /// Start stamps, by index.
    started: Vec<u64>,
    /// `up[i][j]`: the edge is up.
    up: Vec<Vec<bool>>,
    /// `accuses[i][j]`: `i` says it misses `j`, and `j` says it reaches `i`.
    accuses: Vec<Vec<bool>>,
}

impl Graph {
    /// Builds the graph over `nodes` (name, start stamp): `says(x, y)` is what `x` says about
    /// `y` (`None`: nothing, no fresh report).
    pub(crate) fn build(
        nodes: &[(String, u64)],
        mut says: impl FnMut(&str, &str) -> Option<Says>,
    ) -> Graph {
        let mut nodes = nodes.to_vec();
        nodes.sort();
        nodes.dedup_by(|a, b| a.0 == b.0);
        let n = nodes.len();
        let mut up = vec![vec![false; n]; n];
        let mut accuses = vec![vec![false; n]; n];
        for i in 0..n {
            for j in i + 1..n {
                let a = says(&nodes[i].0, &nodes[j].0);
                let b = says(&nodes[j].0, &nodes[i].0);
                let e =
                    (a.is_some() || b.is_some()) && a != Some(Says::Miss) && b != Some(Says::Miss);
                up[i][j] = e;
                up[j][i] = e;
                accuses[i][j] = a == Some(Says::Miss) && b == Some(Says::Reach);
                accuses[j][i] = b == Some(Says::Miss) && a == Some(Says::Reach);
            }
        }
        Graph {
            names: nodes.iter().map(|x| x.0.clone()).collect(),
            started: nodes.iter().map(|x| x.1).collect(),
            up,
            accuses,
        }
    }

    fn components(&self) -> Vec<Vec<usize>> {
        let n = self.names.len();
        let mut seen = vec![false; n];
        let mut out = Vec::new();
        for s in 0..n {
            if seen[s] {
                continue;
            }
            let mut comp = vec![s];
            seen[s] = true;
            let mut k = 0;
            while k < comp.len() {
                let x = comp[k];
                k += 1;
                for (y, s) in seen.iter_mut().enumerate() {
                    if !*s && self.up[x][y] {
                        *s = true;
                        comp.push(y);
                    }
                }
            }
            comp.sort();
            out.push(comp);
        }
        out
    }

    /// The picture as seen by `me` (which must be one of the nodes). `accusations`: break
    /// ties by one-sided accusations first (the shared picture decisions are taken on; a
    /// node's own, instant reading leaves them out, as a stale report of a node that just
    /// reconnected reads as one).
    pub(crate) fn picture(&self, me: &str, accusations: bool) -> PartitionPicture {
        let comps = self.components();
        let names = |c: &[usize]| c.iter().map(|&i| self.names[i].clone()).collect::<Vec<_>>();
        let components: Vec<Vec<String>> = comps.iter().map(|c| names(c)).collect();
        let Some(mine) = comps
            .iter()
            .find(|c| c.iter().any(|&i| self.names[i] == me))
        else {
            return PartitionPicture {
                components,
                side: vec![me.to_string()],
                ..Default::default()
            };
        };
        let indirect: Vec<usize> = mine
            .iter()
            .copied()
            .filter(|&x| mine.iter().any(|&y| y != x && !self.up[x][y]))
            .collect();
        let mut rest: BTreeSet<usize> = mine.iter().copied().collect();
        let mut dropped = Vec::new();
        loop {
            let missing = |x: usize| rest.iter().filter(|&&y| y != x && !self.up[x][y]).count();
            let accused = |x: usize| {
                if accusations {
                    rest.iter().filter(|&&y| self.accuses[x][y]).count()
                } else {
                    0
                }
            };
            let worst = rest
                .iter()
                .copied()
                .map(|x| (missing(x), accused(x), self.started[x], &self.names[x], x))
                .max();
            match worst {
                Some((m, _, _, _, x)) if m > 0 => {
                    rest.remove(&x);
                    dropped.push(x);
                }
                _ => break,
            }
        }
        dropped.sort();
        let me_dropped = dropped.iter().any(|&i| self.names[i] == me);
        let side = if me_dropped {
            vec![me.to_string()]
        } else {
            rest.iter().map(|&i| self.names[i].clone()).collect()
        };
        PartitionPicture {
            components,
            indirectly_connected: names(&indirect),
            dropped: names(&dropped),
            side,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn nodes(n: usize) -> Vec<(String, u64)> {
        (1..=n).map(|i| (format!("n{i}"), i as u64)).collect()
    }

    /// A graph from a set of cut links (both endpoints say they miss each other).
    fn graph(n: usize, cut: &[(usize, usize)]) -> Graph {
        let cut: HashSet<(String, String)> = cut
            .iter()
            .flat_map(|&(a, b)| {
                let (a, b) = (format!("n{a}"), format!("n{b}"));
                [(a.clone(), b.clone()), (b, a)]
            })
            .collect();
        Graph::build(&nodes(n), |x, y| {
            Some(if cut.contains(&(x.into(), y.into())) {
                Says::Miss
            } else {
                Says::Reach
            })
        })
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_clean_split_gives_two_components_and_no_drops() {
        let cuts: Vec<_> = [1, 2, 3].iter().flat_map(|&a| [(a, 4), (a, 5)]).collect();
        let g = graph(5, &cuts);
        let p = g.picture("n1", true);
        assert_eq!(p.components, vec![v(&["n1", "n2", "n3"]), v(&["n4", "n5"])]);
        assert_eq!(p.side, v(&["n1", "n2", "n3"]));
        assert!(p.dropped.is_empty() && p.indirectly_connected.is_empty());
        assert_eq!(g.picture("n5", true).side, v(&["n4", "n5"]));
    }

    #[test]
    fn one_lost_link_drops_the_younger_end_everywhere() {
        let g = graph(5, &[(1, 4)]);
        for me in ["n1", "n2", "n3", "n4", "n5"] {
            let p = g.picture(me, true);
            assert_eq!(p.components.len(), 1);
            assert_eq!(p.indirectly_connected, v(&["n1", "n4"]));
            assert_eq!(p.dropped, v(&["n4"]), "{me}");
        }
        assert_eq!(g.picture("n2", true).side, v(&["n1", "n2", "n3", "n5"]));
        assert_eq!(g.picture("n4", true).side, v(&["n4"]));
    }

    #[test]
    fn a_bridge_node_keeps_the_larger_clique() {
        // n3 reaches everyone; {n1, n2} and {n4, n5} do not reach each other.
        let g = graph(5, &[(1, 4), (1, 5), (2, 4), (2, 5)]);
        let p = g.picture("n3", true);
        assert_eq!(p.dropped, v(&["n4", "n5"]));
        assert_eq!(p.side, v(&["n1", "n2", "n3"]));
    }

    #[test]
    fn a_node_speaks_only_for_its_own_links() {
        // n5 claims to reach nobody; only its own links are gone.
        let g = Graph::build(&nodes(3), |x, _| {
            Some(if x == "n3" { Says::Miss } else { Says::Reach })
        });
        let p = g.picture("n1", true);
        assert_eq!(p.side, v(&["n1", "n2"]));
        assert_eq!(p.components, vec![v(&["n1", "n2"]), v(&["n3"])]);
    }

    #[test]
    fn a_one_sided_accusation_drops_the_accuser() {
        // n1 (the oldest) claims it misses n4; n4 says it reaches n1.
        let g = Graph::build(&nodes(5), |x, y| {
            Some(if x == "n1" && y == "n4" {
                Says::Miss
            } else {
                Says::Reach
            })
        });
        assert_eq!(g.picture("n2", true).dropped, v(&["n1"]));
        assert_eq!(g.picture("n4", true).side, v(&["n2", "n3", "n4", "n5"]));
    }

    proptest! {
        /// Whatever links are cut, every node of a component computes the same drops, and the
        /// side left is fully connected.
        #[test]
        fn every_node_of_a_component_agrees_and_the_side_is_a_clique(
            n in 2usize..8,
            cuts in proptest::collection::vec((1usize..8, 1usize..8), 0..12),
        ) {
            let cuts: Vec<_> = cuts.into_iter().filter(|&(a, b)| a != b && a <= n && b <= n).collect();
            let g = graph(n, &cuts);
            let cut: HashSet<(usize, usize)> = cuts.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
            for comp in g.picture("n1", true).components {
                let first = g.picture(&comp[0], true);
                for me in &comp {
                    let p = g.picture(me, true);
                    prop_assert_eq!(&p.dropped, &first.dropped);
                    if !p.is_dropped(me) {
                        let idx = |s: &str| s[1..].parse::<usize>().unwrap();
                        for a in &p.side {
                            for b in &p.side {
                                prop_assert!(a == b || !cut.contains(&(idx(a), idx(b))));
                            }
                        }
                    }
                }
            }
        }
    }
}
