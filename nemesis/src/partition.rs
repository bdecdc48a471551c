//! Partitions as plain data: which directed node pairs drop their packets, plus builders for each shape.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// A network partition: every `(from, to)` pair in `drops` has the packets from `from` to `to` dropped.
///
/// On the wire this is a blackhole route for `to`'s address inside `from`'s namespace. What a one-way
/// drop means for TCP: `from` cannot send anything to `to` (its connects fail at once, locally, with
/// EINVAL), and `to`'s connects to `from` reach `from` but the SYN-ACK is dropped, so they time out. A
/// one-way drop therefore breaks TCP in both directions; only datagrams from `to` to `from` still pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Directed pairs `(from, to)` whose packets are dropped.
    pub drops: BTreeSet<(String, String)>,
}

impl Partition {
    /// `node` can neither send to nor receive from any other node in `all`.
    pub fn isolate(node: &str, all: &[String]) -> Self {
        let others: Vec<String> = all.iter().filter(|n| *n != node).cloned().collect();
        Self::halves(&[node.to_string()], &others)
    }

    /// No traffic between any node of `a` and any node of `b`, in either direction.
    pub fn halves(a: &[String], b: &[String]) -> Self {
        let mut drops = BTreeSet::new();
        for x in a {
            for y in b.iter().filter(|y| *y != x) {
                drops.insert((x.clone(), y.clone()));
                drops.insert((y.clone(), x.clone()));
            }
        }
        Partition { drops }
    }

    /// Nodes in a ring, in the given order: each node reaches only its two neighbours.
    ///
    /// With three nodes or fewer everyone is a neighbour, so the partition is empty.
    pub fn ring(nodes: &[String]) -> Self {
        let n = nodes.len();
        let mut drops = BTreeSet::new();
        for i in 0..n {
            for j in 0..n {
                let d = i.abs_diff(j);
                let neighbours = d <= 1 || d == n - 1;
                if !neighbours {
                    drops.insert((nodes[i].clone(), nodes[j].clone()));
                }
            }
        }
        Partition { drops }
    }

    /// Packets from `from` to `to` are dropped; the other direction is untouched.
    pub fn one_way(from: &str, to: &str) -> Self {
        Partition {
            drops: BTreeSet::from([(from.to_string(), to.to_string())]),
        }
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.drops.is_empty()
    }

    /// The nodes named in any drop.
    pub fn nodes(&self) -> BTreeSet<&str> {
        self.drops
            .iter()
            .flat_map(|(a, b)| [a.as_str(), b.as_str()])
            .collect()
    }

    /// A short human description.
    ///
    /// Clean splits (groups that talk freely inside and not at all across) print as groups, smallest
    /// first: `"n1 | n2 n3"`. Anything else (rings, one-way drops) lists the cut directed links:
    /// `"n1 -x-> n3, n3 -x-> n1"`. An empty partition prints `"none"`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "none".to_string();
        }
        match self.groups() {
            Some(groups) => groups
                .iter()
                .map(|g| g.join(" "))
                .collect::<Vec<_>>()
                .join(" | "),
            None => self
                .drops
                .iter()
                .map(|(a, b)| format!("{a} -x-> {b}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// If the drops are exactly "everything across groups", the groups (sorted by size, then name).
    fn groups(&self) -> Option<Vec<Vec<&str>>> {
        let nodes = self.nodes();
        let dropped = |a: &str, b: &str| self.drops.contains(&(a.to_string(), b.to_string()));
        // Connected components of the "not dropped either way" relation.
        let mut group_of: BTreeMap<&str, usize> = BTreeMap::new();
        let mut groups: Vec<Vec<&str>> = Vec::new();
        for &n in &nodes {
            let found = groups
                .iter()
                .position(|g| g.iter().all(|&m| !dropped(n, m) && !dropped(m, n)));
            let idx = found.unwrap_or_else(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[idx].push(n);
            group_of.insert(n, idx);
        }
        // Every cross-group pair must be dropped both ways for this to be a clean split.
        for &a in &nodes {
            for &b in &nodes {
                if group_of[a] != group_of[b] && !dropped(a, b) {
                    return None;
                }
            }
        }
        groups.sort_by(|x, y| x.len().cmp(&y.len()).then_with(|| x.cmp(y)));
        Some(groups)
    }
}

/// What a partition cuts (`--partition-scope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionScope {
    /// Node-to-node traffic only: clients still reach every node (the seed's "partitioned from the
    /// cluster, not from the client").
    #[default]
    Peers,
    /// Also the client sessions homed on the other side ([`crate::Network::cut_clients`]).
    All,
}

impl std::str::FromStr for PartitionScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "peers" => Ok(PartitionScope::Peers),
            "all" => Ok(PartitionScope::All),
            _ => Err(format!(
                "unknown partition scope '{s}'; expected peers or all"
            )),
        }
    }
}

impl std::fmt::Display for PartitionScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PartitionScope::Peers => "peers",
            PartitionScope::All => "all",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn can(p: &Partition, a: &str, b: &str) -> bool {
        !p.drops.contains(&(a.to_string(), b.to_string()))
    }

    #[test]
    fn isolate_cuts_one_node_both_ways() {
        let all = names(3);
        let p = Partition::isolate("n1", &all);
        assert_eq!(p.drops.len(), 4);
        assert!(!can(&p, "n1", "n2") && !can(&p, "n2", "n1"));
        assert!(!can(&p, "n1", "n3") && !can(&p, "n3", "n1"));
        assert!(can(&p, "n2", "n3") && can(&p, "n3", "n2"));
        assert_eq!(p.describe(), "n1 | n2 n3");
    }

    #[test]
    fn halves_cut_every_cross_pair() {
        let all = names(5);
        let p = Partition::halves(&all[..2], &all[2..]);
        assert_eq!(p.drops.len(), 2 * 3 * 2);
        assert_eq!(p.describe(), "n1 n2 | n3 n4 n5");
    }

    #[test]
    fn ring_keeps_only_neighbours() {
        let all = names(5);
        let p = Partition::ring(&all);
        for (i, a) in all.iter().enumerate() {
            let reachable: Vec<&String> = all.iter().filter(|b| *b != a && can(&p, a, b)).collect();
            assert_eq!(reachable.len(), 2, "{a} reaches {reachable:?}");
            assert!(reachable.contains(&&all[(i + 1) % 5]));
            assert!(reachable.contains(&&all[(i + 4) % 5]));
        }
        assert!(p.describe().contains("n1 -x-> n3"), "{}", p.describe());
        assert!(Partition::ring(&names(3)).is_empty());
    }

    #[test]
    fn one_way_is_directed() {
        let p = Partition::one_way("n1", "n2");
        assert!(!can(&p, "n1", "n2"));
        assert!(can(&p, "n2", "n1"));
        assert_eq!(p.describe(), "n1 -x-> n2");
        assert_eq!(Partition::default().describe(), "none");
    }
}
