//! Under the anomaly's lanes, a row per node: its role and term over the drawn time, from the `/status`
//! samples, so a reader sees at a glance that n2 still followed n1 in term 1 while n3 led term 2.

use crate::axis::BrokenAxis;
use crate::roles::{NodeState, Roles};
use crate::svg::esc;
use std::fmt::Write;

/// Height of one node's row.
pub const ROW: f64 = 20.0;

/// One stretch of constant state: from, to (ns), and the state.
type Span<'a> = (u64, u64, &'a NodeState);

/// A node's states over `t0..t1` (ns): the sample in force at `t0`, then each change.
fn spans(samples: &[(u64, NodeState)], t0: u64, t1: u64) -> Vec<Span<'_>> {
    let first = samples.partition_point(|(t, _)| *t <= t0).saturating_sub(1);
    let mut out: Vec<Span> = Vec::new();
    for (t, s) in samples[first..].iter().take_while(|(t, _)| *t < t1) {
        let from = (*t).max(t0);
        match out.last_mut() {
            Some(last) if last.2 == s => {}
            Some(last) => {
                last.1 = from;
                out.push((from, t1, s));
            }
            None => out.push((from, t1, s)),
        }
    }
    out
}

/// Draws the rows from `top`; returns their total height (0 without samples).
pub fn draw(out: &mut String, roles: &Roles, x: &BrokenAxis, top: f64, label_x: f64) -> f64 {
    let nodes = roles.nodes();
    for (i, node) in nodes.iter().enumerate() {
        let y = top + ROW * i as f64;
        let _ = write!(
            out,
            r#"<text class="lane node-row" x="{label_x}" y="{ty:.1}" text-anchor="end">{n}</text>"#,
            ty = y + ROW / 2.0 + 4.0,
            n = esc(node)
        );
        for s in &x.stretches {
            let (t0, t1) = ((s.t0 * 1e9) as u64, (s.t1 * 1e9) as u64);
            for (a, b, state) in spans(roles.samples(node), t0, t1) {
                let (x0, x1) = (s.map(a as f64 / 1e9), s.map(b as f64 / 1e9));
                let short = state.short();
                let text = if x1 - x0 > 8.0 + 6.0 * short.chars().count() as f64 {
                    format!(
                        r#"<text class="role {r}" x="{tx:.1}" y="{ty:.1}">{l}</text>"#,
                        r = esc(&state.role),
                        tx = x0 + 4.0,
                        ty = y + ROW / 2.0 + 4.0,
                        l = esc(&short)
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    r#"<g class="node-state" data-node="{n}"><rect class="role {r}" x="{x0:.1}" y="{ry:.1}" width="{w:.1}" height="{h}"/>{text}<title>{n}: {words} (sampled at {at:.2} s)</title></g>"#,
                    n = esc(node),
                    r = esc(&state.role),
                    ry = y + 2.0,
                    w = (x1 - x0).max(0.5),
                    h = ROW - 4.0,
                    words = esc(&state.words()),
                    at = a as f64 / 1e9,
                );
            }
        }
    }
    ROW * nodes.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(role: &str, term: u64) -> NodeState {
        NodeState {
            role: role.into(),
            term: Some(term),
            leader: None,
        }
    }

    #[test]
    fn spans_merge_repeats_and_start_with_the_state_in_force() {
        let samples = vec![
            (100, st("follower", 1)),
            (200, st("follower", 1)),
            (300, st("candidate", 2)),
            (400, st("leader", 2)),
            (900, st("leader", 2)),
        ];
        let s = spans(&samples, 250, 800);
        let got: Vec<(u64, u64, String)> = s.iter().map(|(a, b, x)| (*a, *b, x.short())).collect();
        assert_eq!(
            got,
            vec![
                (250, 300, "follower t1".to_string()),
                (300, 400, "candidate t2".to_string()),
                (400, 800, "leader t2".to_string()),
            ]
        );
        assert!(
            spans(&samples, 0, 50).is_empty(),
            "nothing before the first sample"
        );
        assert!(spans(&[], 0, 50).is_empty());
    }
}
