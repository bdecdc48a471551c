//! End-to-end runs (root: network namespaces). Each safe read mode must stay valid under the faults it is
//! designed for; each unsafe mode must be caught under the fault that exposes it, with the anomaly named.
//! Scenarios are shaped so that detection does not depend on luck: clients spread over all nodes (the
//! old leader keeps being asked), enough load that a read follows every write, and faults long enough
//! for a new leader to take writes while the old one still answers.

mod common;

use common::{cluster_lock, describe, harness, results, run_scenario, skip_unless_root};
use serde_json::Value;

/// Short runs: two faults of 2.5 s each.
const SHORT: &[&str] = &[
    "--time-limit",
    "9s",
    "--nemesis-interval",
    "4s",
    "--fault-duration",
    "2.5s",
    "--rate",
    "150",
    "--concurrency",
    "6",
    "--seed",
    "7",
];

fn scenario(test: &str, args: &[&str], want_exit: i32) -> Option<Value> {
    let mut all: Vec<&str> = SHORT.to_vec();
    all.extend_from_slice(args);
    run_scenario(test, &all, want_exit)
}

fn assert_valid(test: &str, args: &[&str]) {
    if let Some(res) = scenario(test, args, 0) {
        assert_eq!(res["valid"], true, "{args:?}: {res:#}");
        assert_eq!(res["run_valid"], true, "{args:?}: {res:#}");
        let faults = res["faults"].as_array().unwrap();
        assert!(
            !faults.is_empty() && faults.iter().all(|f| f["hit"] == true),
            "every fault must have hit its target: {faults:#?}"
        );
    }
}

/// An anomaly must be found and explained: the op that cannot be linearized, and why.
fn assert_caught(test: &str, args: &[&str], op_f: &[&str]) {
    if let Some(res) = scenario(test, args, 1) {
        assert_eq!(res["valid"], false, "{args:?}: {res:#}");
        let cx = &res["check"]["counterexample"];
        let f = cx["op"]["f"].as_str().unwrap_or_default();
        assert!(
            op_f.contains(&f),
            "{args:?}: unexpected anomaly op {f}: {cx:#}"
        );
        let why = cx["explanation"].as_str().unwrap_or_default();
        assert!(why.len() > 20, "{args:?}: no explanation: {cx:#}");
        // When it was found; any-local can be stale before any fault, so the delay may be absent.
        assert!(res["detection"]["anomaly_time_s"].is_number(), "{res:#}");
    }
}

macro_rules! safe {
    ($($name:ident: $mode:literal under $nemesis:literal;)+) => {$(
        #[test]
        fn $name() {
            assert_valid(stringify!($name), &["--mode", $mode, "--nemesis", $nemesis, "--routing", "round-robin"]);
        }
    )+};
}

safe! {
    root_log_partition_leader: "log" under "partition-leader";
    root_log_partition_follower: "log" under "partition-follower";
    root_log_kill_leader: "log" under "kill-leader";
    root_read_index_partition_leader: "read-index" under "partition-leader";
    root_read_index_partition_follower: "read-index" under "partition-follower";
    root_read_index_kill_leader: "read-index" under "kill-leader";
    root_lease_partition_leader: "lease" under "partition-leader";
    root_lease_partition_follower: "lease" under "partition-follower";
    root_lease_kill_leader: "lease" under "kill-leader";
    root_follower_read_partition_leader: "follower-read" under "partition-leader";
    root_follower_read_partition_follower: "follower-read" under "partition-follower";
    root_follower_read_kill_leader: "follower-read" under "kill-leader";
    root_read_index_clock_skew: "read-index" under "clock-skew";
}

#[test]
fn root_leader_local_caught_under_partition_leader() {
    let args = [
        "--mode",
        "leader-local",
        "--nemesis",
        "partition-leader",
        "--routing",
        "round-robin",
    ];
    assert_caught(
        "root_leader_local_caught_under_partition_leader",
        &args,
        &["read"],
    );
}

#[test]
fn root_any_local_caught_under_partition_follower() {
    let args = [
        "--mode",
        "any-local",
        "--nemesis",
        "partition-follower",
        "--routing",
        "sticky",
    ];
    assert_caught(
        "root_any_local_caught_under_partition_follower",
        &args,
        &["read"],
    );
}

#[test]
fn root_lease_no_wait_caught_under_partition_leader() {
    let args = [
        "--mode",
        "lease-no-wait",
        "--nemesis",
        "partition-leader",
        "--routing",
        "round-robin",
    ];
    assert_caught(
        "root_lease_no_wait_caught_under_partition_leader",
        &args,
        &["read"],
    );
}

#[test]
fn root_async_replication_loses_writes_under_kill_leader() {
    let args = [
        "--mode",
        "read-index",
        "--replication",
        "async",
        "--nemesis",
        "kill-leader",
        // Many keys: a kill loses the last writes of several keys, and some key's next op is a read.
        "--workload",
        "kv",
        "--keys",
        "8",
    ];
    assert_caught(
        "root_async_replication_loses_writes_under_kill_leader",
        &args,
        &["read", "write", "cas"],
    );
}

#[test]
fn root_lease_caught_when_the_clock_runs_beyond_its_bound() {
    let args = [
        "--mode",
        "lease",
        "--nemesis",
        "clock-skew",
        "--routing",
        "round-robin",
    ];
    assert_caught(
        "root_lease_caught_when_the_clock_runs_beyond_its_bound",
        &args,
        &["read"],
    );
}

#[test]
fn root_a_cluster_that_never_starts_is_an_invalid_run() {
    let test = "root_a_cluster_that_never_starts_is_an_invalid_run";
    if skip_unless_root(test) {
        return;
    }
    let _one_at_a_time = cluster_lock();
    let store = tempfile::tempdir().unwrap();
    // `false` exits at once: no node ever answers.
    let args = [
        "--time-limit",
        "3s",
        "--nemesis",
        "none",
        "--node-bin",
        "/bin/false",
    ];
    let out = common::leaves_nothing(store.path(), || harness(&args, store.path()));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let res = results(store.path());
    let problems = res["run_problems"].to_string();
    assert!(problems.contains("never became healthy"), "{res:#}");
}
