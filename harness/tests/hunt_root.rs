//! `harness hunt` (root: namespaces): an unsafe mode is found and shrunk to one partition of the leader
//! whose printed replay command reproduces it; a safe mode is hunted without an anomaly. Budgets are
//! shorter than the issue's 3m (8 s runs, 30 s budgets) to keep the suite short: about 2-3 min together.

mod common;

use common::{cluster_test, describe, harness, leaves_nothing};

#[test]
fn root_hunt_finds_and_shrinks_leader_local_to_one_leader_partition() {
    let test = "root_hunt_finds_and_shrinks_leader_local_to_one_leader_partition";
    let Some(_one) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let args = [
        "hunt",
        "--mode",
        "leader-local",
        "--nemesis",
        "partition-leader",
        "--budget",
        "30s",
        "--time-limit",
        "8s",
        "--replays",
        "2",
    ];
    let out = leaves_nothing(store.path(), || harness(&args, store.path()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().expect("the replay command");
    let words = shlex::split(line).unwrap();
    assert_eq!(&words[..2], ["harness", "--replay"], "{line}");
    let text = std::fs::read_to_string(&words[2]).unwrap();
    let s: serde_json::Value = serde_json::from_str(&text).unwrap();
    let faults = s["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1, "{s:#}");
    assert_eq!(faults[0]["fault"], "partition-leader", "{s:#}");
    assert_eq!(faults[0]["role"], "leader", "{s:#}");
    // The printed command as a user would paste it, less the --store and --node-bin `harness` adds.
    let mut rest: Vec<&str> = Vec::new();
    let mut it = words[1..].iter();
    while let Some(w) = it.next() {
        if w == "--store" || w == "--node-bin" {
            it.next();
        } else {
            rest.push(w);
        }
    }
    let mut codes = Vec::new();
    for _ in 0..3 {
        let o = leaves_nothing(store.path(), || harness(&rest, store.path()));
        codes.push(o.status.code());
        if o.status.code() == Some(1) {
            return;
        }
        eprintln!("{}", describe(&o));
    }
    panic!("{line} did not reproduce in 3 replays: exits {codes:?}");
}

#[test]
fn root_hunt_finds_nothing_in_lease_mode() {
    let test = "root_hunt_finds_nothing_in_lease_mode";
    let Some(_one) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let args = [
        "hunt",
        "--mode",
        "lease",
        "--budget",
        "30s",
        "--time-limit",
        "8s",
    ];
    let out = leaves_nothing(store.path(), || harness(&args, store.path()));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" 0 anomalies"), "{err}");
}

/// A replayed schedule may overlap faults that compose: a follower is killed while the leader is cut off.
/// Both land and heal (no landing check fails), in the order written, and lease mode stays valid.
#[test]
fn root_replay_runs_overlapping_faults_that_compose() {
    let test = "root_replay_runs_overlapping_faults_that_compose";
    let Some(_one) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let file = store.path().join("overlap.json");
    let schedule = r#"{"format": 1, "seed": 7, "time_limit_s": 10, "faults": [
        {"fault": "partition-leader", "start_s": 2, "duration_s": 5},
        {"fault": "kill-random", "start_s": 3.5, "duration_s": 2}]}"#;
    std::fs::write(&file, schedule).unwrap();
    let args = ["--replay", file.to_str().unwrap(), "--mode", "lease"];
    let out = leaves_nothing(store.path(), || harness(&args, store.path()));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let res = common::results(store.path());
    let faults = res["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 2, "{res:#}");
    let span = |i: usize| {
        let f = &faults[i];
        assert_eq!(f["hit"], true, "{f:#}");
        (f["start_s"].as_f64().unwrap(), f["end_s"].as_f64().unwrap())
    };
    let ((p0, p1), (k0, k1)) = (span(0), span(1));
    assert_eq!(faults[0]["kind"], "partition-leader", "{res:#}");
    assert!(p0 < k0 && k1 < p1, "the kill inside the partition: {res:#}");
}
