//! Which guarantees a run kept, and which of them decide its exit code (`--expect`).
//!
//! Append histories are checked by `checker::append` for every guarantee; register and kv histories only
//! for linearizability (by the existing checker), so the session guarantees are `null` there (not
//! checkable). Convergence comes from the `converged` observation the run records in the history after
//! the final heal ([`super::convergence`]).

use crate::settings::Expect;
use checker::append::{
    self, AppendOptions, Guarantees, Judged, JudgedAll, LostWrites, Staleness, Violation,
};
use checker::{CheckResult, Event, EventType, History, Process, Validity};
use report::{GuaranteeView, Rung};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who records the harness's own observations in the history, and what they are called.
pub const ACTOR: &str = "harness";
pub const FINAL_READS: &str = "final-reads";
pub const CONVERGED: &str = "converged";

/// What the convergence check found after the final heal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvergenceRecord {
    /// `null` when the system has no local reads (or the check could not run).
    #[serde(with = "checker::validity::nullable")]
    pub converged: Validity,
    /// Seconds from the final heal until every node's local state agreed on what it held at the end
    /// (measured by polling from the heal on, through the recovery, `--settle` and the final reads).
    pub after_heal_s: Option<f64>,
    pub settle_s: f64,
    /// Rounds of local reads of every key on every node.
    pub rounds: usize,
    /// The longest gap between the starts of two rounds: how finely `after_heal_s` is known.
    #[serde(default)]
    pub poll_s: f64,
    /// The state every node agreed on at the end, per key (`null`: absent), which the final reads
    /// must not contradict.
    #[serde(default)]
    pub state: BTreeMap<String, Option<Vec<i64>>>,
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
    pub violation_counts: BTreeMap<String, usize>,
    /// What each guarantee judged (reads, and what they were judged against).
    pub judged: JudgedAll,
    /// Guarantees that had nothing to judge (so they are `null`, never kept), with why.
    pub not_judged: BTreeMap<String, String>,
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

/// Check every guarantee that applies. `history` is the parsed history (None when it did not parse);
/// `check` the linearizability result. An append history that cannot be checked is an error to report.
/// A guarantee is kept only when it had something to judge: otherwise it is `null`, with why.
pub fn evaluate(
    expect: Expect,
    append_workload: bool,
    history: Option<&History>,
    events: &[Event],
    check: Option<&CheckResult>,
) -> Result<GuaranteeReport, String> {
    let mut convergence = convergence_from(events);
    let final_after = observation(events, FINAL_READS).map(|e| e.time);
    let mut r = GuaranteeReport::new(expect, check);
    let mut notes: Vec<(&str, String)> = Vec::new();
    if let (true, Some(h)) = (append_workload, history) {
        r.judge_append(h, final_after)?;
    } else {
        if let Some(h) = history {
            r.judge_register(h);
        }
        if let Some(cx) = check.and_then(|c| c.counterexample.as_ref()) {
            notes.push(("linearizable", cx.explanation.clone()));
        }
    }
    notes.extend(r.note_not_judged(append_workload, history.is_some()));
    if let (Some(c), Some(h)) = (convergence.as_mut(), history) {
        against_final_reads(c, h, final_after);
    }
    r.guarantees.converged = convergence
        .as_ref()
        .map_or(Validity::Unknown, |c| c.converged);
    if let Some(note) = convergence.as_ref().map(convergence_note) {
        if !note.is_empty() {
            notes.push(("converged", note));
        }
    }
    r.convergence = convergence;
    let judged: Vec<(&str, Judged)> = report::guarantees::NAMES
        .iter()
        .filter_map(|(n, _)| Some((*n, r.judged.get(n)?)))
        .filter(|(n, _)| append_workload || *n == append::LINEARIZABLE)
        .collect();
    r.ladder = report::guarantees::ladder(
        &r.guarantees,
        &r.violations,
        &notes,
        &judged,
        expect.decides(),
    );
    Ok(r)
}

impl GuaranteeReport {
    /// Nothing judged yet but the linearizability verdict of `check`.
    fn new(expect: Expect, check: Option<&CheckResult>) -> Self {
        GuaranteeReport {
            expect,
            guarantees: Guarantees {
                linearizable: check.map_or(Validity::Unknown, |c| c.valid),
                ..Guarantees::default()
            },
            lost_writes: None,
            staleness: None,
            violations: Vec::new(),
            violation_counts: Default::default(),
            judged: JudgedAll::default(),
            not_judged: BTreeMap::new(),
            convergence: None,
            ladder: Vec::new(),
        }
    }

    /// Every guarantee of an append history, from `checker::append`: the first violation of each, lost
    /// writes and staleness.
    fn judge_append(&mut self, h: &History, final_after: Option<u64>) -> Result<(), String> {
        let opts = AppendOptions {
            final_read_after_ns: final_after,
        };
        let a = append::check_append(h, &opts)
            .map_err(|e| format!("the append history cannot be checked: {e}"))?;
        self.guarantees = a.reported();
        let mut seen = std::collections::HashSet::new();
        self.violations = a
            .violations
            .iter()
            .filter(|v| seen.insert(v.guarantee.clone()))
            .cloned()
            .collect();
        self.violation_counts = a.violation_counts.clone();
        self.lost_writes = Some(a.lost_writes.clone());
        self.staleness = Some(a.staleness.clone());
        self.judged = a.judged.clone();
        Ok(())
    }

    /// What a register or kv history's linearizability verdict judged. A history with no acknowledged
    /// write or no ok read is linearizable for want of anything to contradict it: that is not a pass.
    fn judge_register(&mut self, h: &History) {
        self.judged.linearizable = register_judged(h);
        let j = self.judged.linearizable;
        if self.guarantees.linearizable.is_valid() && (j.ops == 0 || j.against == 0) {
            self.guarantees.linearizable = Validity::Unknown;
        }
    }

    /// The checked guarantees that had nothing to judge, each kept in `not_judged` and returned as a note.
    fn note_not_judged(
        &mut self,
        append_workload: bool,
        parsed: bool,
    ) -> Vec<(&'static str, String)> {
        let mut notes = Vec::new();
        for (name, _) in report::guarantees::NAMES {
            let Some(j) = self.judged.get(name) else {
                continue;
            };
            let checked = append_workload || name == append::LINEARIZABLE;
            if checked
                && parsed
                && self.guarantees.get(name).is_unknown()
                && (j.ops == 0 || j.against == 0)
            {
                let why = report::guarantees::nothing_words(name, j);
                notes.push((name, why.clone()));
                self.not_judged.insert(name.to_string(), why);
            }
        }
        notes
    }
}

/// The ladder's note on convergence: how long after the heal every node agreed, the first
/// disagreement, or why it was not checkable (empty: nothing to say).
fn convergence_note(c: &ConvergenceRecord) -> String {
    match (c.converged, c.after_heal_s) {
        (Validity::Valid, Some(s)) => format!(
            "every node agreed {s:.2} s after the heal (polled every {:.2} s from the heal; --settle {:.1} s)",
            c.poll_s, c.settle_s
        ),
        (Validity::Invalid, _) => c
            .disagreements
            .first()
            .cloned()
            .unwrap_or_else(|| "the nodes never agreed".into()),
        _ => c.unchecked.clone().unwrap_or_default(),
    }
}

/// Ok reads, and writes (acknowledged writes and cas, and values read back) of a register or kv history.
fn register_judged(h: &History) -> Judged {
    let ok = h.ops.iter().filter(|o| o.outcome == checker::Outcome::Ok);
    let reads = ok.clone().filter(|o| o.f == "read").count();
    let acked = ok.clone().filter(|o| o.f != "read").count();
    let read_back = ok.filter(|o| o.f == "read" && !o.output.is_null()).count();
    Judged {
        ops: reads,
        // Reads of values nobody acknowledged (a write that timed out but happened) judge it too.
        against: acked.max((read_back > 0) as usize),
    }
}

/// A converged record must agree with the final reads too: nodes that agree on less than the cluster
/// answered (or on null everywhere, as a system that ignores `?local=true` does) did not converge.
fn against_final_reads(c: &mut ConvergenceRecord, h: &History, after: Option<u64>) {
    let Some(after) = after else { return };
    if !c.converged.is_valid() {
        return;
    }
    let mut finals: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for op in &h.ops {
        let final_read = op.f == "read"
            && op.outcome == checker::Outcome::Ok
            && op.invoke_time_ns.is_some_and(|t| t >= after);
        let (true, Some(key)) = (final_read, &op.key) else {
            continue;
        };
        let list: Vec<i64> = match &op.output {
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_i64()).collect(),
            v => v.as_i64().into_iter().collect(),
        };
        // Retried final reads of a key: the longest answer says the most.
        let e = finals.entry(key.clone()).or_default();
        if list.len() >= e.len() {
            *e = list;
        }
    }
    let wrong = append::against_final_reads(&c.state, &finals);
    if !wrong.is_empty() {
        c.converged = Validity::Invalid;
        c.disagreements = wrong;
    } else if c
        .state
        .values()
        .all(|l| l.as_deref().unwrap_or(&[]).is_empty())
    {
        // Agreeing on nothing (no write ever landed) shows nothing about convergence.
        c.converged = Validity::Unknown;
        c.unchecked = Some(
            "nothing to judge: every key was absent on every node and in the final reads".into(),
        );
    }
}

/// Why the guarantees `--expect` names could not decide the run, one sentence each, naming what the
/// ops it needed answered (`no append succeeded: 749 of 749 answered bad_request`). Empty when every
/// deciding guarantee judged something. Convergence that is not checkable (no local reads) does not
/// count: the protocol makes local reads optional.
pub fn nothing_to_judge(
    r: &GuaranteeReport,
    events: &[Event],
    append_workload: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let updates: &[&str] = if append_workload {
        &["append"]
    } else {
        &["write", "cas"]
    };
    let mut names: Vec<&str> = r.expect.decides().to_vec();
    if r.expect == Expect::Eventual {
        names = vec![];
        if let Some(l) = &r.lost_writes {
            if l.count == 0 && !(l.checked && l.judged > 0) {
                out.push(format!(
                    "--expect eventual: lost writes had nothing to judge (no acknowledged append before the final reads); {}",
                    attempts(events, updates)
                ));
            }
        }
    }
    let empty: Vec<&str> = names
        .into_iter()
        .filter(|n| r.not_judged.contains_key(*n))
        .collect();
    if let Some(first) = empty.first() {
        let why = &r.not_judged[*first];
        let what = if why.contains("no read succeeded") {
            attempts(events, &["read"])
        } else {
            attempts(events, updates)
        };
        let which = if empty.len() == 1 {
            format!("{first} had {why}")
        } else {
            format!("{} had nothing to judge ({first}: {why})", empty.join(", "))
        };
        out.push(format!("--expect {}: {which}; {what}", r.expect));
    }
    out
}

/// `no append succeeded: 749 of 749 answered bad_request` (or how many did), from the history's events.
fn attempts(events: &[Event], fs: &[&str]) -> String {
    let client = |e: &&Event| matches!(e.process, Process::Client(_)) && fs.contains(&e.f.as_str());
    let invoked = events
        .iter()
        .filter(client)
        .filter(|e| e.kind == EventType::Invoke)
        .count();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut ok = 0;
    for e in events.iter().filter(client) {
        match e.kind {
            EventType::Invoke => {}
            EventType::Ok => ok += 1,
            _ => {
                *by_code
                    .entry(report::codes::code(e.error.as_deref()))
                    .or_default() += 1
            }
        }
    }
    let what = fs.join(" or ");
    let mut codes: Vec<(String, usize)> = by_code.into_iter().collect();
    codes.sort_by_key(|(c, n)| (std::cmp::Reverse(*n), c.clone()));
    let answered: Vec<String> = codes
        .iter()
        .map(|(c, n)| format!("{n} of {invoked} answered {c}"))
        .collect();
    match (ok, invoked) {
        (_, 0) => format!("no {what} was sent"),
        (0, _) => format!("no {what} succeeded: {}", answered.join(", ")),
        (ok, _) => format!("{ok} of {invoked} {what} ops succeeded"),
    }
}

impl GuaranteeReport {
    /// The verdict on the guarantees `--expect` names, merged by the checker's one rule.
    pub fn verdict(&self) -> Validity {
        self.guarantees
            .verdict(self.expect.decides(), self.lost_writes.as_ref())
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
                judged: 10,
            }),
            staleness: None,
            violations: vec![],
            violation_counts: Default::default(),
            judged: JudgedAll::default(),
            not_judged: BTreeMap::new(),
            convergence: None,
            ladder: vec![],
        }
    }

    /// A register run where every write was refused: reads of null contradict nothing, so
    /// linearizability is not checkable, and the run says why in numbers.
    #[test]
    fn a_register_run_without_an_acknowledged_write_judges_nothing() {
        let mut events = Vec::new();
        let mut ev = |process, kind, f: &str, value: serde_json::Value, error: Option<&str>| {
            events.push(Event {
                index: events.len() as u64,
                time: events.len() as u64 * 1_000_000,
                process: Process::Client(process),
                kind,
                f: f.into(),
                key: Some("r".into()),
                value,
                node: Some("n1".into()),
                error: error.map(str::to_string),
                session: Some(process),
            });
        };
        for p in 0..3 {
            ev(p, EventType::Invoke, "write", 7.into(), None);
            ev(
                p,
                EventType::Fail,
                "write",
                7.into(),
                Some("bad_request: no writes here"),
            );
            ev(p, EventType::Invoke, "read", serde_json::Value::Null, None);
            ev(p, EventType::Ok, "read", serde_json::Value::Null, None);
        }
        let h = checker::parse_events(&events).unwrap();
        let opts = checker::CheckOptions::default();
        let check = checker::check(&h, checker::ModelKind::CasRegister, &opts);
        assert_eq!(check.valid, Validity::Valid, "nothing contradicts it");
        let r = evaluate(Expect::Linearizable, false, Some(&h), &events, Some(&check)).unwrap();
        assert_eq!(r.guarantees.linearizable, Validity::Unknown);
        assert_eq!(r.judged.linearizable, Judged { ops: 3, against: 0 });
        assert_eq!(r.verdict(), Validity::Unknown);
        let why = nothing_to_judge(&r, &events, false);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].contains("no write or cas succeeded: 3 of 3 answered bad_request"),
            "{why:?}"
        );
    }

    #[test]
    fn expect_picks_the_guarantees_that_decide() {
        let sessions_ok = Guarantees {
            linearizable: Validity::Invalid,
            read_your_writes: Validity::Valid,
            monotonic_reads: Validity::Valid,
            monotonic_writes: Validity::Valid,
            writes_follow_reads: Validity::Valid,
            converged: Validity::Valid,
        };
        let lin = report(Expect::Linearizable, sessions_ok.clone(), Some((true, 0)));
        assert_eq!(lin.verdict(), Validity::Invalid);
        let ses = report(Expect::Sessions, sessions_ok.clone(), Some((true, 0)));
        assert_eq!(ses.verdict(), Validity::Valid);
        let broken = Guarantees {
            monotonic_reads: Validity::Invalid,
            ..sessions_ok.clone()
        };
        assert_eq!(
            report(Expect::Sessions, broken, None).verdict(),
            Validity::Invalid
        );
        assert_eq!(
            report(Expect::Eventual, sessions_ok.clone(), Some((true, 0))).verdict(),
            Validity::Valid
        );
        assert_eq!(
            report(Expect::Eventual, sessions_ok.clone(), Some((true, 2))).verdict(),
            Validity::Invalid,
            "lost writes break eventual consistency"
        );
        let unknown = Guarantees {
            converged: Validity::Unknown,
            ..sessions_ok
        };
        assert_eq!(
            report(Expect::Eventual, unknown.clone(), Some((true, 0))).verdict(),
            Validity::Valid,
            "no local reads: convergence not checkable, nothing lost decides"
        );
        let mut nothing = report(Expect::Eventual, unknown, Some((true, 0)));
        nothing.lost_writes.as_mut().unwrap().judged = 0;
        assert_eq!(
            nothing.verdict(),
            Validity::Unknown,
            "no acknowledged append: nothing to judge"
        );
    }
}
