//! Helpers for tests that run the real `harness` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Print why a root-only test is skipped; returns true when it should skip.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("skipping {test}: needs root to create network namespaces (CI runs it as root)");
    true
}

pub fn harness_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_harness"))
}

/// The `node` binary next to the harness (cargo builds every workspace binary for integration tests when
/// asked to via `cargo build -p node`; the harness builds it itself when run through cargo).
pub fn harness(args: &[&str], store: &Path) -> Output {
    Command::new(harness_bin())
        .args(args)
        .arg("--store")
        .arg(store)
        .env("CARGO", env!("CARGO"))
        .output()
        .expect("run harness")
}

pub fn results(store: &Path) -> serde_json::Value {
    let path = store.join("latest").join("results.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("results.json is JSON")
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Namespaces, links and node processes whose names carry the given run-store marker or the `lh` prefix.
pub fn leftover_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("lh"))
        .map(String::from)
        .collect()
}
