//! A time axis with breaks: ops that happened seconds apart (a write, and the stale read that missed it
//! long after) each get a readable stretch of the axis, with the empty time between them cut out.

use crate::svg::Scale;

/// A gap longer than this share of the whole span (and at least `MIN_GAP_S`) is cut out.
const GAP_SHARE: f64 = 0.25;
const MIN_GAP_S: f64 = 0.05;
/// Pixels between two stretches, where the break mark goes.
pub const BREAK_PX: f64 = 46.0;

/// One stretch of the axis: times `t0..t1` drawn over pixels `x0..x1`.
#[derive(Debug, Clone, Copy)]
pub struct Stretch {
    pub t0: f64,
    pub t1: f64,
    pub x0: f64,
    pub x1: f64,
    scale: Scale,
}

impl Stretch {
    pub fn map(&self, t: f64) -> f64 {
        self.scale.map(t)
    }

    /// About one tick per 140 px, with labels precise enough to tell the ticks apart.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        let n = ((self.x1 - self.x0) / 140.0).round().max(2.0) as usize;
        let ticks = self.scale.ticks(n);
        let step = ticks.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
        let decimals = (-step.log10()).ceil().clamp(1.0, 6.0) as usize;
        ticks
            .into_iter()
            .map(|t| (t, format!("{t:.decimals$}")))
            .collect()
    }
}

/// The stretches, left to right.
#[derive(Debug, Clone)]
pub struct BrokenAxis {
    pub stretches: Vec<Stretch>,
}

impl BrokenAxis {
    /// An axis over `spans` (seconds; each `(start, end)`), drawn between pixels `left` and `right`.
    pub fn new(spans: &[(f64, f64)], left: f64, right: f64) -> BrokenAxis {
        let mut spans: Vec<(f64, f64)> = spans
            .iter()
            .map(|&(a, b)| (a, b.max(a)))
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .collect();
        if spans.is_empty() {
            spans.push((0.0, 1.0));
        }
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        let lo = spans[0].0;
        let hi = spans.iter().map(|s| s.1).fold(lo, f64::max);
        let cut = (GAP_SHARE * (hi - lo)).max(MIN_GAP_S);
        let mut groups: Vec<(f64, f64)> = Vec::new();
        for (a, b) in spans {
            match groups.last_mut() {
                Some(g) if a - g.1 <= cut => g.1 = g.1.max(b),
                _ => groups.push((a, b)),
            }
        }
        // Each group gets its own padding, and a width by its length, with a floor so a short burst
        // next to a long one stays readable.
        let padded: Vec<(f64, f64)> = groups
            .iter()
            .map(|&(a, b)| {
                let pad = ((b - a) * 0.06).max(5e-4);
                ((a - pad).max(0.0), b + pad)
            })
            .collect();
        let total: f64 = padded.iter().map(|(a, b)| b - a).sum();
        let floor = 0.3 * total / padded.len() as f64;
        let weights: Vec<f64> = padded.iter().map(|(a, b)| (b - a).max(floor)).collect();
        let sum: f64 = weights.iter().sum();
        let room = right - left - BREAK_PX * (padded.len() - 1) as f64;
        let mut x = left;
        let stretches = padded
            .iter()
            .zip(&weights)
            .map(|(&(t0, t1), w)| {
                let x1 = x + room * w / sum;
                let s = Stretch {
                    t0,
                    t1,
                    x0: x,
                    x1,
                    scale: Scale::linear(t0, t1, x, x1),
                };
                x = x1 + BREAK_PX;
                s
            })
            .collect();
        BrokenAxis { stretches }
    }

    /// The pixel of `t`: in its stretch, or at the start of the next one when it falls in a cut gap;
    /// after the last stretch, its right end.
    pub fn map(&self, t: f64) -> f64 {
        self.stretches
            .iter()
            .find(|s| t <= s.t1)
            .map(|s| s.map(t))
            .unwrap_or_else(|| self.stretches.last().map_or(0.0, |s| s.x1))
    }

    pub fn right(&self) -> f64 {
        self.stretches.last().map_or(0.0, |s| s.x1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_apart_bursts_get_their_own_stretches() {
        // A write at 1.00–1.01 s and a read at 3.50–3.51 s: two stretches, each wide.
        let a = BrokenAxis::new(&[(1.0, 1.01), (3.5, 3.51), (3.505, 3.52)], 100.0, 1100.0);
        assert_eq!(a.stretches.len(), 2);
        let (s0, s1) = (a.stretches[0], a.stretches[1]);
        assert!(s0.x1 - s0.x0 > 300.0 && s1.x1 - s1.x0 > 300.0, "{a:?}");
        assert!((s1.x0 - s0.x1 - BREAK_PX).abs() < 1e-9);
        assert!(a.map(1.0) < a.map(1.01) && a.map(1.01) < a.map(3.5));
        assert!(
            (a.map(2.0) - s1.x0).abs() < 1e-9,
            "a time in the gap sits at the break"
        );
        assert!((a.right() - 1100.0).abs() < 1e-6);
        // Close ops: one stretch; ticks are distinct.
        let b = BrokenAxis::new(&[(1.0, 1.002), (1.001, 1.004)], 100.0, 1100.0);
        assert_eq!(b.stretches.len(), 1);
        let labels: Vec<String> = b.stretches[0].ticks().into_iter().map(|t| t.1).collect();
        let mut d = labels.clone();
        d.dedup();
        assert!(labels.len() >= 2 && d.len() == labels.len(), "{labels:?}");
        // Nothing at all: a default stretch, no panic.
        assert_eq!(BrokenAxis::new(&[], 0.0, 10.0).stretches.len(), 1);
    }
}
