//! Without a terminal, progress is a line per phase as it begins and a line every 5 s naming the phase, so
//! the seconds after the time limit (recovery wait, settle, final reads, the check) are never unlabelled.

mod common;

use common::*;

const PHASES: &[&str] = &[
    "starting",
    "workload",
    "recovery",
    "settle",
    "final reads",
    "convergence",
    "teardown",
    "check",
];

#[test]
fn root_progress_lines_name_every_phase_in_order() {
    let Some((out, _res, _store)) = run_in_store(
        "root_progress_lines_name_every_phase_in_order",
        &["--time-limit", "6s", "--nemesis", "none", "--settle", "1s"],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("harness:"))
        .collect();
    // Each phase's own line: `harness:    7 s  settle: 1 s before the final reads`.
    let said_at = |phase: &str| {
        lines
            .iter()
            .position(|l| {
                l.split_once(" s  ")
                    .is_some_and(|(_, rest)| rest.starts_with(&format!("{phase}:")))
            })
            .unwrap_or_else(|| panic!("no line names the phase {phase}:\n{stderr}"))
    };
    let order: Vec<usize> = PHASES.iter().map(|p| said_at(p)).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "phases out of order {order:?}:\n{stderr}"
    );
    assert!(
        lines[said_at("settle")].contains("1 s before the final reads"),
        "{stderr}"
    );
    // The 5 s lines (a 6 s workload has at least one) say which phase they are in.
    let periodic: Vec<&&str> = lines.iter().filter(|l| l.contains("ops/s")).collect();
    assert!(!periodic.is_empty(), "no 5 s progress line:\n{stderr}");
    for l in periodic {
        assert!(
            PHASES.iter().any(|p| l.contains(&format!("{p}:"))),
            "a progress line without its phase: {l}"
        );
    }
}
