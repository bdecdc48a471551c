//! ZooKeeper and NATS JetStream KV from Debian's packages, each with its documented read knob: the weak
//! setting is caught with a follower cut off from its peers, the strong one comes out valid under the same
//! load and fault. Root only;
//! skips with a reason where a package is missing (and fails on CI, which installs them).

mod common;

use common::{describe, harness, run_in_store};
use serde_json::Value;
use std::path::Path;

/// Short runs: the weak settings show within seconds (sessions pinned to different servers).
const RUN: &[&str] = &["--time-limit", "10s"];
const SEEDS: [&str; 5] = ["1", "2", "3", "4", "5"];

fn installed(test: &str, what: &str, package: &str) -> bool {
    let found = Path::new(what).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(what).is_file()));
    if !found {
        common::skip(
            test,
            &format!("{what} is missing (Debian package {package}; .ci/run installs it)"),
        );
    }
    found
}

fn zookeeper(test: &str) -> bool {
    installed(test, "/usr/share/java/zookeeper.jar", "zookeeperd")
        && installed(test, "java", "zookeeperd")
}

fn nats(test: &str) -> bool {
    installed(test, "nats-server", "nats-server")
}

/// One run per seed: its exit code must be `want`; returns each results.json. (The common checks also
/// find any server left running, by its data directory under the run's store.)
fn runs(test: &str, args: &[&str], want: i32) -> Vec<Value> {
    let mut all = Vec::new();
    for seed in SEEDS {
        let args = [RUN, args, &["--seed", seed]].concat();
        let Some((out, res, _store)) = run_in_store(test, &args) else {
            return all;
        };
        assert_eq!(
            out.status.code(),
            Some(want),
            "{args:?}\n{}\n{res:#}",
            describe(&out)
        );
        all.push(res);
    }
    all
}

/// Plain reads are served by the server the session is connected to: a follower cut off from its peers
/// (clients still reach it) answers from what it has until it gives up on its leader, so its sessions read
/// values older than writes other sessions had already seen acknowledged. (Without a fault a follower's
/// lag is too short here to be caught reliably: 1 run in 3 at --rate 1000.)
///
/// The cut-off follower soon drops its clients, and its sessions fail over after two timeouts, so only a
/// few reads land there: caught in 6 of 7 runs measured, so the test asks for one catch in five seeds.
#[test]
fn root_zookeeper_plain_reads_are_not_linearizable() {
    let test = "root_zookeeper_plain_reads_are_not_linearizable";
    if !zookeeper(test) {
        return;
    }
    let args = [
        "--system",
        "zookeeper",
        "--mode",
        "plain",
        "--nemesis",
        "partition-follower",
    ];
    let mut caught = 0;
    for seed in SEEDS {
        let args = [RUN, &args[..], &["--seed", seed]].concat();
        let Some((out, res, _store)) = run_in_store(test, &args) else {
            return;
        };
        match out.status.code() {
            Some(0) => {}
            Some(1) => {
                assert_eq!(res["check"]["counterexample"]["op"]["f"], "read", "{res:#}");
                caught += 1;
            }
            _ => panic!("{args:?}\n{}\n{res:#}", describe(&out)),
        }
    }
    assert!(
        caught > 0,
        "plain reads were never caught stale in {} runs",
        SEEDS.len()
    );
}

/// `sync()` before each read: the same load and fault stay linearizable (the cut-off follower cannot sync).
#[test]
fn root_zookeeper_sync_reads_are_linearizable() {
    let test = "root_zookeeper_sync_reads_are_linearizable";
    if !zookeeper(test) {
        return;
    }
    for res in runs(
        test,
        &[
            "--system",
            "zookeeper",
            "--mode",
            "sync",
            "--nemesis",
            "partition-follower",
        ],
        0,
    ) {
        assert_eq!(res["guarantees"]["linearizable"], true, "{res:#}");
        let ok = res["metrics"]["by_f"]["read"]["ok"].as_u64().unwrap_or(0);
        assert!(ok > 100, "too few reads to mean anything: {res:#}");
    }
}

/// A follower cut off from its peers (clients still reach it) keeps answering direct gets (the clients'
/// default) from what it has: its sessions read values the cluster has long overwritten.
#[test]
fn root_nats_direct_gets_are_stale_on_a_cut_off_follower() {
    let test = "root_nats_direct_gets_are_stale_on_a_cut_off_follower";
    if !nats(test) {
        return;
    }
    for res in runs(test, &nats_kv("direct"), 1) {
        let cx = &res["check"]["counterexample"];
        assert_eq!(cx["op"]["f"], "read", "{res:#}");
        assert!(res["faults"][0]["hit"] == true, "{res:#}");
    }
}

/// Direct gets off: every get goes through the stream leader, so the cut-off follower's sessions get
/// errors instead of old values, and every key stays linearizable.
#[test]
fn root_nats_leader_gets_stay_linearizable_on_a_cut_off_follower() {
    let test = "root_nats_leader_gets_stay_linearizable_on_a_cut_off_follower";
    if !nats(test) {
        return;
    }
    for res in runs(test, &nats_kv("leader"), 0) {
        assert_eq!(res["guarantees"]["linearizable"], true, "{res:#}");
        assert!(res["faults"][0]["hit"] == true, "{res:#}");
    }
}

fn nats_kv(mode: &str) -> Vec<&str> {
    let args = [
        "--system",
        "nats",
        "--mode",
        mode,
        "--workload",
        "kv",
        "--keys",
        "8",
        "--nemesis",
        "partition-follower",
    ];
    args.to_vec()
}

/// nats-server 2.9.10 accepts two concurrent publishes that expect the same last subject sequence
/// (nats-server#4320, fixed after 2.9.20): the append workload's compare-and-set on the key's revision,
/// as `kv.update` does it, then loses acknowledged appends, with direct gets on or off.
#[test]
fn root_nats_2_9_loses_appends_to_concurrent_conditional_publishes() {
    let test = "root_nats_2_9_loses_appends_to_concurrent_conditional_publishes";
    if !nats(test) {
        return;
    }
    let args = [
        "--system",
        "nats",
        "--mode",
        "leader",
        "--workload",
        "append",
        "--expect",
        "eventual",
        "--rate",
        "1000",
        "--nemesis",
        "none",
    ];
    let args = [RUN, &args[..], &["--seed", "1"]].concat();
    let Some((out, res, _store)) = run_in_store(test, &args) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}\n{res:#}", describe(&out));
    assert!(
        res["lost_writes"]["count"].as_u64().unwrap_or(0) > 0,
        "{res:#}"
    );
}

/// What cannot work is refused before anything starts (exit 254): a mode the system does not have, clock
/// skew (neither has a clock the harness can move), a server program that is not there.
#[test]
fn unusable_settings_are_refused_with_the_reason() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--system", "zookeeper", "--mode", "linearizable"],
            "unknown zookeeper mode",
        ),
        (&["--system", "nats", "--mode", "sync"], "unknown nats mode"),
        (
            &["--system", "zookeeper", "--nemesis", "clock-skew"],
            "zookeeper has none",
        ),
        (
            &["--system", "nats", "--node-bin", "/nonexistent/nats-server"],
            "/nonexistent/nats-server",
        ),
        (
            &["--system", "zookeeper", "--node-bin", "/nonexistent/java"],
            "/nonexistent/java",
        ),
    ];
    for (args, says) in cases {
        let out = harness(args, store.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}\n{}", describe(&out));
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
