//! The disk fault: SIGKILL a random node, truncate or bit-flip the tail of a file in its data directory,
//! restart it when the window ends. Not in `all`: it destroys data on purpose.

use super::{process, Aim, Channel, Events, Family, Kind, Layer};
use crate::FaultKind;

/// Written after the damage; the restart that ends the window is the process family's.
pub const CORRUPT: &str = "corrupt";

pub const FAMILY: Family = Family {
    name: "disk",
    kinds: &[Kind {
        kind: FaultKind::CorruptData,
        name: "corrupt-data",
        in_all: false,
        aim: Aim::Any,
        leader_fault: false,
        color: None,
    }],
    events: &[Events {
        start: CORRUPT,
        stop: process::RESTART,
        channel: Channel::PerNode("kill"),
        // Not recovered from a stored history (its restart closes no window there).
        span: None,
    }],
    start_needs: &[],
    layer: Layer::Processes,
};
