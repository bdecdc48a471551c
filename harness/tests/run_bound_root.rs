//! A run ends within the bound its options give (config.json `run_bound`), phase by phase, even with
//! the shortest fault timings accepted; and a fault beyond the mode's assumptions is named with the
//! verdict. Both need root (namespaces) and the node binary.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn history(store: &Path) -> Vec<Value> {
    std::fs::read_to_string(store.join("latest").join("history.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The bound of every phase up to and including `phase`, in seconds from the run's start.
fn by_end_of(bound: &Value, phase: &str) -> f64 {
    let phases = bound["phases"].as_array().expect("run_bound.phases");
    let mut total = 0.0;
    for p in phases {
        total += p[1].as_f64().unwrap();
        if p[0] == phase {
            return total;
        }
    }
    panic!("no phase {phase} in {bound:#}");
}

/// The shortest fault timings accepted (1 s faults, 1 s apart), four faults in 8 s: the faults, the
/// final reads, the convergence check and the whole run each end within their share of the bound. The
/// bound is only a kill timeout for the process; the assertions read the recorded timestamps.
#[test]
fn root_a_run_with_the_shortest_fault_timings_ends_within_its_bound() {
    let test = "root_a_run_with_the_shortest_fault_timings_ends_within_its_bound";
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let args = [
        "--mode",
        "read-index",
        "--nemesis",
        "partition-leader,kill-leader,pause-leader,clock-skew",
        "--fault-duration",
        "1s",
        "--nemesis-interval",
        "1s",
        "--time-limit",
        "8",
        "--seed",
        "3",
    ];
    let (code, bound) = leaves_nothing(store.path(), || {
        let mut child = spawn_run(&args, store.path());
        let config = store.path().join("latest").join("config.json");
        let started = Instant::now();
        while !config.is_file() {
            assert!(child.try_wait().unwrap().is_none(), "harness ended early");
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no config.json"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        let bound = read_json(&config)["run_bound"].clone();
        let total = bound["total_s"]
            .as_f64()
            .expect("config.json run_bound.total_s");
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if started.elapsed() > Duration::from_secs_f64(total) {
                signal(&child, nix::sys::signal::Signal::SIGINT);
                let _ = child.wait();
                panic!("the run was still going after its bound, {total} s");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (code, bound)
    });
    let res = results(store.path());
    assert_eq!(code, Some(0), "results: {res:#}");
    let events = history(store.path());
    let t = |e: &Value| e["time"].as_f64().unwrap() / 1e9;
    let faults_end = by_end_of(&bound, "the last fault's overrun");
    for e in events.iter().filter(|e| e["process"] == "nemesis") {
        assert!(t(e) <= faults_end, "{e} after {faults_end} s");
    }
    for (f, phase) in [("final-reads", "--settle"), ("converged", "convergence")] {
        let e = events
            .iter()
            .find(|e| e["process"] == "harness" && e["f"] == f)
            .unwrap_or_else(|| panic!("no {f} in the history"));
        let limit = by_end_of(&bound, phase);
        assert!(t(e) <= limit, "{f} at {} s, after {limit} s", t(e));
    }
    let end = by_end_of(&bound, "convergence");
    assert!(res["elapsed_s"].as_f64().unwrap() <= end, "{res:#}");
    // Every fault ran, each for as long as it was verified.
    for f in [
        "partition-leader",
        "kill-leader",
        "pause-leader",
        "clock-skew",
    ] {
        assert!(
            res["faults"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == f && r["hit"] == true),
            "{f} never hit: {res:#}"
        );
    }
}

/// Lease under clock skew far beyond its drift bound: whatever the checker finds, the verdict says the
/// fault broke the lease's assumption, in results.json, summary.md, report.html and the terminal.
#[test]
fn root_lease_under_clock_skew_beyond_the_bound_names_it_with_the_verdict() {
    let test = "root_lease_under_clock_skew_beyond_the_bound_names_it_with_the_verdict";
    let args = [
        "--nemesis",
        "clock-skew",
        "--time-limit",
        "10",
        "--seed",
        "4",
    ];
    let Some((out, res, store)) = run_in_store(test, &args) else {
        return;
    };
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}\n{res:#}",
        describe(&out)
    );
    let sentence =
        "clock rate 0.1 is outside the lease's drift bound (0.05): a stale read here is expected";
    let beyond = res["beyond_assumptions"]
        .as_array()
        .expect("beyond_assumptions");
    assert!(
        beyond
            .iter()
            .any(|b| b.as_str().unwrap().starts_with(sentence)),
        "{res:#}"
    );
    let dir = store.path().join("latest");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains(sentence), "{summary}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("clock rate 0.1 is outside the lease&#39;s drift bound")
            || html.contains("clock rate 0.1 is outside the lease's drift bound")
    );
    // The terminal table wraps long cells: compare without the wrapping.
    let flat = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect::<String>()
    };
    assert!(
        flat(&String::from_utf8_lossy(&out.stdout)).contains(&flat(sentence)),
        "{}",
        describe(&out)
    );
}
