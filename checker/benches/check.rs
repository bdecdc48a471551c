//! `cargo bench -p checker`: the shared histories (porcupine's etcd and kv test data) and a generated
//! hard history, all single-threaded. Targets on a 2-core machine: all etcd histories < 120 ms,
//! c50-ok < 50 ms.

mod synth;

use checker::{check, load_history, parse_events, CheckOptions, History, ModelKind, Validity};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn histories_dir() -> PathBuf {
    std::env::var_os("LH_HISTORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories"))
}

fn single() -> CheckOptions {
    CheckOptions {
        time_limit: Some(Duration::from_secs(600)),
        memory_limit_bytes: Some(8 << 30),
        threads: 1,
    }
}

fn load(files: &[PathBuf]) -> Vec<History> {
    files
        .iter()
        .map(|f| load_history(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect()
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "edn"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn benches(c: &mut Criterion) {
    let dir = histories_dir();
    let etcd = list(&dir.join("porcupine-etcd"));
    if etcd.is_empty() {
        eprintln!(
            "skipping the shared histories: none at {} (set LH_HISTORIES)",
            dir.display()
        );
    } else {
        let histories = load(&etcd);
        let mut g = c.benchmark_group("shared");
        g.sample_size(20);
        g.bench_function(format!("etcd-all-{}", histories.len()), |b| {
            b.iter(|| {
                histories
                    .iter()
                    .filter(|h| {
                        check(h, ModelKind::CasRegister, &single()).valid == Validity::Valid
                    })
                    .count()
            })
        });
        g.bench_function("etcd-all-parse-and-check", |b| {
            b.iter(|| {
                load(&etcd)
                    .iter()
                    .filter(|h| {
                        check(h, ModelKind::CasRegister, &single()).valid == Validity::Valid
                    })
                    .count()
            })
        });
        for name in ["c50-ok", "c50-bad", "c10-ok"] {
            let h = load(&[dir.join(format!("porcupine-kv/{name}.edn"))]).remove(0);
            g.bench_function(name, |b| {
                b.iter(|| check(&h, ModelKind::Kv, &single()).valid)
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("generated");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let events = synth::register_history(100_000, 12, 0.2, 7);
    let h = parse_events(&events).expect("generated history parses");
    g.bench_function("register-100k-ops-12-procs-20pct-info", |b| {
        b.iter(|| {
            let r = check(&h, ModelKind::CasRegister, &single());
            assert_eq!(r.valid, Validity::Valid, "{}", r.explanation);
        })
    });
    g.finish();
}

criterion_group!(check_benches, benches);
criterion_main!(check_benches);
