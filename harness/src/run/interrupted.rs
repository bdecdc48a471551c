//! What an interrupted run leaves: the history so far, a `results.json` saying where the signal came,
//! and a short message (written with errors ignored: after SIGHUP the terminal may be gone).

use crate::exit;
use crate::store::write_atomic;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

/// The phase a signal ended: `workload` (the cluster was running: torn down, not checked), `teardown`
/// (it came while the cluster was being removed), or `check` (the check or the report was cut short).
pub fn write_results(
    dir: &Path,
    phase: &str,
    signal: &str,
    problems: &[String],
    faults: Value,
    stats: Value,
) -> u8 {
    // An interrupted check leaves the verdict unknown (2); a run cut short never did what it was meant to (3).
    let code = if phase == "check" && problems.is_empty() {
        exit::UNKNOWN
    } else {
        exit::INVALID_RUN
    };
    let results = json!({
        "interrupted": true,
        "interrupted_in": phase,
        "signal": signal,
        "valid": "unknown",
        "run_valid": false,
        "run_problems": problems,
        "exit_code": code,
        "faults": faults,
        "stats": stats,
    });
    let text = serde_json::to_string_pretty(&results).unwrap_or_default() + "\n";
    if let Err(e) = write_atomic(&dir.join("results.json"), text.as_bytes()) {
        say(&format!("harness: writing results.json: {e:#}"));
    }
    let history = dir.join("history.jsonl");
    let what = match phase {
        "check" => "the check was interrupted",
        _ => "interrupted; cluster and network removed",
    };
    say(&format!(
        "\nharness: {signal}: {what}. History: {}\n  check it with: harness check {}",
        history.display(),
        history.display()
    ));
    code
}

/// eprintln! without the panic when stderr is gone.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
