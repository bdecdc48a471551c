//! Signals in the middle of a run: everything the run started is removed, the history written so far is
//! one `harness check` reads, and results.json says the run was interrupted. Also `harness clean` next
//! to a live run and a killed one.

mod common;

use common::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};

/// A run long enough to be interrupted, cut by `sig` once clients record and a fault has begun.
fn interrupt_mid_run(test: &str, sig: Signal) {
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let args = [
        "--time-limit",
        "60s",
        "--nemesis",
        "partition-leader",
        "--nemesis-interval",
        "3s",
        "--fault-duration",
        "2s",
    ];
    let mut child = spawn_run(&args, store.path());
    wait_recording(&mut child, store.path(), 20);
    std::thread::sleep(Duration::from_secs(3));
    let namespaces = run_namespaces(child.id());
    assert!(!namespaces.is_empty(), "the run has no marked namespaces");
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{sig}: {}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let still: Vec<_> = namespaces
        .iter()
        .filter(|ns| Path::new("/run/netns").join(ns).exists())
        .collect();
    assert!(still.is_empty(), "{sig}: namespaces left: {still:?}");
    assert_nothing_left(store.path(), sig.as_str());
    let res = results(store.path());
    assert_eq!(res["interrupted"], true, "{res:#}");
    assert_eq!(res["interrupted_in"], "workload", "{res:#}");
    assert_eq!(res["signal"], sig.as_str(), "{res:#}");
    checkable(store.path());
}

fn checkable(store: &Path) {
    let history = store.join("latest").join("history.jsonl");
    let check = std::process::Command::new(harness_bin())
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

#[test]
fn root_sigint_mid_run_leaves_nothing_behind_and_a_checkable_history() {
    interrupt_mid_run(
        "root_sigint_mid_run_leaves_nothing_behind_and_a_checkable_history",
        Signal::SIGINT,
    );
}

/// Closing the terminal (or the SSH session) sends SIGHUP: the same clean ending as Ctrl-C.
#[test]
fn root_sighup_mid_run_leaves_nothing_behind() {
    interrupt_mid_run("root_sighup_mid_run_leaves_nothing_behind", Signal::SIGHUP);
}

#[test]
fn root_sigquit_mid_run_leaves_nothing_behind() {
    interrupt_mid_run(
        "root_sigquit_mid_run_leaves_nothing_behind",
        Signal::SIGQUIT,
    );
}

/// Ctrl-C during the check stops at once: the history stays, results.json says the check was
/// interrupted and the verdict is unknown (exit 2).
#[test]
fn root_ctrl_c_during_the_check_stops_at_once() {
    let test = "root_ctrl_c_during_the_check_stops_at_once";
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    // Many concurrent clients and leader pauses leave many ops of unknown outcome: a check of seconds.
    let args = [
        "--time-limit",
        "15s",
        "--rate",
        "1000",
        "--concurrency",
        "30",
        "--nemesis",
        "pause-leader",
        "--nemesis-interval",
        "3s",
        "--fault-duration",
        "3s",
    ];
    let mut child = spawn_run(&args, store.path());
    let start = Instant::now();
    while lock_phase(store.path()).as_deref() != Some("check") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its check could be interrupted"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no check phase");
        std::thread::sleep(Duration::from_millis(2));
    }
    // At once: the checker now decides such histories by inference, so the check and report of this run
    // take well under a second.
    let signalled = Instant::now();
    signal(&child, Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    assert!(String::from_utf8_lossy(&out.stderr).contains("check was interrupted"));
    let res = results(store.path());
    assert_eq!(res["interrupted"], true, "{res:#}");
    assert_eq!(res["interrupted_in"], "check", "{res:#}");
    assert_eq!(res["valid"], "unknown", "{res:#}");
    assert_nothing_left(store.path(), "interrupted check");
    checkable(store.path());
}

/// `harness clean` removes a killed run's network and leaves a live run's alone; the live run then
/// finishes normally.
#[test]
fn root_clean_leaves_a_live_run_alone_and_removes_a_killed_one() {
    let test = "root_clean_leaves_a_live_run_alone_and_removes_a_killed_one";
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let (live_store, dead_store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--time-limit", "12s", "--nemesis", "none"];
    let mut live = spawn_run(&args, live_store.path());
    let mut dead = spawn_run(
        &["--time-limit", "60s", "--nemesis", "none"],
        dead_store.path(),
    );
    wait_recording(&mut live, live_store.path(), 10);
    wait_recording(&mut dead, dead_store.path(), 10);
    let (live_ns, dead_ns) = (run_namespaces(live.id()), run_namespaces(dead.id()));
    assert!(!live_ns.is_empty() && !dead_ns.is_empty());
    // SIGKILL: nothing of the harness runs; its nodes die with it, its namespaces stay.
    signal(&dead, Signal::SIGKILL);
    dead.wait().unwrap();
    let exists = |ns: &String| Path::new("/run/netns").join(ns).exists();
    assert!(
        dead_ns.iter().all(exists),
        "namespaces of a killed run stay"
    );

    // The killed run's store: not the default `store` of whatever directory the test runs in.
    let out = std::process::Command::new(harness_bin())
        .args(["clean", "--store"])
        .arg(dead_store.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!dead_ns.iter().any(exists), "killed run's namespaces left");
    assert_eq!(
        lock_phase(dead_store.path()),
        None,
        "killed run's lock left"
    );
    for ns in &dead_ns {
        assert!(
            said.contains(ns.as_str()),
            "clean did not say it removed {ns}: {said}"
        );
    }
    assert!(
        live_ns.iter().all(exists),
        "clean removed a live run's namespaces"
    );
    assert!(
        said.contains("left alone") && said.contains(&live.id().to_string()),
        "{said}"
    );
    let out = live.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!live_ns.iter().any(exists));
}
