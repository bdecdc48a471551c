//! `harness check FILE --model list-append|rw-register` on Elle transactions (`:f :txn` with several
//! micro-ops): the transactional checker's verdict against `--consistency`, every anomaly as a sentence,
//! and with `--report PATH` the same as an HTML page with each cycle drawn.

use super::CheckArgs;
use crate::exit;
use checker::txn::{check_txn, load_txn_history, Consistency, TxnModel, TxnOptions, TxnReport};
use checker::{History, ModelKind};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Whether the arguments alone send the file to the transactional checker.
pub fn asked(args: &CheckArgs) -> Option<TxnModel> {
    match (args.model, args.consistency) {
        (Some(ModelKind::RwRegister), _) => Some(TxnModel::RwRegister),
        (Some(ModelKind::ListAppend) | None, Some(_)) => Some(TxnModel::ListAppend),
        _ => None,
    }
}

/// Whether a parsed list-append history holds transactions the per-key checker cannot take (more or
/// fewer than one micro-op).
pub fn needs_txn_checker(history: &History) -> bool {
    history
        .ops
        .iter()
        .any(|o| o.f == "txn" && o.value.as_array().is_none_or(|m| m.len() != 1))
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    elapsed_ms: f64,
    #[serde(flatten)]
    report: &'a TxnReport,
}

/// Reads and checks the file; a list-append reading that meets `:w` micro-ops is retried as
/// rw-register unless the model was given. `fallback` is an error to show instead of ours when the
/// file was not meant for this checker.
pub fn run(args: &CheckArgs, model: TxnModel, fallback: Option<String>) -> anyhow::Result<u8> {
    if let Some(path) = &args.report {
        if let Err(why) = report_path_ok(path) {
            eprintln!("harness check: --report {}: {why}", path.display());
            return Ok(exit::BAD_ARGS);
        }
    }
    let start = Instant::now();
    let mut model = model;
    let mut loaded = load_txn_history(&args.file, model);
    if args.model.is_none() && model == TxnModel::ListAppend {
        if let Err(e) = &loaded {
            if e.to_string().contains("micro-op :w ") {
                model = TxnModel::RwRegister;
                loaded = load_txn_history(&args.file, model);
            }
        }
    }
    let history = match loaded {
        Ok(h) => h,
        Err(e) => {
            let msg = fallback.unwrap_or_else(|| e.to_string());
            eprintln!("harness check: {}: {msg}", args.file.display());
            return Ok(exit::BAD_ARGS);
        }
    };
    let opts = TxnOptions {
        consistency: args.consistency.unwrap_or(Consistency::StrictSerializable),
    };
    let report = match check_txn(&history, model, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("harness check: {}: {e}", args.file.display());
            return Ok(exit::BAD_ARGS);
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    // The page is written before anything is printed, so a closed stdout cannot lose it.
    let written = args.report.as_ref().map(|path| {
        let title = args.file.display().to_string();
        let page = report::TxnPage {
            title: &title,
            report: &report,
            history: Some(&history),
        };
        write_atomic(path, report::render_txn(&page).as_bytes()).map_err(|e| (path, e))
    });
    if args.json {
        let j = JsonReport {
            file: args.file.display().to_string(),
            elapsed_ms,
            report: &report,
        };
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_report(args, &report, elapsed_ms);
    }
    if let Some(Err((path, e))) = written {
        eprintln!("harness check: --report {}: {e}", path.display());
        return Ok(exit::BAD_ARGS);
    }
    Ok(if report.valid {
        exit::VALID
    } else {
        exit::INVALID
    })
}

fn names(cs: &[Consistency]) -> String {
    if cs.is_empty() {
        return "none".into();
    }
    cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

fn print_report(args: &CheckArgs, r: &TxnReport, elapsed_ms: f64) {
    println!("{}", args.file.display());
    let verdict = if r.valid {
        format!("valid: {}", r.consistency)
    } else {
        format!("invalid: not {}", r.consistency)
    };
    println!(
        "{verdict} ({}): {} txns ({} ok, {} info, {} fail), {} micro-ops on {} keys, checked in {elapsed_ms:.1} ms",
        r.model.as_str(), r.txns, r.ok, r.info, r.fail, r.micro_ops, r.keys
    );
    if !r.ruled_out_by.is_empty() {
        println!("ruled out by: {}", r.ruled_out_by.join(", "));
    }
    println!(
        "strongest model still consistent: {}",
        names(&r.verdict.strongest)
    );
    if !r.verdict.not.is_empty() {
        println!(
            "not: {}; also not: {}",
            names(&r.verdict.not),
            names(&r.verdict.also_not)
        );
    }
    if !r.anomalies.is_empty() {
        println!("anomalies:");
        for (name, n) in &r.anomaly_counts {
            println!("  {name} ({n}):");
            for a in r.anomalies.iter().filter(|a| &a.name == name) {
                println!("    - {}", a.sentence);
            }
        }
        println!("transactions named above:");
        for (t, line) in &r.named_txns {
            println!("  T{t}: {line}");
        }
    }
    for n in &r.not_checked {
        println!("not checked: {n}");
    }
}

/// Refuses a `--report` path that cannot be written before any checking is done.
fn report_path_ok(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err("is a directory; give a file name such as report.html".into());
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(format!("the directory {} does not exist", dir.display()));
    }
    Ok(())
}

/// The directory a path is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes through a temporary file beside `path`, then renames it, so `path` is never half-written; the
/// temporary file is removed if anything fails.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or("report".into(), |n| n.to_string_lossy());
    let tmp = parent_dir(path).join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
