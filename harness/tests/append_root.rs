//! End-to-end append runs (root: network namespaces), one per replication/routing/fault combination the
//! guarantee ladder must tell apart. Each asserts the guarantee it is about, from results.json.
//!
//! Why these modes: our node serves reads at a follower only in `follower-read` and `any-local`; in the
//! other modes a follower answers `not_leader` and the client retries at the leader, so every routing
//! ends up reading where it wrote. With `--replication async` the leader acknowledges an append before it
//! ships (after the async lag), so a read served by a follower in that window misses it.

mod common;

use common::{cluster_lock, describe, harness, results, run_root, skip_unless_root};
use serde_json::Value;

/// 15 s runs over 4 keys (so a session often reads a key it just appended to), faults of 3 s.
const BASE: &[&str] = &[
    "--workload",
    "append",
    "--keys",
    "4",
    "--time-limit",
    "15s",
    "--nemesis-interval",
    "4s",
    "--fault-duration",
    "3s",
    "--seed",
    "11",
];

/// Run one append scenario (`repl`, `mode`, `routing`, `nemesis`, `expect`) and return its exit code and
/// results.json (None: skipped, with the reason). The run itself must have been valid.
fn append_run(
    test: &str,
    [repl, mode, routing, nemesis, expect]: [&str; 5],
) -> Option<(i32, Value)> {
    let mut all = BASE.to_vec();
    all.extend_from_slice(&[
        "--replication",
        repl,
        "--mode",
        mode,
        "--routing",
        routing,
        "--nemesis",
        nemesis,
        "--expect",
        expect,
    ]);
    let (out, res) = run_root(test, &all)?;
    assert!(
        res["run_valid"] == true,
        "{all:?}: the run itself went wrong\n{}\n{res:#}",
        describe(&out)
    );
    Some((out.status.code().unwrap_or(-1), res))
}

fn guarantee(res: &Value, name: &str) -> Value {
    res["guarantees"][name].clone()
}

/// The first listed violation of `name` must explain itself.
fn assert_explained(res: &Value, name: &str) {
    let v = res["violations"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["guarantee"] == name))
        .unwrap_or_else(|| panic!("no {name} violation listed: {res:#}"));
    assert!(
        v["sentence"].as_str().is_some_and(|s| s.len() > 20),
        "{v:#}"
    );
}

#[test]
fn root_append_quorum_sticky_kill_leader_keeps_every_guarantee() {
    let run = ["quorum", "lease", "sticky", "kill-leader", "sessions"];
    let Some((code, res)) = append_run("root_append_quorum_sticky_kill_leader", run) else {
        return;
    };
    for g in [
        "linearizable",
        "read_your_writes",
        "monotonic_reads",
        "monotonic_writes",
        "writes_follow_reads",
        "converged",
    ] {
        assert_eq!(guarantee(&res, g), true, "{g}: {res:#}");
    }
    assert_eq!(res["lost_writes"]["count"], 0, "{res:#}");
    assert_eq!(code, 0, "{res:#}");
}

#[test]
fn root_append_async_sticky_no_fault_keeps_read_your_writes() {
    let run = ["async", "lease", "sticky", "none", "sessions"];
    let Some((_, res)) = append_run("root_append_async_sticky_no_fault", run) else {
        return;
    };
    assert_eq!(guarantee(&res, "read_your_writes"), true, "{res:#}");
}

#[test]
fn root_append_async_round_robin_no_fault_breaks_read_your_writes() {
    let run = ["async", "follower-read", "round-robin", "none", "sessions"];
    let Some((code, res)) = append_run("root_append_async_round_robin_no_fault", run) else {
        return;
    };
    assert_eq!(guarantee(&res, "read_your_writes"), false, "{res:#}");
    assert_explained(&res, "read_your_writes");
    assert_eq!(code, 1, "{res:#}");
}

#[test]
fn root_append_async_sticky_kill_leader_breaks_read_your_writes_and_loses_writes() {
    let run = ["async", "lease", "sticky", "kill-leader", "eventual"];
    let Some((code, res)) = append_run("root_append_async_sticky_kill_leader", run) else {
        return;
    };
    assert_eq!(guarantee(&res, "read_your_writes"), false, "{res:#}");
    assert_explained(&res, "read_your_writes");
    let lost = res["lost_writes"]["count"].as_u64().unwrap_or(0);
    assert!(lost > 0, "{res:#}");
    assert_eq!(code, 1, "lost writes break --expect eventual: {res:#}");
}

#[test]
fn root_append_any_local_round_robin_partition_follower_breaks_monotonic_reads() {
    let run = [
        "quorum",
        "any-local",
        "round-robin",
        "partition-follower",
        "sessions",
    ];
    let Some((code, res)) = append_run("root_append_any_local_partition_follower", run) else {
        return;
    };
    assert_eq!(guarantee(&res, "monotonic_reads"), false, "{res:#}");
    assert_explained(&res, "monotonic_reads");
    assert_eq!(
        guarantee(&res, "converged"),
        true,
        "quorum mode converges: {res:#}"
    );
    assert_eq!(code, 1, "{res:#}");
}

/// A system without `append` stops at the start with the reason, before any op.
#[test]
fn root_append_against_a_system_without_append_stops_at_start() {
    let test = "root_append_against_a_system_without_append_stops_at_start";
    if skip_unless_root(test) {
        return;
    }
    let _one_at_a_time = cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/no_append_kv.py"
    );
    let cmd = format!("python3 {fixture} {{id}} {{port}}");
    let args = [
        "--system",
        "exec",
        "--node-cmd",
        &cmd,
        "--nodes",
        "1",
        "--nemesis",
        "none",
        "--workload",
        "append",
        "--time-limit",
        "2s",
    ];
    let out = harness(&args, store.path());
    let res = results(store.path());
    assert_eq!(out.status.code(), Some(3), "{}\n{res:#}", describe(&out));
    let problems = res["run_problems"].to_string();
    assert!(problems.contains("/append"), "{res:#}");
    assert_eq!(res["stats"]["ok"], 0, "no op ran: {res:#}");
}
