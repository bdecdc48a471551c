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
        Kind::in_all(
            FaultKind::PartitionLeader,
            "partition-leader",
            Aim::Leader,
            true,
            Some("#e15759"),
        ),
        Kind::in_all(
            FaultKind::PartitionFollower,
            "partition-follower",
            Aim::Follower,
            false,
            Some("#f28e2b"),
        ),
        Kind::in_all(
            FaultKind::PartitionRandom,
            "partition-random",
            Aim::AnyPlaced,
            false,
            None,
        ),
        Kind::in_all(
            FaultKind::PartitionHalves,
            "partition-halves",
            Aim::LeaderIfKnown,
            false,
            Some("#edc948"),
        ),
        Kind::in_all(
            FaultKind::PartitionRing,
            "partition-ring",
            Aim::AllPlaced,
            false,
            Some("#b07aa1"),
        ),
        Kind::in_all(
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
