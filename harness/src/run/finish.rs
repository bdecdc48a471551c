//! The end of a run: check the history, decide the exit code, measure, and write results.json, summary.md and
//! report.html; print a table.

use super::faults::FaultRecord;
use super::guarantees::{self, GuaranteeReport};
use super::RunProblems;
use crate::exit;
use crate::settings::{Expect, RunConfig};
use crate::store::RunDir;
use anyhow::{Context, Result};
use checker::{CheckOptions, CheckResult, Validity};
use report::{ReportInput, RunMetrics};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tabled::builder::Builder;
use tabled::settings::{object::Columns, Modify, Style, Width};
use workloads::{Recorder, StatsSnapshot};

#[derive(Serialize)]
struct Results<'a> {
    /// true, false or "unknown": the checker's verdict on the history.
    valid: Validity,
    /// Whether the run itself did what it was meant to (faults hit their targets, cluster recovered).
    run_valid: bool,
    run_problems: &'a [String],
    exit_code: u8,
    elapsed_s: f64,
    check: Option<&'a CheckResult>,
    faults: &'a [FaultRecord],
    stats: &'a StatsSnapshot,
    detection: Option<Detection>,
    metrics: &'a RunMetrics,
    /// `expect`, `guarantees`, `lost_writes`, `staleness`, `violations`, `convergence`, `ladder`.
    #[serde(flatten)]
    guarantees: Option<&'a GuaranteeReport>,
    /// During partitions: availability to sessions homed on the cut-off side and on the majority side.
    cap: Option<report::CapAvailability>,
    /// Faults beyond the mode's assumptions ([`super::assumptions`]), said with the verdict.
    beyond_assumptions: Vec<String>,
    startup: Startup,
}

/// How long the cluster took to come up, from the start of the run (the history's clock, started just
/// before the network and the nodes).
#[derive(Serialize, Default, Debug, PartialEq)]
struct Startup {
    /// Until every node answered and they agreed on a leader (or on none).
    healthy_s: Option<f64>,
    /// Until the first client op was sent.
    first_op_s: Option<f64>,
}

impl Startup {
    fn of(events: &[checker::Event]) -> Startup {
        let secs = |e: &checker::Event| e.time as f64 / 1e9;
        Startup {
            healthy_s: events
                .iter()
                .find(|e| {
                    e.process == checker::Process::Named("harness".into()) && e.f == "healthy"
                })
                .map(secs),
            first_op_s: events
                .iter()
                .find(|e| matches!(e.process, checker::Process::Client(_)))
                .map(secs),
        }
    }
}

/// When the first anomaly happened relative to the fault before it (how fast a fault shows).
#[derive(Serialize)]
struct Detection {
    anomaly_time_s: f64,
    fault: Option<String>,
    fault_start_s: Option<f64>,
    delay_s: Option<f64>,
}

/// The anomaly is the linearizability counterexample, or with `--expect sessions|eventual` the earliest
/// violation of a guarantee it names.
fn detection(
    check: Option<&CheckResult>,
    report: Option<&GuaranteeReport>,
    faults: &[FaultRecord],
) -> Option<Detection> {
    let t_ns = match report.map(|r| r.expect) {
        Some(e) if e != Expect::Linearizable => report?
            .violations
            .iter()
            .filter(|v| e.decides().contains(&v.guarantee.as_str()))
            .filter_map(|v| v.time_ns)
            .min()?,
        _ => {
            let op = &check?.counterexample.as_ref()?.op;
            op.complete_time_ns.unwrap_or(op.invoke_time_ns)
        }
    };
    let t = t_ns as f64 / 1e9;
    let fault = faults.iter().rev().find(|f| f.hit && f.start_s <= t);
    Some(Detection {
        anomaly_time_s: t,
        fault: fault.map(|f| f.kind.name().to_string()),
        fault_start_s: fault.map(|f| f.start_s),
        delay_s: fault.map(|f| t - f.start_s),
    })
}

pub fn finish(
    cfg: &RunConfig,
    dir: &RunDir,
    recorder: &Arc<Recorder>,
    faults: Vec<FaultRecord>,
    problems: RunProblems,
    elapsed: Duration,
    print: bool,
) -> Result<u8> {
    if cfg.workload.kind.is_txn() {
        return super::txn::finish(cfg, dir, recorder, faults, problems, elapsed, print);
    }
    let Judged {
        events,
        history,
        check,
        report,
        problems,
    } = judge(cfg, recorder, problems)?;
    // The guarantees --expect names decide; for the default that is the linearizability verdict.
    let validity = report
        .as_ref()
        .map_or(Validity::Unknown, GuaranteeReport::verdict);
    let code = exit::of_run(validity, &problems);
    let snapshot = recorder.stats();
    let spans = super::spans::hit_spans(&faults);
    let metrics = RunMetrics::from_events(&events, &spans);
    let results = Results {
        valid: validity,
        run_valid: problems.is_empty(),
        run_problems: &problems,
        exit_code: code,
        elapsed_s: elapsed.as_secs_f64(),
        check: check.as_ref(),
        faults: &faults,
        stats: &snapshot,
        detection: detection(check.as_ref(), report.as_ref(), &faults),
        metrics: &metrics,
        guarantees: report.as_ref(),
        cap: report::cap_availability(&events, &spans, &cfg.cluster.nodes),
        beyond_assumptions: super::assumptions::beyond(cfg, &faults),
        startup: Startup::of(&events),
    };
    dir.write_json("results.json", &results)?;
    let page = ReportInput {
        title: cfg.output.name.clone(),
        events: &events,
        history: history.as_ref(),
        check: check.clone(),
        faults: spans,
        metrics: metrics.clone(),
        notes: [&results.beyond_assumptions[..], &problems].concat(),
        config: serde_json::to_value(cfg)?,
        guarantees: report.as_ref().map(guarantees::view),
    };
    report::write_report(&dir.root, &page).context("writing report.html")?;
    let summary = summary_md(cfg, dir, &results);
    dir.write_text("summary.md", &summary)?;
    if print {
        print_table(cfg, dir, &results);
    }
    Ok(code)
}

/// The history read back and judged, with the run's problems and the history's own.
struct Judged {
    events: Vec<checker::Event>,
    history: Option<checker::History>,
    check: Option<CheckResult>,
    report: Option<GuaranteeReport>,
    problems: RunProblems,
}

/// Read the history back, parse it, check it for linearizability and evaluate the guarantees.
fn judge(cfg: &RunConfig, recorder: &Arc<Recorder>, mut problems: RunProblems) -> Result<Judged> {
    let events = recorder.events().context("reading history.jsonl back")?;
    let any_ops = events
        .iter()
        .any(|e| matches!(e.process, checker::Process::Client(_)));
    // No client op at all (the cluster never came up) is a run problem already named, not a parse error.
    let history = match checker::parse_events(&events) {
        _ if !any_ops => None,
        Ok(history) => Some(history),
        Err(e) => {
            problems.push(format!("the recorded history does not parse: {e}"));
            None
        }
    };
    let check = history.as_ref().map(|history| {
        let opts = CheckOptions {
            time_limit: Some(cfg.check.time_limit),
            memory_limit_bytes: Some(4 << 30),
            threads: 2,
        };
        let mut c = checker::check(history, cfg.model(), &opts);
        report::roles::enrich(&mut c, &events, history);
        c
    });
    let append = cfg.workload.kind == workloads::WorkloadKind::Append;
    let report = history.as_ref().and_then(|h| {
        guarantees::evaluate(cfg.check.expect, append, Some(h), &events, check.as_ref())
            .map_err(|e| problems.push(e))
            .ok()
    });
    // A verdict with nothing to judge cannot vouch for the system: the run is invalid, with why.
    if let Some(r) = &report {
        problems.extend(guarantees::nothing_to_judge(r, &events, append));
    }
    Ok(Judged {
        events,
        history,
        check,
        report,
        problems,
    })
}

fn verdict_words(cfg: &RunConfig, r: &Results) -> String {
    let words = match (r.exit_code, r.valid) {
        (exit::INVALID, _) => format!("INVALID: anomaly found (--expect {})", cfg.check.expect),
        (exit::INVALID_RUN, _) => "INVALID RUN: the run did not do what it was meant to".into(),
        (_, Validity::Valid) => format!("valid: {}", cfg.check.expect.words()),
        _ if cfg.check.expect == Expect::Linearizable => {
            "UNKNOWN: the checker hit its bound".into()
        }
        _ => format!("UNKNOWN: not checkable here ({})", cfg.check.expect.words()),
    };
    super::assumptions::with_verdict(words, &r.beyond_assumptions)
}

/// The ladder, one row per guarantee (`✗ (decides): the first violation`), then lost writes and
/// staleness when checked.
fn ladder_lines(r: &Results) -> Vec<(String, String)> {
    let Some(g) = r.guarantees else {
        return vec![];
    };
    let mut rows: Vec<(String, String)> = g
        .ladder
        .iter()
        .map(|rung| {
            (
                rung.label.to_string(),
                format!("{}{}", rung.mark(), rung.detail()),
            )
        })
        .collect();
    if let Some(l) = &g.lost_writes {
        rows.push(("lost writes".into(), report::guarantees::lost_line(l)));
    }
    if let Some(s) = &g.staleness {
        rows.push(("staleness".into(), report::guarantees::staleness_line(s)));
    }
    rows
}

fn explanation(r: &Results) -> String {
    let mut s = String::new();
    if let Some(c) = r.check {
        if let Some(cx) = &c.counterexample {
            // Names who served each op it mentions (report::roles::enrich).
            s.push_str(&cx.explanation);
        } else if let Some(reason) = &c.unknown_reason {
            s.push_str(reason);
        }
    }
    for p in r.run_problems {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(p);
    }
    s
}

fn latency_line(m: &RunMetrics) -> String {
    let l = |x: &Option<report::LatencyStats>| {
        x.map_or("–".to_string(), |s| {
            format!("p50 {:.1} ms, p99 {:.1} ms", s.p50_ms, s.p99_ms)
        })
    };
    let avail = m.availability_in_faults.ratio.map_or(String::new(), |a| {
        format!("; {:.0}% of ops served during faults", a * 100.0)
    });
    format!(
        "reads {}; writes {}; {:.0} ok ops/s{avail}",
        l(&m.read_latency),
        l(&m.write_latency),
        m.throughput_ok_per_s
    )
}

fn faults_line(faults: &[FaultRecord]) -> String {
    if faults.is_empty() {
        return "none".into();
    }
    let hit = faults.iter().filter(|f| f.hit).count();
    format!("{hit}/{} hit their target", faults.len())
}

/// Each fault on a line: `partition-follower n1 (follower, term 1) 2.47–5.47 s`.
fn fault_lines(faults: &[FaultRecord]) -> String {
    let lines: Vec<String> = faults
        .iter()
        .map(|f| {
            let term = f.term.map(|t| format!(", term {t}")).unwrap_or_default();
            let window = match f.end_s {
                Some(e) => format!("{:.2}–{e:.2} s", f.start_s),
                None => format!("{:.2} s–the end", f.start_s),
            };
            let missed = if f.hit {
                String::new()
            } else {
                format!(" MISSED: {}", f.detail)
            };
            format!(
                "{} {} ({}{term}) {window}{missed}",
                f.kind.name(),
                f.targets.join(","),
                f.role,
            )
        })
        .collect();
    lines.join("\n")
}

fn print_table(cfg: &RunConfig, dir: &RunDir, r: &Results) {
    let mut b = Builder::default();
    b.push_record(["verdict".to_string(), verdict_words(cfg, r)]);
    b.push_record(["mode", &cfg.mode_label()]);
    b.push_record([
        "workload",
        &format!("{} via {} routing", cfg.workload.kind, cfg.workload.routing),
    ]);
    let names: Vec<&str> = cfg.faults.kinds.iter().map(|f| f.name()).collect();
    b.push_record([
        "nemesis",
        &format!("{} ({})", names.join(","), faults_line(r.faults)),
    ]);
    if !r.faults.is_empty() {
        b.push_record(["faults".to_string(), fault_lines(r.faults)]);
    }
    b.push_record(["ops".to_string(), r.metrics.outcome_words()]);
    if let Some(c) = r.check {
        b.push_record([
            "checked".to_string(),
            format!("{} ops, {} keys in {:.1} ms", c.ops, c.keys, c.elapsed_ms),
        ]);
    }
    b.push_record(["latency".to_string(), latency_line(r.metrics)]);
    for row in ladder_lines(r) {
        b.push_record([row.0, row.1]);
    }
    let why = explanation(r);
    if !why.is_empty() {
        b.push_record(["why", &why]);
    }
    b.push_record(["seed", &cfg.seed.to_string()]);
    b.push_record(["report", &dir.path("report.html").display().to_string()]);
    let mut table = b.build();
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::last()).with(Width::wrap(100).keep_words(true)));
    println!("{table}");
}

fn summary_md(cfg: &RunConfig, dir: &RunDir, r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", cfg.output.name);
    let _ = writeln!(s, "**{}** (exit {})\n", verdict_words(cfg, r), r.exit_code);
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| mode | {} |", cfg.mode_label());
    let _ = writeln!(
        s,
        "| workload | {}, {} workers, {} ops/s, {} routing |",
        cfg.workload.kind, cfg.workload.concurrency, cfg.workload.rate, cfg.workload.routing
    );
    let _ = writeln!(s, "| ops | {} |", r.metrics.outcome_words());
    let _ = writeln!(s, "| latency | {} |", latency_line(r.metrics));
    let _ = writeln!(s, "| seed | {} |", cfg.seed);
    let _ = writeln!(
        s,
        "| run | {:.1} s, store `{}` |",
        r.elapsed_s,
        dir.root.display()
    );
    let why = explanation(r);
    if !why.is_empty() {
        let _ = writeln!(s, "\n## Why\n\n{why}");
    }
    if let Some(g) = r.guarantees {
        let _ = writeln!(s, "\n## Guarantees (--expect {})\n", g.expect);
        for rung in &g.ladder {
            let _ = writeln!(s, "- {}", rung.line());
        }
        for (name, line) in ladder_lines(r).into_iter().skip(g.ladder.len()) {
            let _ = writeln!(s, "- {name}: {line}");
        }
    }
    if !r.faults.is_empty() {
        let _ = writeln!(s, "\n## Faults\n\n| fault | start (s) | end (s) | targets | role | hit | detail |\n|---|---|---|---|---|---|---|");
        for f in r.faults {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {} | {} | {} | {} | {} |",
                f.kind.name(),
                f.start_s,
                f.end_s
                    .map(|e| format!("{e:.2}"))
                    .unwrap_or_else(|| "-".into()),
                f.targets.join(" "),
                f.role,
                if f.hit { "yes" } else { "no" },
                f.detail
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use nemesis::family::{partition, process};

    #[test]
    fn startup_is_read_off_the_healthy_mark_and_the_first_client_op() {
        let at = |mut e: checker::Event, ms: u64| {
            e.time = ms * 1_000_000;
            e
        };
        let status = at(
            checker::Event::named("status", "status", serde_json::Value::Null),
            100,
        );
        let healthy = at(
            checker::Event::named("harness", "healthy", serde_json::Value::Null),
            1500,
        );
        let mut op = at(
            checker::Event::named("x", "read", serde_json::Value::Null),
            1750,
        );
        op.process = checker::Process::Client(0);
        let s = Startup::of(&[status.clone(), healthy, op]);
        assert_eq!(s.healthy_s, Some(1.5));
        assert_eq!(s.first_op_s, Some(1.75));
        // A cluster that never came up has neither.
        assert_eq!(Startup::of(&[status]), Startup::default());
    }

    #[test]
    fn each_fault_on_a_line_with_target_role_and_window() {
        let f = |kind, targets: &[&str], role: &str, end_s, hit| FaultRecord {
            kind,
            start_s: 2.5,
            end_s,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            role: role.into(),
            hit,
            term: Some(3),
            detail: "no leader to aim at".into(),
        };
        let lines = fault_lines(&[
            f(partition::FOLLOWER, &["n2"], "follower", Some(5.5), true),
            f(process::KILL_LEADER, &["n1"], "leader", None, false),
        ]);
        assert_eq!(
            lines,
            "partition-follower n2 (follower, term 3) 2.50–5.50 s\n\
             kill-leader n1 (leader, term 3) 2.50 s–the end MISSED: no leader to aim at"
        );
    }
}
