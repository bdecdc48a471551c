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
        kind(
            FaultKind::KillLeader,
            "kill-leader",
            Aim::Leader,
            true,
            Some("#4e79a7"),
        ),
        kind(
            FaultKind::KillRandom,
            "kill-random",
            Aim::Any,
            false,
            Some("#9c755f"),
        ),
        kind(FaultKind::KillAll, "kill-all", Aim::All, false, None),
        kind(
            FaultKind::PauseLeader,
            "pause-leader",
            Aim::Leader,
            true,
            Some("#76b7b2"),
        ),
        kind(
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
