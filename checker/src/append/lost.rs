//! Lost writes: acknowledged appends that no read after the final reads began contains.

use super::index::KeyData;
use super::{AppendOptions, LostWrites, LOST_SHOWN};
use crate::explain::OpSummary;
use crate::ops::{History, Outcome};

/// Lost writes over all keys: acknowledged appends (completed before the final reads began) that no ok
/// read begun at or after that time contains. Keys without such a read are not judged.
pub(crate) struct LostTally {
    after: Option<u64>,
    count: usize,
    /// Acknowledged appends looked for.
    judged: usize,
    /// (completion time, op index)
    lost: Vec<(u64, u32)>,
}

impl LostTally {
    pub(crate) fn new(h: &History, opts: &AppendOptions) -> Self {
        LostTally {
            after: opts.final_read_after_ns.filter(|_| h.has_time),
            count: 0,
            judged: 0,
            lost: Vec::new(),
        }
    }

    pub(crate) fn check_key(&mut self, h: &History, kd: &KeyData) {
        let Some(t) = self.after else { return };
        let mut seen = vec![false; kd.vals.len()];
        let mut any = false;
        for r in &kd.reads {
            if h.ops[r.op as usize].invoke_time_ns.is_some_and(|s| s >= t) {
                any = true;
                for &id in kd.list(r) {
                    seen[id as usize] = true;
                }
            }
        }
        if !any {
            return;
        }
        for (id, v) in kd.vals.iter().enumerate() {
            let Some(i) = v.op else { continue };
            let op = &h.ops[i as usize];
            let done = op.complete_time_ns.unwrap_or(u64::MAX);
            if op.outcome != Outcome::Ok || done >= t {
                continue;
            }
            self.judged += 1;
            if !seen[id] {
                self.count += 1;
                self.lost.push((done, i));
            }
        }
    }

    pub(crate) fn finish(mut self, h: &History) -> LostWrites {
        self.lost.sort_unstable();
        LostWrites {
            count: self.count,
            first: self
                .lost
                .iter()
                .take(LOST_SHOWN)
                .map(|&(_, i)| OpSummary::from_op(&h.ops[i as usize]))
                .collect(),
            checked: self.after.is_some(),
            judged: self.judged,
        }
    }
}
