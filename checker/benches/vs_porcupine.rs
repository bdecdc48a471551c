//! The checker's side of the comparison with porcupine (issue 24), timed the way `benches/porcupine`'s Go
//! driver times porcupine: process CPU time of one pass over a case, batched so that a batch takes about
//! 20 ms, median over 3 rounds x 11 batches. `benches/porcupine/run.sh` runs both, case by case.
//!
//! `cargo bench -p checker --bench vs_porcupine -- [--threads N] [--rounds R] [--reps K] CASE...`
//!
//! Cases: `etcd` (every file of porcupine-etcd, one after another; `cas-register`), `etcd_NNN`, the kv files
//! (`c01-ok` ... `c50-bad`; `kv`), and the repeated-value register histories `rep-OPSk-PROCS[-bad]` (writes
//! from 1..5; `-bad` has one stale read near the end; `rep2-...`: two of them under two keys). Histories
//! are loaded before timing, as porcupine's are parsed before its check. Semantics: `fail` ops are
//! dropped, `info` ops may take effect at any time after their call or never (the driver gives porcupine
//! the same). Each line also has the wall time per pass (`wall_us`): at `--threads 2`, beside the
//! 1-thread figure, the parallel speedup. `--search-only` skips inference; `--memory-mib` and `--time-s`
//! set the check's bounds; `--write-edn DIR` writes the generated cases as EDN for the Go driver.

#[allow(dead_code)]
mod synth;

use checker::{
    load_history, parse_events, try_check_with, CheckOptions, CheckResult, History, Methods,
    ModelKind, Validity,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn histories_dir() -> PathBuf {
    std::env::var_os("LH_HISTORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories"))
}

fn expected(dir: &Path) -> Vec<(String, bool)> {
    std::fs::read_to_string(dir.join("expected.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let f = it.next()?;
            let v = it.next()?;
            let name = Path::new(f).file_name()?.to_string_lossy().into_owned();
            Some((name, v == "true"))
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

struct Case {
    histories: Vec<(String, History, ModelKind)>,
    description: &'static str,
}

fn load_case(dir: &Path, name: &str) -> Case {
    let file = |p: PathBuf| {
        let h = load_history(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let n = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        (n, h)
    };
    if name == "etcd" {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("porcupine-etcd"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "edn"));
        files.sort();
        let histories = files
            .into_iter()
            .map(|p| {
                let (n, h) = file(p);
                (n, h, ModelKind::CasRegister)
            })
            .collect();
        return Case {
            histories,
            description: "every etcd history, cas-register",
        };
    }
    if name.starts_with("etcd_") {
        let (n, h) = file(dir.join(format!("porcupine-etcd/{name}.edn")));
        return Case {
            histories: vec![(n, h, ModelKind::CasRegister)],
            description: "one etcd history, cas-register",
        };
    }
    if let Some(events) = generated(name) {
        let h = parse_events(&events).expect("generated history parses");
        return Case {
            histories: vec![(name.to_string(), h, ModelKind::Register)],
            description: "generated register, writes from 1..5",
        };
    }
    let (n, h) = file(dir.join(format!("porcupine-kv/{name}.edn")));
    Case {
        histories: vec![(n, h, ModelKind::Kv)],
        description: "kv, partitioned by key",
    }
}

/// The repeated-value register histories: `rep-10k-20` (valid) or `rep-10k-20-bad` (a stale read);
/// `rep2-10k-20` is two such registers (keys `a` and `b`, seeds 1 and 2) side by side: two partitions
/// for the search, so two threads have something to share.
fn generated(name: &str) -> Option<Vec<checker::Event>> {
    if let Some(rest) = name.strip_prefix("rep2-") {
        let one = generated(&format!("rep-{rest}"))?;
        let two = generated_seeded(&format!("rep-{rest}"), 2)?;
        let mut all: Vec<checker::Event> = Vec::with_capacity(one.len() + two.len());
        for (k, evs) in [("a", one), ("b", two)] {
            for mut e in evs {
                e.key = Some(k.to_string());
                if let (checker::Process::Client(p), "b") = (&e.process, k) {
                    e.process = checker::Process::Client(p + 1000);
                }
                all.push(e);
            }
        }
        all.sort_by_key(|e| e.time);
        for (i, e) in all.iter_mut().enumerate() {
            e.index = i as u64;
        }
        return Some(all);
    }
    generated_seeded(name, 1)
}

fn generated_seeded(name: &str, seed: u64) -> Option<Vec<checker::Event>> {
    let rest = name.strip_prefix("rep-")?;
    let bad = rest.ends_with("-bad");
    let rest = rest.trim_end_matches("-bad");
    let (ops, procs) = rest.split_once('-').expect("rep-OPSk-PROCS");
    let ops: usize = ops.trim_end_matches('k').parse::<usize>().expect("ops") * 1000;
    let procs: usize = procs.parse().expect("processes");
    Some(if bad {
        synth::repeated_register_history_stale(ops, procs, 5, seed)
    } else {
        synth::repeated_register_history(ops, procs, 5, seed)
    })
}

/// Events as Jepsen EDN lines (what porcupine's driver reads).
fn edn(events: &[checker::Event]) -> String {
    let mut out = String::new();
    for e in events {
        let checker::Process::Client(p) = e.process else {
            continue;
        };
        let kind = match e.kind {
            checker::EventType::Invoke => "invoke",
            checker::EventType::Ok => "ok",
            checker::EventType::Fail => "fail",
            checker::EventType::Info => "info",
        };
        let value = match &e.value {
            serde_json::Value::Null => "nil".to_string(),
            serde_json::Value::Array(a) => format!(
                "[{}]",
                a.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            v => v.to_string(),
        };
        let key = e
            .key
            .as_ref()
            .map(|k| format!(", :key {k:?}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{{:process {p}, :type :{kind}, :f :{}{key}, :value {value}}}\n",
            e.f
        ));
    }
    out
}

fn main() {
    let mut threads = 1usize;
    let mut rounds = 3usize;
    let mut reps = 11usize;
    let mut batch_ms = 20.0f64;
    let mut methods = Methods::Auto;
    let mut memory_mib = 8192usize;
    let mut time_s = 600u64;
    let mut write_edn: Option<PathBuf> = None;
    let mut cases = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(3),
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(11),
            "--batch-ms" => batch_ms = args.next().and_then(|v| v.parse().ok()).unwrap_or(20.0),
            "--search-only" => methods = Methods::SearchOnly,
            "--memory-mib" => memory_mib = args.next().and_then(|v| v.parse().ok()).unwrap_or(8192),
            "--time-s" => time_s = args.next().and_then(|v| v.parse().ok()).unwrap_or(600),
            "--write-edn" => write_edn = args.next().map(PathBuf::from),
            s if s.starts_with("--") => {} // cargo bench's own flags (--bench)
            s => cases.push(s.to_string()),
        }
    }
    if cases.is_empty() {
        cases = [
            "etcd", "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
        ]
        .map(String::from)
        .to_vec();
    }
    let dir = histories_dir();
    let want = expected(&dir);
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(time_s)),
        memory_limit_bytes: Some(memory_mib << 20),
        threads,
    };
    for name in cases {
        if let Some(out) = &write_edn {
            // Only write the generated histories (for porcupine's driver), do not time them.
            let events = generated(&name).expect("--write-edn takes rep-... cases");
            std::fs::create_dir_all(out).expect("create the directory");
            let path = out.join(format!("{name}.edn"));
            std::fs::write(&path, edn(&events)).expect("write the history");
            println!("{}", path.display());
            continue;
        }
        let case = load_case(&dir, &name);
        let last: std::cell::RefCell<Option<CheckResult>> = Default::default();
        let pass = || {
            let mut valid = 0;
            let mut mismatches = Vec::new();
            for (n, h, model) in &case.histories {
                let r = try_check_with(h, *model, &opts, methods).expect("the history encodes");
                if r.valid == Validity::Valid {
                    valid += 1;
                }
                let expect = want
                    .iter()
                    .find(|(f, _)| f == n)
                    .map(|(_, v)| *v)
                    .or_else(|| n.starts_with("rep").then(|| !n.ends_with("-bad")));
                if let Some(e) = expect {
                    if (r.valid == Validity::Valid) != e || r.valid == Validity::Unknown {
                        mismatches.push(format!("{n}: {}", r.valid));
                    }
                }
                *last.borrow_mut() = Some(r);
            }
            (valid, mismatches)
        };
        // A first pass (verdicts; cold caches), then calibration on warm passes: passes per batch so
        // that a batch takes at least `batch_ms`.
        let t0 = process_cpu_ns();
        let (valid, mismatches) = pass();
        let mut one = (process_cpu_ns() - t0) as f64 / 1e6;
        if one < batch_ms {
            let (warm, mut n) = (process_cpu_ns(), 0);
            while n == 0 || ((process_cpu_ns() - warm) as f64 / 1e6) < batch_ms / 4.0 {
                std::hint::black_box(pass());
                n += 1;
            }
            one = (process_cpu_ns() - warm) as f64 / 1e6 / n as f64;
        }
        let per = if one < batch_ms {
            (batch_ms / one.max(0.0001)) as usize + 1
        } else {
            1
        };
        let mut all = Vec::new();
        let mut walls = Vec::new();
        let mut round_medians = Vec::new();
        for _ in 0..rounds {
            let mut xs = Vec::new();
            for _ in 0..reps {
                let w = Instant::now();
                let t = process_cpu_ns();
                for _ in 0..per {
                    std::hint::black_box(pass());
                }
                xs.push((process_cpu_ns() - t) as f64 / 1e3 / per as f64);
                walls.push(w.elapsed().as_secs_f64() * 1e6 / per as f64);
            }
            round_medians.push(median(&xs));
            all.extend(xs);
        }
        let last = last.into_inner();
        let states: usize = last
            .as_ref()
            .map_or(0, |r| r.per_key.iter().map(|k| k.states).sum());
        let explanation = last
            .as_ref()
            .map(|r| r.explanation.clone())
            .unwrap_or_default();
        println!(
            "{}",
            serde_json::json!({
                "states": states,
                "peak_rss_mib": peak_rss_mib(),
                "search_only": methods == Methods::SearchOnly,
                "explanation": if case.histories.len() == 1 { explanation } else { String::new() },
                "case": name,
                "checker": "checker",
                "histories": case.histories.len(),
                "cpu_us": median(&all),
                "wall_us": median(&walls),
                "round_medians_us": round_medians,
                "passes_per_batch": per,
                "valid": valid,
                "verdict_mismatches": mismatches,
                "threads": threads,
                "fail_semantics": "fail ops dropped; info ops may take effect after their call or never",
                "description": case.description,
            })
        );
    }
}
