//! `--partition-scope all` end to end (root: namespaces): while the leader is isolated, the sessions homed
//! on the other side never get an answer from it, and the sessions homed on it still do (the cut follows
//! each session's home, not the whole client namespace).

mod common;

use common::{cluster_lock, describe, harness, skip_unless_root};
use serde_json::Value;

#[test]
fn root_scope_all_cuts_the_isolated_leader_off_from_the_other_side() {
    let test = "root_scope_all_cuts_the_isolated_leader_off_from_the_other_side";
    if skip_unless_root(test) {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "leader-local",
        "--nemesis",
        "partition-leader",
        "--partition-scope",
        "all",
        "--time-limit",
        "10s",
        "--nemesis-interval",
        "4s",
        "--fault-duration",
        "4s",
        "--concurrency",
        "6",
        "--seed",
        "8",
    ];
    let out = {
        let _one = cluster_lock();
        harness(&args, store.path())
    };
    // leader-local may or may not be caught here; the run itself must be sound.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        describe(&out)
    );
    let history =
        std::fs::read_to_string(store.path().join("latest").join("history.jsonl")).unwrap();
    let events: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = events
        .iter()
        .find(|e| e["f"] == "start-partition")
        .expect("a partition started");
    assert_eq!(start["value"]["scope"], "all", "{start}");
    let isolated = start["value"]["isolated"][0].as_str().unwrap().to_string();
    let home_of_isolated = isolated.trim_start_matches('n').parse::<u64>().unwrap() - 1;
    let (t0, t1) = (
        start["time"].as_u64().unwrap(),
        events
            .iter()
            .find(|e| e["f"] == "stop-partition")
            .and_then(|e| e["time"].as_u64())
            .unwrap(),
    );
    // The first processes are the workers themselves (worker w starts with home w mod 3), and a worker
    // keeps its process id until an op of it ends `info`. An answer is any completion the isolated node
    // sent (ok, or an error it returned), as opposed to no connection or no answer at all. 50 ms of slack
    // after the cut for answers already on their way.
    let transport = |e: &Value| {
        e["error"].as_str().is_some_and(|m| {
            m.starts_with(workloads::client::CONNECT_ERROR) || m == workloads::client::TIMEOUT_ERROR
        })
    };
    let served_by_isolated = |same_side: bool| {
        events.iter().any(|e| {
            let p = e["process"].as_u64().unwrap_or(u64::MAX);
            matches!(e["type"].as_str(), Some("ok" | "fail" | "info"))
                && !transport(e)
                && p < 6
                && ((p % 3 == home_of_isolated) == same_side)
                && e["node"] == isolated.as_str()
                && (t0 + 50_000_000..t1).contains(&e["time"].as_u64().unwrap())
        })
    };
    assert!(
        !served_by_isolated(false),
        "a session homed across the partition got an answer from the isolated {isolated}"
    );
    assert!(
        served_by_isolated(true),
        "the sessions homed on {isolated} should still reach it"
    );
}
