//! Which guarantees a run kept, and which of them decide its exit code (`--expect`).
//!
//! Append histories are checked by `checker::append` for every guarantee; register and kv histories only
//! for linearizability (by the existing checker), so the session guarantees are `null` there (not
//! checkable). Convergence comes from the `converged` observation the run records in the history after
//! the final heal ([`super::convergence`]).

use crate::settings::Expect;
use checker::append::{self, AppendOptions, Guarantees, LostWrites, Staleness, Violation};
use checker::{CheckResult, Event, History, Process, Validity};
use report::{GuaranteeView, Rung};
use serde::{Deserialize, Serialize};

/// Who records the harness's own observations in the history, and what they are called.
pub const ACTOR: &str = "harness";
pub const FINAL_READS: &str = "final-reads";
pub const CONVERGED: &str = "converged";

/// What the convergence check found after the final heal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvergenceRecord {
    /// `null` when the system has no local reads (or the check could not run).
    pub converged: Option<bool>,
    /// Seconds from the final heal until every node's local state agreed.
    pub after_heal_s: Option<f64>,
    pub settle_s: f64,
    /// Rounds of local reads of every key on every node.
    pub rounds: usize,
    /// On the last round, one sentence per disagreement.
    pub disagreements: Vec<String>,
    /// Why it was not checkable.
    pub unchecked: Option<String>,
}

/// Everything results.json says about the guarantees.
#[derive(Debug, Clone, Serialize)]
pub struct GuaranteeReport {
    pub expect: Expect,
    pub guarantees: Guarantees,
    /// Append workload only (needs a final read).
    pub lost_writes: Option<LostWrites>,
    pub staleness: Option<Staleness>,
    /// The first violation of each guarantee.
    pub violations: Vec<Violation>,
    /// How many violations of each guarantee were found.
    pub violation_counts: std::collections::BTreeMap<String, usize>,
    pub convergence: Option<ConvergenceRecord>,
    /// The guarantees as the table, summary and report show them.
    pub ladder: Vec<Rung>,
}

fn observation<'a>(events: &'a [Event], f: &str) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| e.f == f && matches!(&e.process, Process::Named(n) if n == ACTOR))
}

/// The convergence record the run left in the history, if it got that far.
pub fn convergence_from(events: &[Event]) -> Option<ConvergenceRecord> {
    serde_json::from_value(observation(events, CONVERGED)?.value.clone()).ok()
}

fn linearizable(check: Option<&CheckResult>) -> Option<bool> {
    match check?.valid {
        Validity::Valid => Some(true),
        Validity::Invalid => Some(false),
        Validity::Unknown => None,
    }
}

/// Check every guarantee that applies. `history` is the parsed history (None when it did not parse);
/// `check` the linearizability result. An append history that cannot be checked is an error to report.
pub fn evaluate(
    expect: Expect,
    append_workload: bool,
    history: Option<&History>,
    events: &[Event],
    check: Option<&CheckResult>,
) -> Result<GuaranteeReport, String> {
    let convergence = convergence_from(events);
    let mut r = GuaranteeReport {
        expect,
        guarantees: Guarantees {
            linearizable: linearizable(check),
            ..Guarantees::default()
        },
        lost_writes: None,
        staleness: None,
        violations: Vec::new(),
        violation_counts: Default::default(),
        convergence: convergence.clone(),
        ladder: Vec::new(),
    };
    let mut notes: Vec<(&str, String)> = Vec::new();
    if let (true, Some(h)) = (append_workload, history) {
        let opts = AppendOptions {
            final_read_after_ns: observation(events, FINAL_READS).map(|e| e.time),
        };
        let a = append::check_append(h, &opts)
            .map_err(|e| format!("the append history cannot be checked: {e}"))?;
        r.guarantees = a.guarantees.clone();
        let mut seen = std::collections::HashSet::new();
        r.violations = a
            .violations
            .iter()
            .filter(|v| seen.insert(v.guarantee.clone()))
            .cloned()
            .collect();
        r.violation_counts = a.violation_counts.clone();
        r.lost_writes = Some(a.lost_writes.clone());
        r.staleness = Some(a.staleness.clone());
    } else if let Some(cx) = check.and_then(|c| c.counterexample.as_ref()) {
        notes.push(("linearizable", cx.explanation.clone()));
    }
    r.guarantees.converged = convergence.as_ref().and_then(|c| c.converged);
    if let Some(c) = &convergence {
        let note = match (c.converged, c.after_heal_s) {
            (Some(true), Some(s)) => format!("every node agreed {s:.2} s after the heal"),
            (Some(false), _) => c
                .disagreements
                .first()
                .cloned()
                .unwrap_or_else(|| "the nodes never agreed".into()),
            _ => c.unchecked.clone().unwrap_or_default(),
        };
        if !note.is_empty() {
            notes.push(("converged", note));
        }
    }
    r.ladder = report::guarantees::ladder(&r.guarantees, &r.violations, &notes, expect.decides());
    Ok(r)
}

/// All of `values` kept: `Some(true)`; any broken: `Some(false)`; otherwise not decidable.
fn all(values: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut verdict = Some(true);
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => verdict = None,
            Some(true) => {}
        }
    }
    verdict
}

/// The verdict on the guarantees `--expect` names: `None` is unknown.
pub fn verdict(r: &GuaranteeReport) -> Option<bool> {
    let g = &r.guarantees;
    match r.expect {
        Expect::Linearizable => g.linearizable,
        Expect::Sessions => all([
            g.read_your_writes,
            g.monotonic_reads,
            g.monotonic_writes,
            g.writes_follow_reads,
        ]),
        Expect::Eventual => {
            let no_loss = r
                .lost_writes
                .as_ref()
                .and_then(|l| l.checked.then_some(l.count == 0));
            all([g.converged, no_loss])
        }
    }
}

/// The section report.html shows.
pub fn view(r: &GuaranteeReport) -> GuaranteeView {
    GuaranteeView {
        rungs: r.ladder.clone(),
        lost_writes: r.lost_writes.clone(),
        staleness: r.staleness.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(expect: Expect, g: Guarantees, lost: Option<(bool, usize)>) -> GuaranteeReport {
        GuaranteeReport {
            expect,
            guarantees: g,
            lost_writes: lost.map(|(checked, count)| LostWrites {
                count,
                first: vec![],
                checked,
            }),
            staleness: None,
            violations: vec![],
            violation_counts: Default::default(),
            convergence: None,
            ladder: vec![],
        }
    }

    #[test]
    fn expect_picks_the_guarantees_that_decide() {
        let sessions_ok = Guarantees {
            linearizable: Some(false),
            read_your_writes: Some(true),
            monotonic_reads: Some(true),
            monotonic_writes: Some(true),
            writes_follow_reads: Some(true),
            converged: Some(true),
        };
        let lin = report(Expect::Linearizable, sessions_ok.clone(), Some((true, 0)));
        assert_eq!(verdict(&lin), Some(false));
        let ses = report(Expect::Sessions, sessions_ok.clone(), Some((true, 0)));
        assert_eq!(verdict(&ses), Some(true));
        let broken = Guarantees {
            monotonic_reads: Some(false),
            ..sessions_ok.clone()
        };
        assert_eq!(
            verdict(&report(Expect::Sessions, broken, None)),
            Some(false)
        );
        assert_eq!(
            verdict(&report(
                Expect::Eventual,
                sessions_ok.clone(),
                Some((true, 0))
            )),
            Some(true)
        );
        assert_eq!(
            verdict(&report(
                Expect::Eventual,
                sessions_ok.clone(),
                Some((true, 2))
            )),
            Some(false),
            "lost writes break eventual consistency"
        );
        let unknown = Guarantees {
            converged: None,
            ..sessions_ok
        };
        assert_eq!(
            verdict(&report(Expect::Eventual, unknown, Some((true, 0)))),
            None,
            "no local reads: not checkable"
        );
    }
}
