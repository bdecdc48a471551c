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
        ms.sort_unstable_by(|a, b| a.total_cmp(b));
        let mut versions: Vec<f64> = self.versions.iter().map(|&v| v as f64).collect();
        versions.sort_unstable_by(|a, b| a.total_cmp(b));
        Staleness {
            reads: self.reads,
            stale_reads: self.stale,
            share: if self.reads == 0 {
                0.0
            } else {
                self.stale as f64 / self.reads as f64
            },
            ms: percentiles(&ms),
            versions: percentiles(&versions),
            series: series(self.points),
        }
    }
}

/// Nearest-rank percentiles of sorted values.
fn percentiles(sorted: &[f64]) -> Percentiles {
    let at = |q: f64| {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i]
    };
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
        max: sorted.last().copied().unwrap_or(0.0),
    }
}

/// The worst read of each time slice.
fn series(mut points: Vec<(u64, f64, usize)>) -> Vec<(f64, f64, usize)> {
    if points.is_empty() {
        return Vec::new();
    }
    points.sort_unstable_by_key(|p| p.0);
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let width = ((t1 - t0) / SERIES_BUCKETS as u64).max(1);
    let mut out: Vec<(u64, f64, usize)> = Vec::new();
    for (t, ms, v) in points {
        let b = t0 + (t - t0) / width * width;
        match out.last_mut() {
            Some(last) if last.0 == b => {
                last.1 = last.1.max(ms);
                last.2 = last.2.max(v);
            }
            _ => out.push((b, ms, v)),
        }
    }
    out.into_iter()
        .map(|(b, ms, v)| (b as f64 / 1e9, ms, v))
        .collect()
}
