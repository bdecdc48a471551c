//! Redis with Sentinel from Debian's packages, in its two write modes, under the faults that make Sentinel
//! fail over: `async` loses acknowledged writes, `wait` (`WAIT 1` after each write) loses fewer but, as
//! Redis documents, not none. Root only; skips with a reason where a package is missing (and fails on
//! CI, which installs them).

mod common;

use common::{describe, harness, run_in_store};
use serde_json::Value;

/// Short runs: one fault window (3 s, long enough for a failover: a sentinel holds the master down after
/// 1 s) fits twice in 10 s.
const RUN: &[&str] = &["--time-limit", "10s", "--workload", "append"];

fn redis(test: &str) -> bool {
    for (program, package) in [
        ("redis-server", "redis-server"),
        ("redis-sentinel", "redis-sentinel"),
    ] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
        if !found {
            common::skip(
                test,
                &format!("{program} is missing (Debian package {package}; .ci/run installs it)"),
            );
            return false;
        }
    }
    true
}

/// One run per seed in `mode` under `nemesis`: each must exit with one of `exits` with its fault landed;
/// returns each results.json. (The common checks also find any server or sentinel left running, by its
/// data directory under the run's store.)
fn runs(test: &str, mode: &str, nemesis: &str, seeds: &[&str], exits: &[i32]) -> Vec<Value> {
    let mut all = Vec::new();
    for seed in seeds {
        let args = [
            RUN,
            &[
                "--system",
                "redis",
                "--mode",
                mode,
                "--nemesis",
                nemesis,
                "--seed",
                seed,
            ],
        ]
        .concat();
        let Some((out, res, _store)) = run_in_store(test, &args) else {
            return all;
        };
        assert!(
            out.status.code().is_some_and(|c| exits.contains(&c)),
            "{args:?}\n{}\n{res:#}",
            describe(&out)
        );
        assert_eq!(res["faults"][0]["hit"], true, "{args:?}: {res:#}");
        all.push(res);
    }
    all
}

fn lost(res: &Value) -> u64 {
    res["lost_writes"]["count"].as_u64().unwrap_or(0)
}

/// The master cut off from its peers (clients still reach it) keeps acknowledging the appends of the
/// sessions whose sentinel is on its side, while the others elect a new master; at the heal it becomes
/// a replica of the new one and drops them. Lost in every run measured (see the README).
#[test]
fn root_redis_async_loses_acknowledged_appends_when_the_master_is_cut_off() {
    let test = "root_redis_async_loses_acknowledged_appends_when_the_master_is_cut_off";
    if !redis(test) {
        return;
    }
    for res in runs(
        test,
        "async",
        "partition-leader",
        &["1", "2", "3", "4", "5"],
        &[1],
    ) {
        assert!(lost(&res) > 0, "no acknowledged append lost: {res:#}");
        assert_eq!(res["guarantees"]["read_your_writes"], false, "{res:#}");
    }
}

/// `WAIT 1` under the same fault: what the cut-off master took while no replica could confirm it ends
/// `info`, not `ok`, so far fewer acknowledged appends are lost than in `async`, but not always none: a
/// replica still attached to the old master when the partition heals confirms its last writes, then
/// follows the new master and drops them (lost in 2 of 3 runs measured, see the README). So only what
/// holds in every run is asserted: the unconfirmed writes are unknown, and the loss is a small part.
#[test]
fn root_redis_wait_leaves_unconfirmed_appends_unknown_when_the_master_is_cut_off() {
    let test = "root_redis_wait_leaves_unconfirmed_appends_unknown_when_the_master_is_cut_off";
    if !redis(test) {
        return;
    }
    for res in runs(test, "wait", "partition-leader", &["1", "2", "3"], &[1]) {
        let appends = &res["metrics"]["by_f"]["append"];
        let (ok, info) = (appends["ok"].as_u64(), appends["info"].as_u64());
        let (ok, info) = (ok.unwrap_or(0), info.unwrap_or(0));
        assert!(info > 0, "no append was left unconfirmed: {res:#}");
        assert!(
            lost(&res) * 5 < ok,
            "more than a fifth of the acknowledged appends lost: {res:#}"
        );
    }
}

/// A crash of the master: Sentinel promotes a replica; the old master comes back as master for a moment
/// with its own data before Sentinel turns it into a replica. In `wait` the writes it takes then have no
/// replica to confirm them and end `info`, so no acknowledged append is lost. Reads it serves meanwhile
/// may be stale (linearizability broken, exit 1) or not (exit 0): both seen.
#[test]
fn root_redis_wait_keeps_acknowledged_appends_across_a_master_crash() {
    let test = "root_redis_wait_keeps_acknowledged_appends_across_a_master_crash";
    if !redis(test) {
        return;
    }
    let seeds = ["1", "2", "3", "4", "5"];
    for res in runs(test, "wait", "kill-leader", &seeds, &[0, 1]) {
        assert_eq!(res["lost_writes"]["checked"], true, "{res:#}");
        assert_eq!(lost(&res), 0, "{res:#}");
    }
}

/// What cannot work is refused before anything starts (exit 254): a mode Redis does not have here,
/// clock skew (no clock the harness can move), a server program that is not there.
#[test]
fn unusable_redis_settings_are_refused_with_the_reason() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--system", "redis", "--mode", "sync"],
            "unknown redis mode",
        ),
        (
            &["--system", "redis", "--nemesis", "clock-skew"],
            "redis has none",
        ),
        (
            &[
                "--system",
                "redis",
                "--node-bin",
                "/nonexistent/redis-server",
            ],
            "/nonexistent/redis-server",
        ),
    ];
    for (args, says) in cases {
        let out = harness(args, store.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}\n{}", describe(&out));
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
