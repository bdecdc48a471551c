//! A refused command (exit 254) leaves the store exactly as it was: no directory made, `latest` still
//! pointing where it did. Needs no root: every refusal here comes before anything would run.

mod common;

use common::{describe, harness_bin};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every path under `dir` (not following links), with where each link points.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<PathBuf>)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(path.clone());
            }
            let target = kind
                .is_symlink()
                .then(|| std::fs::read_link(&path).unwrap());
            out.push((path, target));
        }
    }
    out.sort();
    out
}

/// A store that already holds one run, as after an earlier `harness` run.
fn store_with_a_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("earlier").join("20260101T000000.000");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("results.json"), "{}\n").unwrap();
    std::os::unix::fs::symlink("earlier/20260101T000000.000", dir.path().join("latest")).unwrap();
    dir
}

fn refused_untouched(args: &[&str]) {
    let dir = store_with_a_run();
    let before = snapshot(dir.path());
    let fresh = dir.path().join("fresh");
    for store in [dir.path(), fresh.as_path()] {
        let out = Command::new(harness_bin())
            .args(args)
            .arg("--store")
            .arg(store)
            .env_remove("CARGO")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", describe(&out));
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}: {}",
            describe(&out)
        );
    }
    assert_eq!(
        snapshot(dir.path()),
        before,
        "{args:?} changed the store (or made the missing one)"
    );
}

#[test]
fn a_refused_compare_leaves_the_store_and_latest_alone() {
    refused_untouched(&[
        "compare",
        "--modes",
        "lease",
        "--nemeses",
        "none",
        "--extra=--op-timeout=0s",
    ]);
    refused_untouched(&["compare", "--modes", "lease", "--runs", "0"]);
    refused_untouched(&["compare", "--modes", "lease", "--runs", "4294967296"]);
}

#[test]
fn a_run_refused_for_bad_arguments_leaves_the_store_alone() {
    for args in [
        &["--nemesis", "bogus"][..],
        &["--op-timeout", "0s"],
        &["--time-limit", "0"],
        &["--node-bin", "/nonexistent"],
        &["--system", "exec", "--node-cmd", "true"],
        &["--keys", "0", "--workload", "kv"],
        &["--subnet", "10.9.0.0/28", "--nodes", "9"],
        &["--settle", "167h"],
    ] {
        refused_untouched(args);
    }
}
