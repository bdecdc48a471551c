//! Staleness: for each ok read, the acknowledged appends (completed before the read began) that it misses,
//! and how long ago the oldest of them was acknowledged.

use super::index::{ret, KeyData, Read};
use super::{Percentiles, Staleness};
use crate::ops::History;

/// Points in [`Staleness::series`] at most.
pub const SERIES_BUCKETS: usize = 500;

/// One key's acknowledged appends by completion.
pub(crate) struct Acks {
    /// (completion position, value id), sorted.
    by_end: Vec<(usize, u32)>,
    /// Completion position per value id (`usize::MAX`: not acknowledged).
    end: Vec<usize>,
    /// Completion time per value id, when known.
    end_ns: Vec<Option<u64>>,
}

impl Acks {
    pub(crate) fn new(h: &History, kd: &KeyData) -> Self {
        let mut end = vec![usize::MAX; kd.vals.len()];
        let mut end_ns = vec![None; kd.vals.len()];
        let mut by_end = Vec::new();
        for (id, v) in kd.vals.iter().enumerate() {
            if let Some(i) = v.op {
                let op = &h.ops[i as usize];
                let r = ret(op);
                end[id] = r;
                end_ns[id] = op.complete_time_ns;
                if r != usize::MAX {
                    by_end.push((r, id as u32));
                }
            }
        }
        by_end.sort_unstable();
        Acks {
            by_end,
            end,
            end_ns,
        }
    }
}

/// Staleness of every read so far.
#[derive(Default)]
pub(crate) struct Tally {
    reads: usize,
    stale: usize,
    ms: Vec<f64>,
    versions: Vec<usize>,
    /// (read start ns, ms, versions) of every read, when the history has times.
    points: Vec<(u64, f64, usize)>,
}

impl Tally {
    /// Adds one read; `has` says whether the read's list holds a value id.
    pub(crate) fn read(
        &mut self,
        h: &History,
        acks: &Acks,
        r: &Read,
        list: &[u32],
        has: impl Fn(u32) -> bool,
    ) {
        let op = &h.ops[r.op as usize];
        let start = op.invoke_pos;
        let before = acks.by_end.partition_point(|&(e, _)| e < start);
        let held = list
            .iter()
            .filter(|&&id| acks.end[id as usize] < start)
            .count();
        let missing = before.saturating_sub(held);
        let mut ms = 0.0;
        if missing > 0 {
            self.stale += 1;
            let oldest = acks.by_end[..before].iter().find(|&&(_, id)| !has(id));
            if let (Some(&(_, id)), Some(t)) = (oldest, op.invoke_time_ns) {
                if let Some(done) = acks.end_ns[id as usize] {
                    ms = t.saturating_sub(done) as f64 / 1e6;
                }
            }
        }
        self.reads += 1;
        self.ms.push(ms);
        self.versions.push(missing);
        if let Some(t) = op.invoke_time_ns.filter(|_| h.has_time) {
            self.points.push((t, ms, missing));
        }
    }

    pub(crate) fn finish(self) -> Staleness {
        let mut ms = self.ms;
        let mut versions: Vec<f64> = self.versions.iter().map(|&v| v as f64).collect();
        Staleness {
            reads: self.reads,
            stale_reads: self.stale,
            share: if self.reads == 0 {
                0.0
            } else {
                self.stale as f64 / self.reads as f64
            },
            ms: percentiles(&mut ms),
            versions: percentiles(&mut versions),
            series: series(&self.points),
            // Set by the caller, which counts the acknowledged appends.
            acknowledged: 0,
        }
    }
}

/// Nearest-rank percentiles, by selection (linear, no sort).
fn percentiles(v: &mut [f64]) -> Percentiles {
    let n = v.len();
    let mut at = |q: f64| {
        if n == 0 {
            return 0.0;
        }
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        *v.select_nth_unstable_by(i, |a, b| a.total_cmp(b)).1
    };
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
        max: at(1.0),
    }
}

/// The worst read of each time slice, in time order.
fn series(points: &[(u64, f64, usize)]) -> Vec<(f64, f64, usize)> {
    let (Some(t0), Some(t1)) = (
        points.iter().map(|p| p.0).min(),
        points.iter().map(|p| p.0).max(),
    ) else {
        return Vec::new();
    };
    let width = ((t1 - t0) / SERIES_BUCKETS as u64 + 1).max(1);
    let mut worst: Vec<Option<(f64, usize)>> = vec![None; SERIES_BUCKETS + 1];
    for &(t, ms, v) in points {
        let b = &mut worst[((t - t0) / width) as usize];
        let w = b.get_or_insert((ms, v));
        w.0 = w.0.max(ms);
        w.1 = w.1.max(v);
    }
    worst
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| w.map(|(ms, v)| ((t0 + i as u64 * width) as f64 / 1e9, ms, v)))
        .collect()
}
