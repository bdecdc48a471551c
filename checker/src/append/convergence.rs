//! Convergence: after the final heal and settle time, every node's own local state of each key agrees.

use super::Convergence;
use std::collections::{BTreeMap, BTreeSet};

/// Values of a list shown in a disagreement.
const SHOWN: usize = 6;

fn show(l: &[i64]) -> String {
    if l.len() <= SHOWN {
        let v: Vec<String> = l.iter().map(i64::to_string).collect();
        return format!("[{}]", v.join(" "));
    }
    let v: Vec<String> = l[l.len() - SHOWN..].iter().map(i64::to_string).collect();
    format!("[… {}] ({} values)", v.join(" "), l.len())
}

/// `local_reads`: (node, key, list; `None` = absent, the same as empty). A node that reported some key
/// but not this one counts as having it absent.
pub fn check_convergence(local_reads: &[(String, String, Option<Vec<i64>>)]) -> Convergence {
    let nodes: BTreeSet<&str> = local_reads.iter().map(|(n, _, _)| n.as_str()).collect();
    let mut by_key: BTreeMap<&str, BTreeMap<&str, &[i64]>> = BTreeMap::new();
    for (node, key, list) in local_reads {
        by_key
            .entry(key.as_str())
            .or_default()
            .insert(node.as_str(), list.as_deref().unwrap_or(&[]));
    }
    let mut disagreements = Vec::new();
    for (key, states) in &by_key {
        // Group nodes by the list they hold.
        let mut groups: BTreeMap<&[i64], Vec<&str>> = BTreeMap::new();
        for n in &nodes {
            groups
                .entry(states.get(n).copied().unwrap_or(&[]))
                .or_default()
                .push(n);
        }
        if groups.len() <= 1 {
            continue;
        }
        let mut parts: Vec<(&[i64], Vec<&str>)> = groups.into_iter().collect();
        // The longest state first: the others are described against it.
        parts.sort_by_key(|(l, _)| std::cmp::Reverse(l.len()));
        let (best, best_nodes) = &parts[0];
        let rest: Vec<String> = parts[1..]
            .iter()
            .map(|(l, ns)| {
                let mine: BTreeSet<&i64> = l.iter().collect();
                let theirs: BTreeSet<&i64> = best.iter().collect();
                let missing = theirs.difference(&mine).count();
                let extra = mine.difference(&theirs).count();
                let mut diff = Vec::new();
                if missing > 0 {
                    diff.push(format!("lacks {missing}"));
                }
                if extra > 0 {
                    diff.push(format!("has {extra} the others lack"));
                }
                if diff.is_empty() {
                    diff.push("same values in another order".into());
                }
                format!("{} {} ({})", ns.join(", "), show(l), diff.join(", "))
            })
            .collect();
        disagreements.push(format!(
            "key {key}: {} {} {}, but {}",
            best_nodes.join(", "),
            if best_nodes.len() == 1 { "has" } else { "have" },
            show(best),
            rest.join("; ")
        ));
    }
    Convergence {
        converged: disagreements.is_empty(),
        disagreements,
    }
}

/// Compares the state every node agreed on with what the final reads saw, key by key (`None` = absent,
/// the same as empty; a register's value is a one-element list). A final read must be a prefix of the
/// agreed state (an append still in flight may land after it, nothing may vanish). Returns one sentence
/// per key that disagrees: nodes that agree with each other on less than the cluster answered have not
/// converged (a system that ignores `?local=true` answers every local read with null, for one).
pub fn against_final_reads(
    agreed: &BTreeMap<String, Option<Vec<i64>>>,
    finals: &BTreeMap<String, Vec<i64>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, seen) in finals {
        let held: &[i64] = agreed.get(key).and_then(|l| l.as_deref()).unwrap_or(&[]);
        if held.starts_with(seen) {
            continue;
        }
        let held = if held.is_empty() {
            "nothing (absent)".to_string()
        } else {
            show(held)
        };
        out.push(format!(
            "key {key}: every node's local state holds {held}, but the final reads saw {}",
            show(seen)
        ));
    }
    let all_empty = agreed
        .values()
        .all(|l| l.as_deref().unwrap_or(&[]).is_empty());
    if !out.is_empty() && all_empty {
        out.push(
            "every local read answered null while the final reads saw values: does the system \
             ignore `?local=true` (and read a key named `k?local=true`)?"
                .into(),
        );
    }
    out
}
