//! A leaderless system through `--system exec` (root: namespaces): a small test server in the test tree
//! (tests/fixtures/leaderless_kv.py, a real HTTP server speaking docs/protocol.md) whose nodes all report
//! no leader. The faults that need no leader run; the ones aimed at a leader, and clock skew against a
//! system without POST /admin/clock, are refused at the start (exit 254) naming the fault and why.

mod common;

use common::{cluster_lock, describe, harness, results, skip_unless_root};
use std::process::Output;

fn fixture_cmd(extra: &str) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/leaderless_kv.py"
    );
    // A leading variable assignment, as users write them: it must reach the program.
    format!(
        "PYTHONUNBUFFERED=1 python3 {script} --id {{id}} --addr {{addr}} --peers {{peers}} --data {{data_dir}}{extra}"
    )
}

fn run(test: &str, nemesis: &str, extra: &str, time: &str) -> Option<(Output, tempfile::TempDir)> {
    if skip_unless_root(test) {
        return None;
    }
    let _one = cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let cmd = fixture_cmd(extra);
    let args = [
        "--system",
        "exec",
        "--node-cmd",
        &cmd,
        "--nemesis",
        nemesis,
        "--time-limit",
        time,
        "--nemesis-interval",
        "3s",
        "--fault-duration",
        "2s",
        "--rate",
        "60",
        "--seed",
        "5",
    ];
    let out = harness(&args, store.path());
    Some((out, store))
}

fn assert_runs_valid(test: &str, nemesis: &str) {
    let Some((out, store)) = run(test, nemesis, "", "10s") else {
        return;
    };
    let res = results(store.path());
    assert_eq!(out.status.code(), Some(0), "{}\n{res:#}", describe(&out));
    assert_eq!(res["valid"], true, "{res:#}");
    let faults = res["faults"].as_array().unwrap();
    assert!(
        faults.iter().all(|f| f["hit"] == true),
        "every fault must hit: {faults:#?}"
    );
    let config = std::fs::read_to_string(store.path().join("latest/config.json")).unwrap();
    assert!(
        !config.contains("\"replication\""),
        "an exec run claims no replication mode: {config}"
    );
}

#[test]
fn root_leaderless_runs_with_no_faults() {
    assert_runs_valid("root_leaderless_runs_with_no_faults", "none");
}

#[test]
fn root_leaderless_runs_kill_random_and_partition_random() {
    assert_runs_valid(
        "root_leaderless_runs_kill_random_and_partition_random",
        "kill-random,partition-random",
    );
}

#[test]
fn root_leaderless_refuses_leader_aimed_faults_at_start() {
    let test = "root_leaderless_refuses_leader_aimed_faults_at_start";
    let Some((out, store)) = run(test, "partition-leader,kill-random", "", "10s") else {
        return;
    };
    assert_eq!(out.status.code(), Some(254), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("partition-leader") && err.contains("no leader"),
        "{err}"
    );
    assert!(!err.contains("kill-random aimed"), "{err}");
    let res = results(store.path());
    assert!(res["refused"]
        .as_str()
        .unwrap()
        .contains("partition-leader"));
}

#[test]
fn root_clock_skew_refused_without_admin_clock() {
    let test = "root_clock_skew_refused_without_admin_clock";
    // --lead: the fixture reports a leader, so only the missing /admin/clock stands in the way.
    let Some((out, _store)) = run(test, "clock-skew", " --lead", "8s") else {
        return;
    };
    assert_eq!(out.status.code(), Some(254), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("clock-skew") && err.contains("/admin/clock"),
        "{err}"
    );
}
