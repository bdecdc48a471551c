//! A cell's numbers: medians over its runs, the guarantee ladder, and the CAP label measured.

use super::expect::measured;
use super::plan::{CellSpec, Purpose};
use super::Cell;
use checker::Validity;
use serde::Serialize;
use serde_json::Value;

/// Guarantees shown in the ladder, with their short names.
pub const LADDER: [(&str, &str); 7] = [
    ("linearizable", "lin"),
    ("read_your_writes", "ryw"),
    ("monotonic_reads", "mr"),
    ("monotonic_writes", "mw"),
    ("writes_follow_reads", "wfr"),
    ("converged", "conv"),
    ("no_lost_writes", "lost"),
];

/// Below this share of its requests served, a side of a partition counts as unavailable.
pub const AVAILABLE: f64 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub spec: CellSpec,
    pub label: String,
    pub expected: String,
    pub why_expected: String,
    pub runs: usize,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub invalid_run: usize,
    pub as_expected: bool,
    pub unexpected: Vec<String>,
    /// Per guarantee of [`LADDER`]: runs where it held, runs where it broke.
    pub ladder: Vec<(String, usize, usize)>,
    pub lost_writes: Option<f64>,
    pub read_p50_ms: Option<f64>,
    pub read_p99_ms: Option<f64>,
    pub write_p50_ms: Option<f64>,
    pub write_p99_ms: Option<f64>,
    /// Ops served per second (ok, or a correct cas_failed).
    pub ok_per_s: Option<f64>,
    /// Share of ops invoked during a fault that the system served.
    pub availability_in_faults: Option<f64>,
    /// During partitions: share served to sessions on the cut-off side (where they started), and on the majority side.
    pub minority_available: Option<f64>,
    pub minority_reads: Option<f64>,
    pub minority_updates: Option<f64>,
    pub majority_available: Option<f64>,
    /// Share of the majority side's writes (updates) served during partitions.
    pub majority_updates: Option<f64>,
    /// `CP`, `AP`, `no-partition`, or what else was measured.
    pub cap: String,
    /// After a fault aimed at the leader: time to the first ok write and read.
    pub unavailable_write_s: Option<f64>,
    pub unavailable_read_s: Option<f64>,
    /// Largest share of the ok requests one node answered.
    pub busiest_node_share: Option<f64>,
    pub node_shares: String,
    /// The first anomaly found, in words.
    pub anomaly: Option<String>,
    pub fault_to_anomaly_s: Option<f64>,
    /// From the start of the run until the cluster was healthy, and until the first op.
    pub healthy_s: Option<f64>,
    pub first_op_s: Option<f64>,
    /// Each known bug the cell names, hit or not (see [`Cell::known_bug_lines`]).
    pub known_bugs: Vec<String>,
}

fn num(v: &Value, ptr: &str) -> Option<f64> {
    v.pointer(ptr).and_then(Value::as_f64)
}

/// A share as a percentage, `–` when not measured.
pub fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.0}%", v * 100.0))
}

pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// The CAP label from what was measured: whether the cut-off side was served (`minority`: the share of
/// its best-served kind of request), and whether the cell kept linearizability in every run.
pub fn cap_label(partitioned: bool, minority: Option<f64>, consistent: Validity) -> String {
    if !partitioned {
        return "no-partition".into();
    }
    match (minority.map(|m| m >= AVAILABLE), consistent) {
        (None, _) => "no minority clients".into(),
        (_, Validity::Unknown) => "not checkable".into(),
        (Some(false), Validity::Valid) => "CP".into(),
        (Some(true), Validity::Invalid) => "AP".into(),
        (Some(false), Validity::Invalid) => "unavailable and inconsistent".into(),
        (Some(true), Validity::Valid) => "available and consistent".into(),
    }
}

impl Row {
    pub fn of(c: &Cell) -> Row {
        let med = |ptr: &str| median(c.runs.iter().filter_map(|r| num(&r.results, ptr)).collect());
        // Share of the successful requests each node answered (failed ones cost it little).
        let ok: Vec<(String, f64)> = c
            .runs
            .first()
            .and_then(|r| r.results.pointer("/metrics/nodes"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(n, s)| Some((n.clone(), s.get("ok")?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let total: f64 = ok.iter().map(|(_, k)| k).sum();
        let shares: Vec<(String, f64)> = ok
            .into_iter()
            .map(|(n, k)| (n, if total > 0.0 { k / total } else { 0.0 }))
            .collect();
        let first_anomaly = c.runs.iter().find_map(|r| {
            let cx = r
                .results
                .pointer("/check/counterexample/explanation")
                .and_then(Value::as_str);
            let violation = r
                .results
                .pointer("/violations/0/sentence")
                .and_then(Value::as_str);
            cx.or(violation).map(str::to_string)
        });
        let ladder: Vec<(String, usize, usize)> = LADDER
            .iter()
            .map(|(g, _)| {
                let seen: Vec<Validity> = c
                    .runs
                    .iter()
                    .filter(|r| matches!(r.exit_code, 0 | 1))
                    .map(|r| measured(g, r.exit_code, &r.results))
                    .collect();
                let count = |v: Validity| seen.iter().filter(|s| **s == v).count();
                (
                    g.to_string(),
                    count(Validity::Valid),
                    count(Validity::Invalid),
                )
            })
            .collect();
        let lin = &ladder[0];
        let consistent: Validity = (lin.1 + lin.2 > 0).then_some(lin.2 == 0).into();
        let partitioned = c
            .runs
            .iter()
            .any(|r| r.results.get("cap").is_some_and(|v| !v.is_null()));
        let minority = med("/cap/minority_ratio");
        let side = |side: &str, class: &str| {
            median(
                c.runs
                    .iter()
                    .filter_map(|r| side_ratio(&r.results, side, class))
                    .collect(),
            )
        };
        let (minority_reads, minority_updates) =
            (side("minority", "reads"), side("minority", "updates"));
        // A side is available when one kind of request is mostly served there: a cut-off leader that
        // answers reads but refuses writes serves its clients' reads.
        let best = minority_reads
            .into_iter()
            .chain(minority_updates)
            .reduce(f64::max)
            .or(minority);
        let unexpected = c.unexpected();
        Row {
            spec: c.spec.clone(),
            label: c.spec.label(),
            expected: c.expect.name(),
            why_expected: c.expect.why.clone(),
            runs: c.runs.len(),
            valid: c.count(crate::exit::VALID),
            invalid: c.count(crate::exit::INVALID),
            unknown: c.count(crate::exit::UNKNOWN),
            invalid_run: c.count(crate::exit::INVALID_RUN),
            as_expected: unexpected.is_empty(),
            unexpected,
            ladder,
            lost_writes: med("/lost_writes/count"),
            read_p50_ms: med("/metrics/read_latency/p50_ms"),
            read_p99_ms: med("/metrics/read_latency/p99_ms"),
            write_p50_ms: med("/metrics/write_latency/p50_ms"),
            write_p99_ms: med("/metrics/write_latency/p99_ms"),
            ok_per_s: med("/metrics/throughput_ok_per_s"),
            availability_in_faults: med("/metrics/availability_in_faults/ratio"),
            minority_available: minority,
            minority_reads,
            minority_updates,
            majority_available: med("/cap/majority_ratio"),
            majority_updates: side("majority", "updates"),
            cap: cap_label(partitioned, best, consistent),
            unavailable_write_s: med("/metrics/unavailability_summary/write_median_s"),
            unavailable_read_s: med("/metrics/unavailability_summary/read_median_s"),
            busiest_node_share: shares.iter().map(|(_, s)| *s).reduce(f64::max),
            node_shares: shares
                .iter()
                .map(|(n, s)| format!("{n} {:.0}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(" "),
            anomaly: first_anomaly,
            fault_to_anomaly_s: med("/detection/delay_s"),
            healthy_s: med("/startup/healthy_s"),
            first_op_s: med("/startup/first_op_s"),
            known_bugs: c.known_bug_lines(),
        }
    }

    pub fn verdicts(&self) -> String {
        format!(
            "{}✓ {}✗ {}? {}!",
            self.valid, self.invalid, self.unknown, self.invalid_run
        )
    }

    /// `lin ✓ ryw ✗ mr ✓ ...`: ✓ held in every run, ✗ broke in every run, `2✓1✗` mixed; guarantees never
    /// checked are left out.
    pub fn ladder_words(&self) -> String {
        LADDER
            .iter()
            .zip(&self.ladder)
            .filter(|(_, (_, h, b))| h + b > 0)
            .map(|((_, short), (_, held, broke))| match (held, broke) {
                (_, 0) => format!("{short} ✓"),
                (0, _) => format!("{short} ✗"),
                (h, b) => format!("{short} {h}✓{b}✗"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn is_sweep(&self) -> bool {
        self.spec.purpose == Purpose::Latency
    }
}

fn side_ratio(results: &Value, side: &str, class: &str) -> Option<f64> {
    let s = results.get("cap")?.get(side)?;
    let n = s.get(class)?.as_f64()?;
    let served = s.get(format!("{class}_served"))?.as_f64()?;
    (n > 0.0).then(|| served / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_labels_follow_what_was_measured() {
        assert_eq!(cap_label(false, None, Validity::Valid), "no-partition");
        assert_eq!(cap_label(true, Some(0.1), Validity::Valid), "CP");
        assert_eq!(cap_label(true, Some(0.9), Validity::Invalid), "AP");
        assert_eq!(
            cap_label(true, Some(0.1), Validity::Invalid),
            "unavailable and inconsistent"
        );
    }
}
