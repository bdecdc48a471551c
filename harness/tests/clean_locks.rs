//! `harness clean` removes the lock files that killed runs left in the store (their controller is gone)
//! and never a live run's: by a real `kill -9` of a run (root), and by locks naming a dead process, a
//! reused pid and this live test process (no root needed).

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

/// This process's start time, as the harness records it in a lock.
fn my_start_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn write_lock(run_dir: &Path, pid: u32, start_ticks: u64, phase: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(run_dir).unwrap();
    let lock = run_dir.join("lock");
    let body = json!({"pid": pid, "start_ticks": start_ticks, "phase": phase});
    std::fs::write(&lock, body.to_string()).unwrap();
    lock
}

fn clean(store: &Path) -> Output {
    Command::new(harness_bin())
        .arg("clean")
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

#[test]
fn clean_removes_dead_controllers_locks_and_keeps_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    let me = std::process::id();
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let dead = write_lock(&store.join("t/1"), gone_pid, 1, "run");
    // The pid is alive (this test) but started at another time: a later process that got the pid.
    let reused = write_lock(&store.join("t/2"), me, my_start_ticks() + 1, "check");
    let in_compare = write_lock(&store.join("compare/3/runs/cell/4"), gone_pid, 1, "run");
    let live = write_lock(&store.join("t/5"), me, my_start_ticks(), "run");

    let out = clean(store);
    // Without root the network sweep is refused (3), after the locks were swept.
    let want = if is_root() { 0 } else { 3 };
    assert_eq!(out.status.code(), Some(want), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    for lock in [&dead, &reused, &in_compare] {
        assert!(!lock.exists(), "stale lock {} left: {said}", lock.display());
        assert!(
            said.contains(&format!("removed stale lock: {}", lock.display())),
            "{said}"
        );
    }
    assert!(live.exists(), "a live run's lock was removed: {said}");
    assert!(
        said.contains(&format!("lock of a live run: {}", live.display())),
        "{said}"
    );
}

#[test]
fn root_clean_removes_the_lock_of_a_run_killed_with_sigkill() {
    let test = "root_clean_removes_the_lock_of_a_run_killed_with_sigkill";
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let mut run = spawn_run(&["--time-limit", "60s", "--nemesis", "none"], store.path());
    wait_recording(&mut run, store.path(), 10);
    let lock = std::fs::canonicalize(store.path().join("latest"))
        .unwrap()
        .join("lock");
    assert_eq!(lock_phase(store.path()).as_deref(), Some("run"));
    signal(&run, Signal::SIGKILL);
    run.wait().unwrap();
    assert!(lock.exists(), "a killed run cannot remove its lock");

    let out = clean(store.path());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!lock.exists(), "the killed run's lock is left: {said}");
    assert!(said.contains("removed stale lock"), "{said}");
    assert_nothing_left(store.path(), "after clean");
}
