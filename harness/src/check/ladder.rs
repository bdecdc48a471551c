//! `harness check FILE --model list-append`: every guarantee the append checker decides, as a ladder with
//! the first violation of each and what each judged, plus staleness. The exit code follows
//! linearizability as reported: a history with no read, or no append acknowledged or read back, has
//! nothing to judge and is unknown (exit 2), not valid.

use super::CheckArgs;
use crate::exit;
use checker::append::{check_append, normalize_txn_ops, AppendOptions, AppendReport, Violation};
use checker::{History, Validity};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    model: &'static str,
    #[serde(with = "checker::validity::nullable")]
    valid: Validity,
    elapsed_ms: f64,
    #[serde(flatten)]
    report: &'a AppendReport,
}

pub fn run(args: &CheckArgs, history: History) -> anyhow::Result<u8> {
    let start = Instant::now();
    let checked =
        normalize_txn_ops(history).and_then(|h| check_append(&h, &AppendOptions::default()));
    let report = match checked {
        Ok(r) => r,
        Err(e) => {
            eprintln!("harness check: {}: {e}", args.file.display());
            return Ok(exit::BAD_ARGS);
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    if args.json {
        let j = JsonReport {
            file: args.file.display().to_string(),
            model: "list-append",
            valid: report.reported().linearizable,
            elapsed_ms,
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_ladder(args, &report, elapsed_ms);
    }
    Ok(report.reported().linearizable.exit_code())
}

fn rung(report: &AppendReport, name: &str, kept: Validity) -> String {
    let n = report.violation_counts.get(name).copied().unwrap_or(0);
    let judged = report.judged.get(name).unwrap_or_default();
    let mark = kept.mark();
    match kept {
        Validity::Valid => format!(
            "  {mark} {name} {}",
            report::guarantees::over_words(name, judged)
        ),
        Validity::Invalid => {
            let first = report
                .first_violation(name)
                .map(|v: &Violation| format!("\n      key {}: {}", v.key, v.sentence))
                .unwrap_or_default();
            format!(
                "  {mark} {name} ({n} violation{}){first}",
                if n == 1 { "" } else { "s" }
            )
        }
        Validity::Unknown => format!(
            "  {mark} {name}: {}",
            report::guarantees::nothing_words(name, judged)
        ),
    }
}

fn print_ladder(args: &CheckArgs, r: &AppendReport, elapsed_ms: f64) {
    let g = &r.reported();
    let verdict = g.linearizable;
    println!("{}", args.file.display());
    println!(
        "{verdict} (list-append): {} ops ({} appends) on {} key(s), checked in {elapsed_ms:.1} ms",
        r.ops, r.appends, r.keys
    );
    println!("guarantees:");
    for (name, kept) in [
        ("linearizable", g.linearizable),
        ("read_your_writes", g.read_your_writes),
        ("monotonic_reads", g.monotonic_reads),
        ("monotonic_writes", g.monotonic_writes),
        ("writes_follow_reads", g.writes_follow_reads),
    ] {
        println!("{}", rung(r, name, kept));
    }
    println!("  – converged (needs every node's local state: checked by harness run)");
    if r.lost_writes.checked {
        println!(
            "lost writes: {}",
            report::guarantees::lost_line(&r.lost_writes)
        );
    }
    println!(
        "staleness: {}",
        report::guarantees::staleness_line(&r.staleness)
    );
}
