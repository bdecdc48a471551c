//! `harness check FILE`: the thin CLI over the `checker` library.

use crate::exit;

mod ladder;
mod txn;
use checker::txn::Consistency;
use checker::{CheckOptions, CheckResult, Method, ModelKind, Validity};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use tabled::settings::{object::Columns, Modify, Style, Width};
use tabled::{Table, Tabled};

/// What `harness check` exits with; shown under `--help`.
pub const EXIT_CODES: &str =
    "Exit codes: 0 valid, 1 invalid (not linearizable), 2 unknown (a time or memory bound \
was hit), 254 bad arguments or an unreadable history (the error names the line), 255 crash.";

/// Check a history for linearizability and report the verdict, and whether inference (from unique
/// values) or the search decided each key.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History file: our history.jsonl, a Jepsen/Knossos EDN history (maps one per line or spread over
    /// lines, optionally in [...] or (...)), a JSON array of op objects, or JSON Lines of them.
    pub file: PathBuf,

    /// Model to check against: register (read/write), cas-register (read/write/cas [from to]), kv
    /// (a register per key; also get/put/append on strings) or list-append (append of integers and
    /// whole-list reads, also Elle :txn histories with one micro-op; prints every session guarantee).
    /// Default: guessed from the ops.
    #[arg(long, value_name = "NAME")]
    pub model: Option<ModelKind>,

    /// Transactional histories (Elle `:txn` ops with several micro-ops, list-append or rw-register): the
    /// consistency model to check against: strict-serializable (default), serializable,
    /// snapshot-isolation, repeatable-read, read-committed or read-uncommitted, or strong-session- before
    /// serializable, snapshot-isolation, read-committed or read-uncommitted.
    #[arg(long, value_name = "MODEL")]
    pub consistency: Option<Consistency>,

    /// Give up with verdict unknown (exit 2) after this many seconds (at most 86400); 0 means no limit.
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    pub time_limit: f64,

    /// Give up with verdict unknown (exit 2) when the search would hold more than this much memory:
    /// a number of bytes with an optional K, M or G suffix, at most 1024G. Default: 4G, or half the
    /// available memory if that is less.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<usize>,

    /// Keys checked at once (1 to 256; default: the number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub threads: Option<usize>,

    /// Print the result as JSON (the verdict, counts, time and counterexample) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Transactional histories only: also write a self-contained HTML page to PATH: the verdict, the
    /// models ruled out, the anomalies, and each dependency cycle drawn (the first 20).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

/// The longest `--time-limit` (a day), in seconds.
const MAX_TIME_LIMIT_S: f64 = 86_400.0;
/// The largest `--memory-limit`: 1024G.
const MAX_MEMORY: usize = 1 << 40;

fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 1usize << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| {
        format!("{s:?} is not a size: use bytes, or a number with K, M or G (e.g. 512M)")
    })?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("{s:?}: the memory limit must be positive"));
    }
    if n * mult as f64 > MAX_MEMORY as f64 {
        return Err(format!(
            "{s:?} is more than the largest memory limit, 1024G"
        ));
    }
    Ok((n * mult as f64) as usize)
}

/// Half of MemAvailable, for the default memory bound (None where /proc/meminfo is unreadable).
fn half_available_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 2)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    #[serde(flatten)]
    result: &'a CheckResult,
}

#[derive(Tabled)]
struct Row {
    verdict: String,
    model: String,
    ops: String,
    keys: usize,
    time: String,
    explanation: String,
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    if !(args.time_limit.is_finite() && (0.0..=MAX_TIME_LIMIT_S).contains(&args.time_limit)) {
        eprintln!(
            "harness check: --time-limit must be a number of seconds from 0 to {MAX_TIME_LIMIT_S}, got {}",
            args.time_limit
        );
        return Ok(exit::BAD_ARGS);
    }
    if let Some(model) = txn::asked(&args) {
        return txn::run(&args, model, None);
    }
    let history = match checker::load_history(&args.file) {
        Ok(h) => h,
        // Elle's own histories often list completions only, without :process: try them as transactions.
        Err(e) if matches!(args.model, None | Some(ModelKind::ListAppend)) => {
            return txn::run(
                &args,
                checker::txn::TxnModel::ListAppend,
                Some(e.to_string()),
            );
        }
        Err(e) => {
            eprintln!("harness check: {}: {e}", args.file.display());
            return Ok(exit::BAD_ARGS);
        }
    };
    if history.truncated_tail {
        eprintln!("harness check: warning: the last line of {} was cut short (a crashed run?) and was ignored", args.file.display());
    }
    let model = args.model.unwrap_or_else(|| history.guess_model());
    if model == ModelKind::ListAppend && txn::needs_txn_checker(&history) {
        return txn::run(&args, checker::txn::TxnModel::ListAppend, None);
    }
    if args.report.is_some() {
        // The page draws dependency cycles; the per-key checkers have none.
        let hint = if model == ModelKind::ListAppend {
            ": add --consistency MODEL to check this list-append history as transactions"
        } else {
            ""
        };
        eprintln!(
            "harness check: --report draws transactional histories only (Elle :txn ops){hint}"
        );
        return Ok(exit::BAD_ARGS);
    }
    if model == ModelKind::ListAppend {
        return ladder::run(&args, history);
    }
    let default_memory = half_available_memory().map_or(4 << 30, |m| m.min(4 << 30));
    let opts = CheckOptions {
        time_limit: (args.time_limit > 0.0).then(|| Duration::from_secs_f64(args.time_limit)),
        memory_limit_bytes: Some(args.memory_limit.unwrap_or(default_memory)),
        threads: args
            .threads
            .unwrap_or_else(|| CheckOptions::default().threads),
    };
    let mut result = match checker::try_check(&history, model, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("harness check: {}: {e}", args.file.display());
            return Ok(exit::BAD_ARGS);
        }
    };
    served_by(&args.file, &history, &mut result);
    if args.json {
        let report = JsonReport {
            file: args.file.display().to_string(),
            result: &result,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&args, &result);
    }
    Ok(result.valid.exit_code())
}

/// Our histories carry `/status` samples: the explanation then says who served each op it names.
fn served_by(file: &std::path::Path, history: &checker::History, result: &mut CheckResult) {
    if history.format != checker::Format::Jsonl || result.counterexample.is_none() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    let events: Vec<checker::Event> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    report::roles::enrich(result, &events, history);
}

fn print_table(args: &CheckArgs, r: &CheckResult) {
    let mut ops = r.ops.to_string();
    if r.info_ops > 0 || r.failed_ops > 0 {
        ops = format!("{ops} ({} info; {} fail dropped)", r.info_ops, r.failed_ops);
    }
    let row = Row {
        verdict: r.valid.to_string(),
        model: r.model.clone(),
        ops,
        keys: r.keys,
        time: format!("{:.1} ms", r.elapsed_ms),
        explanation: r.explanation.clone(),
    };
    let mut table = Table::new([row]);
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::last()).with(Width::wrap(72).keep_words(true)));
    println!("{}", args.file.display());
    println!("{table}");
    for line in method_lines(r) {
        println!("{line}");
    }
    if let Some(c) = &r.counterexample {
        println!("op that cannot be linearized: {}", summary(&c.op));
        println!(
            "state after the longest linearizable prefix ({} ops): {}",
            c.prefix_len, c.state
        );
        if !c.window.is_empty() {
            println!("concurrent with it:");
            for o in &c.window {
                println!("  {}", summary(o));
            }
        }
    }
}

/// Which method (inference or search) decided each key: one line per key for a few keys, else counts.
fn method_lines(r: &CheckResult) -> Vec<String> {
    const LISTED: usize = 20;
    let decided = |k: &&checker::KeyResult| k.valid != Validity::Unknown;
    if r.per_key.len() <= LISTED {
        return r
            .per_key
            .iter()
            .filter(decided)
            .map(|k| {
                let key = k
                    .key
                    .as_ref()
                    .map(|k| format!("key {k:?}"))
                    .unwrap_or_else(|| "the history".to_string());
                format!("{key}: {} by {}", k.valid, k.method.as_str())
            })
            .collect();
    }
    let count = |m: Method| {
        r.per_key
            .iter()
            .filter(decided)
            .filter(|k| k.method == m)
            .count()
    };
    vec![format!(
        "keys decided by inference: {}, by search: {}, undecided: {}",
        count(Method::Inference),
        count(Method::Search),
        r.per_key.iter().filter(|k| !decided(k)).count()
    )]
}

fn summary(o: &checker::OpSummary) -> String {
    let key = o
        .key
        .as_ref()
        .map(|k| format!(" key {k}"))
        .unwrap_or_default();
    let out = if o.output.is_null() {
        String::new()
    } else {
        format!(" -> {}", o.output)
    };
    let done = o
        .complete_index
        .map(|i| i.to_string())
        .unwrap_or_else(|| "open".into());
    format!(
        "process {} {}{key} {}{out} [{}] (index {}..{})",
        o.process, o.f, o.value, o.outcome, o.invoke_index, done
    )
}
