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
