//! The process family's landing probe: the state of each target's process, read where it runs.

use super::super::run::Run;
use serde_json::json;
use std::time::Duration;

/// How long a kill, pause or restart may take to show in the process state before it counts as missed.
pub const PROCESS_CHECK: Duration = Duration::from_secs(1);

/// The state a process fault leaves a node's process in.
#[derive(Debug, Clone, Copy)]
pub enum ProcState {
    Down,
    Paused,
    Running,
}

/// The landing probe: checks that each of `nodes` is down, paused or running, as `want` says.
pub fn check(run: &mut Run<'_>, fault: &str, nodes: &[String], want: ProcState) {
    let ok = |state: Option<char>| match want {
        ProcState::Down => state.is_none(),
        ProcState::Paused => state == Some('T'),
        ProcState::Running => state.is_some_and(|s| s != 'T'),
    };
    // A signal is delivered a moment after kill(2) returns: give the states up to a second.
    let deadline = std::time::Instant::now() + PROCESS_CHECK;
    let mut states: Vec<(String, Option<char>)>;
    loop {
        states = nodes
            .iter()
            .map(|n| (n.clone(), run.nodes.state(n)))
            .collect();
        if states.iter().all(|(_, s)| ok(*s)) || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let wrong: Vec<String> = states
        .iter()
        .filter(|(_, s)| !ok(*s))
        .map(|(n, s)| {
            format!(
                "{n} is {} (expected {want:?})",
                s.map_or("not running".to_string(), |s| format!("in state {s}"))
            )
        })
        .collect();
    let states: serde_json::Map<String, serde_json::Value> = states
        .into_iter()
        .map(|(n, s)| (n, json!(s.map(String::from))))
        .collect();
    run.event(
        "landing",
        json!({"fault": fault, "landed": wrong.is_empty(), "states": states}),
    );
    if !wrong.is_empty() {
        run.miss(fault, wrong.join(", "));
    }
}
