//! Partitions: cut links between node groups (blackhole routes, [`crate::partition_for`] draws the shape);
//! healed by restoring every link.

use super::{Aim, Channel, Events, Family, Kind, Layer, SpanKind};
use crate::fault::FaultKind;

/// Written when a partition (or the clock fault's isolation) is applied; its `fault` names the kind.
pub const START: &str = "start-partition";
/// Written when every link is restored.
pub const STOP: &str = "stop-partition";

pub const FAMILY: Family = Family {
    name: "partition",
    kinds: &[
        kind(
            FaultKind::PartitionLeader,
            "partition-leader",
            Aim::Leader,
            true,
            Some("#e15759"),
        ),
        kind(
            FaultKind::PartitionFollower,
            "partition-follower",
            Aim::Follower,
            false,
            Some("#f28e2b"),
        ),
        kind(
            FaultKind::PartitionRandom,
            "partition-random",
            Aim::AnyPlaced,
            false,
            None,
        ),
        kind(
            FaultKind::PartitionHalves,
            "partition-halves",
            Aim::LeaderIfKnown,
            false,
            Some("#edc948"),
        ),
        kind(
            FaultKind::PartitionRing,
            "partition-ring",
            Aim::AllPlaced,
            false,
            Some("#b07aa1"),
        ),
        kind(
            FaultKind::PartitionOneWay,
            "partition-one-way",
            Aim::Leader,
            false,
            None,
        ),
    ],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::Cluster("partition"),
        span: Some(SpanKind::Field("partition")),
    }],
    start_needs: &[],
    layer: Layer::Network,
};

const fn kind(
    kind: FaultKind,
    name: &'static str,
    aim: Aim,
    leader_fault: bool,
    color: Option<&'static str>,
) -> Kind {
    Kind {
        kind,
        name,
        in_all: true,
        aim,
        leader_fault,
        color,
    }
}
