//! The fault windows a run's plots and metrics shade, shared by both kinds of run's end ([`super::finish`]
//! and [`super::txn`]) so neither has to reach into the other.

use super::faults::FaultRecord;
use report::FaultSpan;

/// The windows of the faults that were applied (a missed one never started), for plots and metrics.
pub(super) fn hit_spans(faults: &[FaultRecord]) -> Vec<FaultSpan> {
    faults
        .iter()
        .filter(|f| f.hit)
        .map(|f| FaultSpan::new(f.kind.name(), f.start_s, f.end_s, f.targets.clone()))
        .collect()
}
