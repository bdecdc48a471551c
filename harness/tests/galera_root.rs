//! MariaDB Galera from Debian's packages (`mariadb-server`, `galera-4`), each mode the documented
//! `wsrep_sync_wait`: `sync-wait-0` is caught serving stale reads across nodes (clients pinned to
//! different servers, no fault), `sync-wait-1` comes out linearizable under the same load. Root only; skips with a reason where a package is missing (and fails on CI, which installs them).

mod common;

use common::{cluster_lock, describe, harness, leaves_nothing, results, skip, skip_unless_root};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// No fault: a healthy cluster under load, 30 sessions pinned to the three servers (10 each). A member
/// applies the others' writes a little after they were acknowledged; a read served there in between is
/// stale. Short runs: the cluster starts in 7 to 16 s here, so the whole file stays within about 4
/// minutes.
const LOAD: &[&str] = &[
    "--system",
    "galera",
    "--nemesis",
    "none",
    "--time-limit",
    "6s",
    "--rate",
    "3000",
    "--concurrency",
    "30",
];
const SEEDS: [&str; 5] = ["1", "2", "3", "4", "5"];

fn galera(test: &str) -> bool {
    if skip_unless_root(test) {
        return false;
    }
    let missing: Vec<&str> = [
        ("/usr/sbin/mariadbd", "mariadb-server"),
        ("/usr/lib/galera/libgalera_smm.so", "galera-4"),
        ("/usr/bin/rsync", "rsync"),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).is_file())
    .map(|(_, package)| package)
    .collect();
    if !missing.is_empty() {
        skip(
            test,
            &format!(
                "Debian packages {} are missing (.ci/run installs them)",
                missing.join(", ")
            ),
        );
    }
    missing.is_empty()
}

/// One run on a store of its own, which the `mysql` user can pass (the servers run as it); asserts it
/// left nothing behind. Returns its output and results.json.
fn run(args: &[&str]) -> (Output, Value) {
    let _one_at_a_time = cluster_lock();
    let store = tempfile::tempdir().unwrap();
    // Whatever the umask made it: mariadbd, as mysql, must reach its data directory.
    set_mode(store.path(), 0o711);
    let out = leaves_nothing(store.path(), || harness(args, store.path()));
    let res = results(store.path());
    (out, res)
}

fn set_mode(dir: &Path, mode: u32) {
    let perms = std::os::unix::fs::PermissionsExt::from_mode(mode);
    std::fs::set_permissions(dir, perms).unwrap();
}

fn mode_runs(mode: &str) -> Vec<(Output, Value)> {
    SEEDS
        .iter()
        .map(|seed| run(&[LOAD, &["--mode", mode, "--seed", seed]].concat()))
        .collect()
}

/// Reads on a member are served from what it has applied: writes committed on the others are not
/// waited for. How often a 6 s run shows it depends on the machine's load (the appliers fall behind when
/// the CPU is busy): 10 of 10 runs in an earlier session, 1 of 5 and 0 of 3 on a quiet machine on
/// 2026-12-06, 3 of 3 with other tests running beside. So the test tries seeds until one is caught (at
/// most 10) rather than asking for a rate.
#[test]
fn root_galera_sync_wait_0_serves_stale_reads() {
    let test = "root_galera_sync_wait_0_serves_stale_reads";
    if !galera(test) {
        return;
    }
    let mut tried = 0;
    let caught = (1..=10).any(|seed| {
        tried += 1;
        let seed = seed.to_string();
        let (out, res) = run(&[LOAD, &["--mode", "sync-wait-0", "--seed", &seed]].concat());
        match out.status.code() {
            Some(1) => {
                assert_eq!(res["check"]["counterexample"]["op"]["f"], "read", "{res:#}");
                true
            }
            Some(0) => false,
            _ => panic!("{}\n{res:#}", describe(&out)),
        }
    });
    eprintln!("sync-wait-0: stale reads caught at run {tried}");
    assert!(caught, "no stale read caught in {tried} runs");
}

/// `wsrep_sync_wait = 1`: every read first waits until its member has applied what the cluster had
/// committed when the read arrived.
#[test]
fn root_galera_sync_wait_1_is_linearizable() {
    let test = "root_galera_sync_wait_1_is_linearizable";
    if !galera(test) {
        return;
    }
    for (out, res) in mode_runs("sync-wait-1") {
        assert_eq!(out.status.code(), Some(0), "{}\n{res:#}", describe(&out));
        assert_eq!(res["guarantees"]["linearizable"], true, "{res:#}");
        let ok = res["metrics"]["by_f"]["read"]["ok"].as_u64().unwrap_or(0);
        assert!(ok > 100, "too few reads to mean anything: {res:#}");
    }
}

/// Transactions (`--workload txn-append`) at REPEATABLE READ, even with `wsrep_sync_wait = 1`: InnoDB
/// lets two transactions on one server both read a key and both append to it (a lost update), and an
/// append reads the row's latest version, not the snapshot. Caught (lost-update, G-single, G2-item) in
/// both seeds measured; serializable is ruled out.
#[test]
fn root_galera_transactions_are_not_serializable() {
    let test = "root_galera_transactions_are_not_serializable";
    if !galera(test) {
        return;
    }
    for seed in ["1", "2"] {
        let args = [
            LOAD,
            &[
                "--mode",
                "sync-wait-1",
                "--workload",
                "txn-append",
                "--seed",
                seed,
            ],
        ]
        .concat();
        let (out, res) = run(&args);
        assert_eq!(out.status.code(), Some(1), "{}\n{res:#}", describe(&out));
        let txn = &res["txn"];
        let also_not = txn["verdict"]["also_not"].as_array().unwrap();
        let not = txn["verdict"]["not"].as_array().unwrap();
        assert!(
            not.iter().chain(also_not).any(|m| m == "serializable"),
            "{txn:#}"
        );
        assert!(txn["ok"].as_u64().unwrap_or(0) > 100, "too few: {txn:#}");
    }
}

/// Refused before anything starts (exit 254), with the reason: a mode Galera does not have, faults aimed
/// at a leader it does not have, clock skew (no clock the harness can move), crashing every member (no
/// automatic recovery), a server binary that is not there, a store the `mysql` user cannot reach.
#[test]
fn galera_refuses_what_it_cannot_do() {
    let store = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--mode", "linearizable"], "unknown galera mode"),
        (&["--nemesis", "partition-leader"], "galera has no leader"),
        (&["--nemesis", "clock-skew"], "galera has none"),
        (&["--nemesis", "kill-all"], "manual bootstrap"),
        (
            &["--nemesis", "none", "--node-bin", "/nonexistent/mariadbd"],
            "/nonexistent/mariadbd",
        ),
    ];
    for (args, says) in cases {
        let args = [&["--system", "galera"], args].concat();
        let out = harness(&args, store.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}\n{}", describe(&out));
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Needs the mysql user, which mariadb-server brings.
    if !Path::new("/usr/sbin/mariadbd").is_file() {
        return skip(
            "galera_refuses_what_it_cannot_do (store check)",
            "no mariadb-server",
        );
    }
    set_mode(store.path(), 0o700);
    let out = harness(
        &["--system", "galera", "--nemesis", "none"],
        &store.path().join("store"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{}", describe(&out));
    assert!(err.contains("cannot reach the store"), "{err}");
}
