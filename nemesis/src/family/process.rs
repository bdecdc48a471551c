//! Process faults: SIGKILL (restarted when the window ends) and SIGSTOP (resumed), of the leader, a
//! random node or every node ([`crate::ManagedProcess`]).

use super::{Aim, Channel, Events, Family, Kind, Layer, SpanKind};
use crate::fault::FaultKind;

pub const KILL: &str = "kill";
pub const RESTART: &str = "restart";
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

pub const FAMILY: Family = Family {
    name: "process",
    kinds: &[
        Kind::in_all(
            FaultKind::KillLeader,
            "kill-leader",
            Aim::Leader,
            true,
            Some("#4e79a7"),
        ),
        Kind::in_all(
            FaultKind::KillRandom,
            "kill-random",
            Aim::Any,
            false,
            Some("#9c755f"),
        ),
        Kind::in_all(FaultKind::KillAll, "kill-all", Aim::All, false, None),
        Kind::in_all(
            FaultKind::PauseLeader,
            "pause-leader",
            Aim::Leader,
            true,
            Some("#76b7b2"),
        ),
        Kind::in_all(
            FaultKind::PauseRandom,
            "pause-random",
            Aim::Any,
            false,
            None,
        ),
    ],
    events: &[
        Events {
            start: KILL,
            stop: RESTART,
            channel: Channel::PerNode("kill"),
            span: Some(SpanKind::ByRole("kill")),
        },
        Events {
            start: PAUSE,
            stop: RESUME,
            channel: Channel::PerNode("pause"),
            span: Some(SpanKind::ByRole("pause")),
        },
    ],
    start_needs: &[],
    layer: Layer::Processes,
};
