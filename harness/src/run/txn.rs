//! Runs of the txn workloads (`--workload txn-append|txn-register`): the options they allow, and the end
//! of such a run, where the transactional checker (`checker::txn`, as `harness check --model
//! list-append|rw-register` uses it) judges the history against `--consistency` instead of the
//! per-key linearizability checker. Exit codes are a linearizability run's: 0 valid, 1 an anomaly,
//! 3 a run that did not do what it was meant to.

use super::args::RunArgs;
use super::faults::FaultRecord;
use super::RunProblems;
use crate::exit;
use crate::settings::{Expect, RunConfig, SystemKind};
use crate::store::RunDir;
use anyhow::{Context, Result};
use checker::txn::{check_txn, load_txn_history, Consistency, TxnModel, TxnOptions, TxnReport};
use checker::Validity;
use report::RunMetrics;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Recorder, StatsSnapshot, WorkloadKind};

/// What the txn workloads need of the other options; `--consistency` only means something with them.
pub fn validate(a: &RunArgs) -> Result<(), String> {
    if !a.workload.is_txn() {
        return match a.consistency {
            Some(_) => Err(format!(
                "--consistency judges transactions: it needs --workload txn-append or txn-register, not {}",
                a.workload
            )),
            None => Ok(()),
        };
    }
    if !matches!(
        a.system,
        SystemKind::Node
            | SystemKind::Exec
            | SystemKind::Etcd
            | SystemKind::Galera
            | SystemKind::Patroni
    ) {
        return Err(format!(
            "--workload {} sends transactions (POST /txn, docs/protocol.md; etcd's txn; SQL), which \
             only --system node, exec, etcd, galera and patroni serve; {} is not wired for them",
            a.workload, a.system
        ));
    }
    if a.expect != Expect::Linearizable {
        return Err(format!(
            "--expect {} does not apply to --workload {}: transactions are judged by --consistency",
            a.expect, a.workload
        ));
    }
    Ok(())
}

/// The checker's model for a txn workload.
pub fn model(w: WorkloadKind) -> TxnModel {
    match w {
        WorkloadKind::TxnRegister => TxnModel::RwRegister,
        _ => TxnModel::ListAppend,
    }
}

#[derive(Serialize)]
struct Results<'a> {
    /// true or false: the transactional checker's verdict against `consistency` (null: not checked).
    #[serde(with = "checker::validity::nullable")]
    valid: Validity,
    run_valid: bool,
    run_problems: &'a [String],
    exit_code: u8,
    elapsed_s: f64,
    consistency: Consistency,
    /// The checker's report (anomalies, cycles, the strongest model still consistent).
    txn: Option<&'a TxnReport>,
    faults: &'a [FaultRecord],
    stats: &'a StatsSnapshot,
    metrics: &'a RunMetrics,
}

/// The end of a txn run: check, decide the exit code, write results.json, summary.md and report.html
/// (the verdict and each cycle drawn), print the verdict.
pub fn finish(
    cfg: &RunConfig,
    dir: &RunDir,
    recorder: &Arc<Recorder>,
    faults: Vec<FaultRecord>,
    mut problems: RunProblems,
    elapsed: Duration,
    print: bool,
) -> Result<u8> {
    let events = recorder.events().context("reading history.jsonl back")?;
    let consistency = cfg
        .check
        .consistency
        .unwrap_or(Consistency::StrictSerializable);
    let model = model(cfg.workload.kind);
    let checked = load_txn_history(&dir.path("history.jsonl"), model)
        .map_err(|e| e.to_string())
        .and_then(|h| {
            let opts = TxnOptions { consistency };
            check_txn(&h, model, &opts).map(|r| (h, r))
        });
    let (history, report) = match checked {
        Ok((h, r)) => (Some(h), Some(r)),
        Err(e) => {
            problems.push(format!("the transactional check could not run: {e}"));
            (None, None)
        }
    };
    // A pass with no committed transaction vouches for nothing: the run is invalid, with why.
    if report.as_ref().is_some_and(|r| r.ok == 0) {
        problems.push("no transaction completed ok: the check had nothing to judge".into());
    }
    let valid = report
        .as_ref()
        .map_or(Validity::Unknown, |r| r.valid.into());
    let code = exit::of_run(valid, &problems);
    let spans = super::spans::hit_spans(&faults);
    let metrics = RunMetrics::from_events(&events, &spans);
    let stats = recorder.stats();
    let results = Results {
        valid,
        run_valid: problems.is_empty(),
        run_problems: &problems,
        exit_code: code,
        elapsed_s: elapsed.as_secs_f64(),
        consistency,
        txn: report.as_ref(),
        faults: &faults,
        stats: &stats,
        metrics: &metrics,
    };
    dir.write_json("results.json", &results)?;
    if let Some(r) = &report {
        let page = report::TxnPage {
            title: &cfg.output.name,
            report: r,
            history: history.as_ref(),
        };
        dir.write_text("report.html", &report::render_txn(&page))?;
    }
    let text = summary(cfg, dir, &results);
    dir.write_text("summary.md", &text)?;
    if print {
        println!("{text}");
    }
    Ok(code)
}

/// The verdict in one sentence, as the other runs say it.
fn verdict_words(r: &Results) -> String {
    match (r.exit_code, r.txn) {
        (exit::INVALID, Some(t)) => format!(
            "INVALID: anomaly found (not {}: {})",
            t.consistency,
            t.ruled_out_by.join(", ")
        ),
        (exit::INVALID_RUN, _) => "INVALID RUN: the run did not do what it was meant to".into(),
        (_, Some(t)) if t.valid => format!("valid: {}", t.consistency),
        _ => "UNKNOWN: the history could not be checked".into(),
    }
}

fn summary(cfg: &RunConfig, dir: &RunDir, r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", cfg.output.name);
    let _ = writeln!(s, "**{}** (exit {})\n", verdict_words(r), r.exit_code);
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| mode | {} |", cfg.mode_label());
    let _ = writeln!(
        s,
        "| workload | {} ({}), {} keys, {} workers, {} ops/s, {} routing |",
        cfg.workload.kind,
        model(cfg.workload.kind).as_str(),
        cfg.workload.keys,
        cfg.workload.concurrency,
        cfg.workload.rate,
        cfg.workload.routing
    );
    let faults: Vec<String> = r
        .faults
        .iter()
        .map(|f| format!("{} {} ({})", f.kind.name(), f.targets.join(","), f.role))
        .collect();
    let _ = writeln!(s, "| faults | {} |", faults.join("; "));
    let _ = writeln!(s, "| ops | {} |", r.metrics.outcome_words());
    if let Some(t) = r.txn {
        let _ = writeln!(
            s,
            "| checked | {} txns ({} ok, {} info, {} fail), {} micro-ops on {} keys |",
            t.txns, t.ok, t.info, t.fail, t.micro_ops, t.keys
        );
        let strongest: Vec<&str> = t.verdict.strongest.iter().map(|c| c.as_str()).collect();
        let _ = writeln!(
            s,
            "| strongest model still consistent | {} |",
            strongest.join(", ")
        );
    }
    let _ = writeln!(s, "| seed | {} |", cfg.seed);
    let _ = writeln!(s, "| report | {} |", dir.path("report.html").display());
    anomaly_lines(&mut s, r);
    s
}

/// The first anomalies in full, then what could not be checked and the run's problems.
fn anomaly_lines(s: &mut String, r: &Results) {
    if let Some(t) = r.txn {
        if !t.anomalies.is_empty() {
            let _ = writeln!(s, "\n## Anomalies\n");
            for a in t.anomalies.iter().take(10) {
                let _ = writeln!(s, "- {}: {}", a.name, a.sentence);
            }
            for (n, line) in t.named_txns.iter().take(20) {
                let _ = writeln!(s, "- T{n}: {line}");
            }
        }
        for n in &t.not_checked {
            let _ = writeln!(s, "\nnot checked: {n}");
        }
    }
    for p in r.run_problems {
        let _ = writeln!(s, "\n{p}");
    }
}
