//! The partition shapes, drawn around the live leader.

use super::{FOLLOWER, HALVES, LEADER, ONE_WAY, RANDOM, RING};
use crate::fault_kind::FaultKind;
use crate::Partition;
use rand::seq::SliceRandom;
use rand::Rng;

/// Builds the partition for a partition fault, given the live node names and the current leader.
///
/// Returns the partition and the nodes it targets (the isolated node, the minority side, or for a ring
/// the ring order). Returns `None` when `kind` is not a partition fault or no meaningful partition exists:
/// fewer than two nodes, `partition-leader` with no known leader, or `partition-ring` with three nodes or
/// fewer (everyone is everyone's neighbour).
///
/// - `partition-leader`: the leader is isolated from the rest.
/// - `partition-follower`: one random non-leader node is isolated.
/// - `partition-random`: one random node is isolated, whoever leads (no leader needed).
/// - `partition-halves`: a minority (n/2 rounded down) containing the leader, against the rest.
/// - `partition-ring`: nodes in a random ring order, each reaching only its two neighbours.
pub fn partition_for(
    kind: FaultKind,
    nodes: &[String],
    leader: Option<&str>,
    rng: &mut impl Rng,
) -> Option<(Partition, Vec<String>)> {
    if nodes.len() < 2 {
        return None;
    }
    let leader = leader.filter(|l| nodes.iter().any(|n| n == l));
    match kind {
        LEADER => {
            let l = leader?;
            Some((Partition::isolate(l, nodes), vec![l.to_string()]))
        }
        FOLLOWER => {
            let followers: Vec<&String> = nodes
                .iter()
                .filter(|n| Some(n.as_str()) != leader)
                .collect();
            let f = followers.choose(rng)?;
            Some((Partition::isolate(f, nodes), vec![f.to_string()]))
        }
        RANDOM => {
            let n = nodes.choose(rng)?;
            Some((Partition::isolate(n, nodes), vec![n.to_string()]))
        }
        HALVES => {
            let mut order: Vec<String> = nodes.to_vec();
            order.shuffle(rng);
            if let Some(l) = leader {
                // Put the leader first so it lands in the minority.
                let pos = order.iter().position(|n| n == l)?;
                order.swap(0, pos);
            }
            let (minority, majority) = order.split_at(nodes.len() / 2);
            let mut targets = minority.to_vec();
            targets.sort();
            Some((Partition::halves(minority, majority), targets))
        }
        RING => {
            if nodes.len() <= 3 {
                return None;
            }
            let mut order: Vec<String> = nodes.to_vec();
            order.shuffle(rng);
            Some((Partition::ring(&order), order))
        }
        ONE_WAY => {
            // The leader: the node whose one-way cut matters most. Which way is drawn from the seed.
            let l = leader?;
            let others: Vec<&String> = nodes.iter().filter(|n| *n != l).collect();
            let inbound = rng.gen_bool(0.5);
            let drops = others
                .iter()
                .map(|o| {
                    if inbound {
                        (o.to_string(), l.to_string())
                    } else {
                        (l.to_string(), o.to_string())
                    }
                })
                .collect();
            Some((Partition { drops }, vec![l.to_string()]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeSet;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn partition_for_targets_the_right_nodes() {
        let all = names(5);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (p, t) = partition_for(LEADER, &all, Some("n3"), &mut rng).unwrap();
        assert_eq!(t, vec!["n3"]);
        assert_eq!(p, Partition::isolate("n3", &all));
        assert!(partition_for(LEADER, &all, None, &mut rng).is_none());

        for _ in 0..20 {
            let (p, t) =
                partition_for(FOLLOWER, &all, Some("n3"), &mut rng).unwrap();
            assert_eq!(t.len(), 1);
            assert_ne!(t[0], "n3");
            assert_eq!(p, Partition::isolate(&t[0], &all));

            let (p, t) =
                partition_for(HALVES, &all, Some("n4"), &mut rng).unwrap();
            assert_eq!(t.len(), 2);
            assert!(t.contains(&"n4".to_string()));
            let rest: Vec<String> = all.iter().filter(|n| !t.contains(n)).cloned().collect();
            assert_eq!(p, Partition::halves(&t, &rest));

            let (p, order) = partition_for(RING, &all, None, &mut rng).unwrap();
            assert_eq!(p, Partition::ring(&order));
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, all);
        }
        assert!(partition_for(RING, &names(3), None, &mut rng).is_none());
        let mut hit = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let (p, t) = partition_for(RANDOM, &all, None, &mut rng).unwrap();
            assert_eq!(p, Partition::isolate(&t[0], &all));
            hit.insert(t[0].clone());
        }
        assert_eq!(hit.len(), 5, "every node gets isolated sometimes: {hit:?}");
        assert!(partition_for(crate::family::process::KILL_LEADER, &all, Some("n1"), &mut rng).is_none());
        assert!(partition_for(FOLLOWER, &names(1), None, &mut rng).is_none());
        let mut ways = BTreeSet::new();
        for _ in 0..20 {
            let (p, t) =
                partition_for(ONE_WAY, &all, Some("n2"), &mut rng).unwrap();
            assert_eq!(t, vec!["n2"]);
            assert_eq!(p.drops.len(), 4, "one direction to each of the 4 others");
            let out = p.drops.iter().all(|(a, _)| a == "n2");
            let inb = p.drops.iter().all(|(_, b)| b == "n2");
            assert!(out ^ inb, "{p:?}");
            ways.insert(out);
        }
        assert_eq!(ways.len(), 2, "both directions are drawn");
    }

    #[test]
    fn halves_on_three_nodes_isolates_the_leader() {
        let all = names(3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (p, t) = partition_for(HALVES, &all, Some("n2"), &mut rng).unwrap();
        assert_eq!(t, vec!["n2"]);
        assert_eq!(p, Partition::isolate("n2", &all));
    }
}
