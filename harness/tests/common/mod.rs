//! Helpers for tests that run the real `harness` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Print why a test is skipped; on CI (`CI=true`) fail instead, so a test that cannot run there is
/// never counted as passed.
pub fn skip(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} cannot run on CI (CI=true): {why}");
    }
    eprintln!("skipping {test}: {why}");
}

/// Print why a root-only test is skipped; returns true when it should skip.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    skip(
        test,
        "needs root to create network namespaces (CI runs it as root)",
    );
    true
}

pub fn harness_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_harness"))
}

/// The `node` binary beside the harness binary. `cargo test --workspace` builds it (node's own integration
/// tests need it); a lone `cargo test -p harness` may not, and then run tests skip with this reason.
pub fn node_bin() -> Result<PathBuf, String> {
    let dir = harness_bin()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let node = dir.join("node");
    if node.is_file() {
        Ok(node)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build -p node` (cargo test --workspace does)",
            node.display()
        ))
    }
}

/// Run the harness with `args` and a store of its own. Never through cargo: the node binary is passed.
pub fn harness(args: &[&str], store: &Path) -> Output {
    let mut cmd = Command::new(harness_bin());
    cmd.args(args).arg("--store").arg(store).env_remove("CARGO");
    let system = args
        .iter()
        .position(|a| *a == "--system")
        .and_then(|i| args.get(i + 1))
        .copied()
        .unwrap_or("node");
    if system == "node" && !args.contains(&"--node-bin") {
        if let Ok(node) = node_bin() {
            cmd.arg("--node-bin").arg(node);
        }
    }
    cmd.output().expect("run harness")
}

pub fn results(store: &Path) -> serde_json::Value {
    let path = store.join("latest").join("results.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
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

/// The run ids of every run in `store` (a compare store holds one per cell), from each `config.json`.
/// A run's namespaces, links and owner marker are all named `lh<run id>...`.
pub fn store_run_ids(store: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    let mut dirs = vec![store.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            // Not through `latest`: it points at a run already walked.
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                dirs.push(e.path());
            } else if e.file_name() == "config.json" {
                let id = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["run_id"].as_str().map(String::from));
                // Without it no leak check could name this run's objects: it would pass vacuously.
                let id = id.unwrap_or_else(|| panic!("{} has no run_id", e.path().display()));
                ids.push(id);
            }
        }
    }
    ids
}

fn named_by(names: Vec<String>, ids: &[String]) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| ids.iter().any(|id| n.starts_with(&format!("lh{id}"))))
        .collect()
}

/// Namespaces of the runs in `store` still present.
pub fn leftover_namespaces(store: &Path) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let names = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    named_by(names, &store_run_ids(store))
}

/// Links in this (the root) namespace named by the runs in `store`.
pub fn leftover_links(store: &Path) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("ip link show");
    let names = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    named_by(names, &store_run_ids(store))
}

/// Live processes whose command line names `store` (nodes get their data directory there, whatever the
/// system), so only processes of this test's runs count, not those of other runs on the machine.
pub fn leftover_processes(store: &Path) -> Vec<String> {
    let needle = store.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            cmd.windows(needle.len())
                .any(|w| w == needle)
                .then(|| format!("{pid} {}", String::from_utf8_lossy(&cmd).replace('\0', " ")))
        })
        .collect()
}

/// Serializes the tests that start clusters: on two cores, runs side by side would distort the timing
/// the scenarios depend on.
pub static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn cluster_lock() -> std::sync::MutexGuard<'static, ()> {
    CLUSTER.lock().unwrap_or_else(|e| e.into_inner())
}

/// For a test that starts clusters: the one-at-a-time guard, or None when it must skip (no root, no
/// node binary; printed, or a failure on CI).
pub fn cluster_test(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if skip_unless_root(test) {
        return None;
    }
    if let Err(why) = node_bin() {
        skip(test, &why);
        return None;
    }
    Some(cluster_lock())
}

/// Run the harness with `args` on a store of its own (root only, one cluster at a time): its output,
/// results.json and the store; None when the test must skip.
pub fn run_in_store(
    test: &str,
    args: &[&str],
) -> Option<(Output, serde_json::Value, tempfile::TempDir)> {
    let _one_at_a_time = cluster_test(test)?;
    let store = tempfile::tempdir().unwrap();
    let out = leaves_nothing(store.path(), || harness(args, store.path()));
    let res = results(store.path());
    Some((out, res, store))
}

/// Runs `run` (harness runs storing into `store`) and asserts they left no namespace, link or process
/// behind. Only what the runs in `store` created counts (by the run ids their config.json records, and
/// processes by the store path), so other runs live on the machine meanwhile are not taken for leftovers.
pub fn leaves_nothing<T>(store: &Path, run: impl FnOnce() -> T) -> T {
    let out = run();
    let ids = store_run_ids(store);
    let (ns, links, procs) = (
        leftover_namespaces(store),
        leftover_links(store),
        leftover_processes(store),
    );
    assert!(
        ns.is_empty() && links.is_empty() && procs.is_empty(),
        "the runs {ids:?} left namespaces {ns:?}, links {links:?} and processes {procs:?}"
    );
    out
}

/// Run the harness with `args` (root only, one cluster at a time); returns its output and results.json,
/// or None when the test must skip (printing why).
pub fn run_root(test: &str, args: &[&str]) -> Option<(Output, serde_json::Value)> {
    let (out, res, _store) = run_in_store(test, args)?;
    Some((out, res))
}

/// Run the harness with `args` (root only, one cluster at a time) and assert its exit code; returns
/// results.json, or None when the test must skip (printing why).
pub fn run_scenario(test: &str, args: &[&str], want_exit: i32) -> Option<serde_json::Value> {
    let (out, res, _store) = run_in_store(test, args)?;
    assert_eq!(
        out.status.code(),
        Some(want_exit),
        "{args:?}\n{}\nresults: {res:#}",
        describe(&out)
    );
    Some(res)
}

/// Start a run in the background (root tests): node binary and store given, output captured.
pub fn spawn_run(args: &[&str], store: &Path) -> std::process::Child {
    let node = node_bin().expect("checked by the caller");
    Command::new(harness_bin())
        .args(args)
        .arg("--node-bin")
        .arg(node)
        .arg("--store")
        .arg(store)
        .env_remove("CARGO")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start harness")
}

/// Wait until the run in `store` has recorded `lines` history lines (clients are running).
pub fn wait_recording(child: &mut std::process::Child, store: &Path, lines: usize) {
    let history = store.join("latest").join("history.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&history).map_or(0, |t| t.lines().count()) < lines {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(40),
            "the run never started recording"
        );
        assert!(child.try_wait().unwrap().is_none(), "harness ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The phase the run's lock file names (`run`, `check`), or None once the lock is gone.
pub fn lock_phase(store: &Path) -> Option<String> {
    let text = std::fs::read_to_string(store.join("latest").join("lock")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["phase"].as_str().map(String::from)
}

pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// Namespaces of one run (by the `lh<id>` prefix its owner marker names), for tests that must not look
/// at other runs on the machine.
pub fn run_namespaces(pid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/run/lh") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            (v["pid"].as_u64() == Some(u64::from(pid))).then(|| {
                v["namespaces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .filter(|ns| Path::new("/run/netns").join(ns).exists())
        .collect()
}

/// After the runs in `store` ended: none of their namespaces, links or processes, no lock file.
pub fn assert_nothing_left(store: &Path, what: &str) {
    assert_eq!(
        leftover_namespaces(store),
        Vec::<String>::new(),
        "{what}: namespaces left"
    );
    assert_eq!(
        leftover_links(store),
        Vec::<String>::new(),
        "{what}: links left"
    );
    assert_eq!(
        leftover_processes(store),
        Vec::<String>::new(),
        "{what}: processes left"
    );
    assert!(
        !store.join("latest").join("lock").exists(),
        "{what}: lock file left"
    );
}
