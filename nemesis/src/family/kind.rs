//! What a family is made of: its kinds (described in [`crate::fault_kind`]), its events, its layer, its
//! start needs and its operations. Apart from the composer ([`super::FAMILIES`]) so that each family can
//! name these types without using the module that lists it.

use super::run::Ops;
use crate::fault_kind::FaultKind;
pub use crate::fault_kind::{Aim, Kind};

/// One fault family: the kinds it owns and what they share.
#[derive(Debug)]
pub struct Family {
    /// `partition`, `process`, `clock`, `packet`, `disk`.
    pub name: &'static str,
    /// Its kinds, each declared as a constant in the family's file.
    pub kinds: &'static [FaultKind],
    /// The nemesis events the family writes, each start with the stop that ends it.
    pub events: &'static [Events],
    /// What the family needs of the system at the start of a run, beyond a leader for the kinds aimed
    /// at one (those are refused at the start otherwise, exit 254).
    pub start_needs: &'static [StartNeed],
    /// What the family acts on, for [`FaultKind::composes_with`].
    pub layer: Layer,
    /// How its kinds are applied and undone (with their landing probes), for the harness to compose.
    pub ops: &'static dyn Ops,
}

/// What a fault acts on: the network (a partition, or the clock fault's isolation), packets on one node's
/// links, or the node processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Network,
    Packets,
    Processes,
}

/// A start event and the stop event that ends it, and how a stored history's pair becomes a fault window.
#[derive(Debug)]
pub struct Events {
    pub start: &'static str,
    pub stop: &'static str,
    /// What one start opens and its stop closes.
    pub channel: Channel,
    /// The window's kind, read from the start event; `None`: the pair is not drawn from a history.
    pub span: Option<SpanKind>,
}

/// What a start event opens: one channel for the whole cluster, or one per node.
#[derive(Debug, Clone, Copy)]
pub enum Channel {
    Cluster(&'static str),
    /// `<prefix> <node>`, the event's first node.
    PerNode(&'static str),
}

/// How a window's kind is read from its start event.
#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    /// The event's `fault` field, else this name; windows whose `fault` names a kind of another family
    /// (the clock fault's isolation) belong to that family's window and are skipped.
    Field(&'static str),
    /// This base, with `-leader` appended when the event's `role` is `leader`.
    ByRole(&'static str),
    /// Always this kind.
    Fixed(&'static str),
}

/// What a family needs of the system under test, checked at the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartNeed {
    /// `POST /admin/clock` on every node (probed with a no-op).
    ClockEndpoint,
}
