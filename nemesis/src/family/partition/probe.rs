//! The partition family's landing probe: every node pair connects or not, from inside the network.

use super::super::run::Run;
use crate::Partition;

/// The landing probe: every node pair against `expected` (what was just applied, or nothing after a heal).
pub(super) fn check(run: &mut Run<'_>, fault: &str, expected: &Partition) {
    let check = run.net.check_partition(expected);
    if let Some(mut event) = check.event {
        event["fault"] = fault.into();
        run.event("landing", event);
    }
    if let Some(missed) = check.missed {
        run.miss(fault, missed);
    }
}
