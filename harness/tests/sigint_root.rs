//! Ctrl-C in the middle of a run: everything the run started is removed, and the history written so far
//! is one `harness check` reads.

mod common;

use common::{harness_bin, leftover_links, leftover_namespaces, leftover_nodes, node_bin};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn root_sigint_mid_run_leaves_nothing_behind_and_a_checkable_history() {
    let test = "root_sigint_mid_run_leaves_nothing_behind_and_a_checkable_history";
    if common::skip_unless_root(test) {
        return;
    }
    let node = match node_bin() {
        Ok(n) => n,
        Err(why) => return eprintln!("skipping {test}: {why}"),
    };
    let _one_at_a_time = common::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new(harness_bin())
        .args(["--time-limit", "60s", "--nemesis", "partition-leader"])
        .args(["--nemesis-interval", "3s", "--fault-duration", "2s"])
        .arg("--node-bin")
        .arg(&node)
        .arg("--store")
        .arg(store.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until clients are recording, then let a fault begin.
    let history = store.path().join("latest").join("history.jsonl");
    let start = Instant::now();
    while std::fs::read_to_string(&history).map_or(0, |t| t.lines().count()) < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the run never started recording"
        );
        assert!(child.try_wait().unwrap().is_none(), "harness ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(
        leftover_namespaces(),
        Vec::<String>::new(),
        "namespaces left"
    );
    assert_eq!(leftover_links(), Vec::<String>::new(), "links left");
    assert_eq!(leftover_nodes(), Vec::<u32>::new(), "node processes left");
    let check = Command::new(harness_bin())
        .arg("check")
        .arg(&history)
        .output()
        .unwrap();
    assert!(
        matches!(check.status.code(), Some(0..=2)),
        "harness check could not read the history: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}
