//! The defaults a new user gets (root: namespaces): no routing flag, default rate, workers and fault timing.
//! The unsafe modes are caught under the fault that exposes them; the safe modes are not falsely caught;
//! sticky sessions whose home is killed move to the next node and the history says so.

mod common;

use common::run_scenario;
use serde_json::Value;

fn run(test: &str, args: &[&str], seed: &str, want_exit: i32) -> Option<Value> {
    let all = [args, &["--seed", seed]].concat();
    run_scenario(test, &all, want_exit)
}

fn assert_caught(test: &str, mode: &str, nemesis: &str) {
    for seed in ["1", "2"] {
        if let Some(res) = run(test, &["--mode", mode, "--nemesis", nemesis], seed, 1) {
            assert_eq!(res["valid"], false, "{mode} {nemesis} seed {seed}: {res:#}");
            assert_eq!(res["check"]["counterexample"]["op"]["f"], "read", "{res:#}");
        }
    }
}

#[test]
fn root_default_catches_leader_local_under_partition_leader() {
    assert_caught(
        "root_default_catches_leader_local_under_partition_leader",
        "leader-local",
        "partition-leader",
    );
}

#[test]
fn root_default_catches_lease_no_wait_under_partition_leader() {
    assert_caught(
        "root_default_catches_lease_no_wait_under_partition_leader",
        "lease-no-wait",
        "partition-leader",
    );
}

#[test]
fn root_default_catches_any_local_under_partition_follower() {
    assert_caught(
        "root_default_catches_any_local_under_partition_follower",
        "any-local",
        "partition-follower",
    );
}

/// Four faults in one run: 40 s fits four windows of the default 3 s, 6 s apart.
const FOUR: &str = "partition-leader,partition-follower,kill-leader,pause-leader";

#[test]
fn root_default_safe_modes_stay_valid_under_four_faults() {
    let test = "root_default_safe_modes_stay_valid_under_four_faults";
    for mode in ["read-index", "follower-read"] {
        let args = ["--mode", mode, "--nemesis", FOUR, "--time-limit", "40s"];
        if let Some(res) = run(test, &args, "3", 0) {
            assert_eq!(res["valid"], true, "{mode}: {res:#}");
            let faults = res["faults"].as_array().unwrap();
            assert_eq!(faults.len(), 4, "{faults:#?}");
            assert!(faults.iter().all(|f| f["hit"] == true), "{faults:#?}");
        }
    }
}

/// Kill the leader: the sessions homed on it fail over to the next node, each failover in the history as
/// an `info` event of the process "router"; the checker skips those events.
#[test]
fn root_sticky_sessions_fail_over_when_home_is_killed() {
    let test = "root_sticky_sessions_fail_over_when_home_is_killed";
    let store = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "read-index",
        "--nemesis",
        "kill-leader",
        "--time-limit",
        "10s",
        "--seed",
        "4",
        "--name",
        "failover",
    ];
    if common::skip_unless_root(test) || common::node_bin().is_err() {
        return eprintln!("skipping {test}: needs root and the node binary");
    }
    let out = {
        let _one = common::cluster_lock();
        common::harness(&args, store.path())
    };
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));
    let res = common::results(store.path());
    let killed = res["faults"][0]["targets"][0].as_str().unwrap().to_string();
    let history =
        std::fs::read_to_string(store.path().join("latest").join("history.jsonl")).unwrap();
    let failovers: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["process"] == "router" && e["f"] == "failover")
        .collect();
    assert!(!failovers.is_empty(), "no failover recorded");
    for f in &failovers {
        assert_eq!(f["type"], "info", "{f}");
        let v = &f["value"];
        assert_eq!(
            v["from"],
            killed.as_str(),
            "only the killed home is left: {f}"
        );
        assert_ne!(v["to"], killed.as_str(), "{f}");
        assert!(v["session"].is_u64() && v["reason"].is_string(), "{f}");
    }
    // 5 workers over 3 nodes: one or two sessions live on each node.
    let sessions: std::collections::BTreeSet<u64> = failovers
        .iter()
        .map(|f| f["value"]["session"].as_u64().unwrap())
        .collect();
    let n = killed.trim_start_matches('n').parse::<u64>().unwrap() - 1;
    let homed: Vec<u64> = (0..5).filter(|w| w % 3 == n).collect();
    assert_eq!(
        sessions.into_iter().collect::<Vec<_>>(),
        homed,
        "exactly the sessions homed on {killed} moved"
    );
}
