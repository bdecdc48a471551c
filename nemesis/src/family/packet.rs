//! Packet faults: delay, drop or duplicate a share of the packets one node sends ([`crate::PacketFault`]);
//! undone by removing the shaping. Not in `all`: they need `nft` and `iptables`.

use super::{Aim, Channel, Events, Family, Kind, Layer};
use crate::fault::FaultKind;

pub const START: &str = "start-packet-fault";
pub const STOP: &str = "stop-packet-fault";

pub const FAMILY: Family = Family {
    name: "packet",
    kinds: &[
        kind(FaultKind::PacketDelay, "packet-delay"),
        kind(FaultKind::PacketLoss, "packet-loss"),
        kind(FaultKind::PacketDuplicate, "packet-duplicate"),
    ],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::PerNode("packet"),
        // Not recovered from a stored history (the report draws the harness's own windows).
        span: None,
    }],
    start_needs: &[],
    layer: Layer::Packets,
};

const fn kind(kind: FaultKind, name: &'static str) -> Kind {
    Kind {
        kind,
        name,
        in_all: false,
        aim: Aim::Any,
        leader_fault: false,
        color: None,
    }
}
