//! The packet family's landing probe: a burst of probes measures the effect on the target.

use super::super::run::Run;
use crate::PacketFault;
use serde_json::json;

/// The landing probe: measures the packet fault on what `node` sends with a burst of probes (in
/// namespaces from inside them, on hosts between the hosts): `on`, the effect is there, about as asked;
/// else it is gone with its rules.
pub(super) fn check(run: &mut Run<'_>, fault: &str, node: &str, spec: &PacketFault, on: bool) {
    let aim = run.settings.packet.aim;
    let net = run.net;
    let rules = net.shaped(node);
    let burst = net.measure_packets(node, spec, aim);
    let verdict = match (&rules, &burst) {
        (Err(e), _) => Err(format!("reading {node}'s rules: {e}")),
        (_, Err(e)) => Err(format!("measuring {node}'s packets: {e}")),
        (Ok(r), _) if *r != on => Err(format!(
            "{node}'s packet rules are {}",
            if on { "missing" } else { "still there" }
        )),
        (_, Ok(b)) => spec.judge(b, aim, on).map_err(|e| format!("{node}: {e}")),
    };
    run.event(
        "landing",
        json!({"fault": fault, "node": node, "landed": verdict.is_ok(), "asked": spec.asked(aim), "aim": aim,
               "measured": burst.as_ref().ok().map(|b| spec.measured(b)), "burst": burst.as_ref().ok(),
               "rules": rules.as_ref().ok(), "mechanism": net.packet_mechanism()}),
    );
    if let Err(e) = verdict {
        run.miss(fault, e);
    }
}

/// Before a packet fault is removed: whether it held all along (a dead delay thread let packets through
/// undelayed, which makes the run invalid).
pub(super) fn check_health(run: &mut Run<'_>, node: &str) {
    let Some(health) = run.net.packet_fault_health(node) else {
        return;
    };
    if let Err(e) = health {
        run.event(
            "landing",
            json!({"fault": "packet-delay", "node": node, "landed": false, "reason": e}),
        );
        run.miss("packet-delay", e);
    }
}
