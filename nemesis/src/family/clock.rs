//! The clock fault: slow the leader's clock (offset and rate, `POST /admin/clock`) beyond the drift bound
//! and isolate it; undone by healing the partition, then resetting the clock.

use super::{Aim, Channel, Events, Family, Kind, Layer, SpanKind, StartNeed};
use crate::fault::FaultKind;

pub const START: &str = "start-clock-skew";
pub const STOP: &str = "stop-clock-skew";

pub const FAMILY: Family = Family {
    name: "clock",
    kinds: &[Kind {
        kind: FaultKind::ClockSkew,
        name: "clock-skew",
        in_all: true,
        aim: Aim::Leader,
        leader_fault: true,
        color: Some("#ff9da7"),
    }],
    events: &[Events {
        start: START,
        stop: STOP,
        channel: Channel::PerNode("clock"),
        span: Some(SpanKind::Fixed("clock-skew")),
    }],
    start_needs: &[StartNeed::ClockEndpoint],
    // Its isolation is a partition: it cannot be on with another partition.
    layer: Layer::Network,
};
