//! The run command's arguments: every bad one is refused with exit 254 and a message naming it, before
//! anything is created; `--help` documents the options a user needs.

mod common;

use common::{describe, harness};

fn refused(args: &[&str], names: &[&str]) {
    let store = tempfile::tempdir().unwrap();
    let out = harness(args, store.path());
    assert_eq!(out.status.code(), Some(254), "{args:?}: {}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for n in names {
        assert!(err.contains(n), "{args:?}: stderr lacks {n:?}: {err}");
    }
    // Refused before anything was created: no run directory.
    assert!(
        std::fs::read_dir(store.path()).unwrap().next().is_none(),
        "{args:?} left files in the store"
    );
}

#[test]
fn bad_run_arguments_are_refused_with_254_and_the_reason() {
    refused(&["--nodes", "0"], &["--nodes"]);
    refused(&["--nemesis", "bogus"], &["bogus", "partition-leader"]);
    refused(&["--mode", "nope"], &["nope", "read-index"]);
    refused(&["--time-limit", "5parsecs"], &["parsecs"]);
    refused(&["--routing", "nearest"], &["nearest", "round-robin"]);
    refused(
        &["--nemesis", "partition-ring"],
        &["partition-ring", "4 nodes"],
    );
    refused(&["--concurrency", "0"], &["--concurrency"]);
    refused(&["--partition-scope", "some"], &["some", "peers or all"]);
    refused(
        &["--system", "etcd", "--partition-scope", "all"],
        &["--partition-scope all", "etcd"],
    );
    refused(
        &[
            "--system",
            "exec",
            "--node-cmd",
            "kv {addr}",
            "--replication",
            "async",
        ],
        &["--replication async", "exec"],
    );
    refused(
        &["--system", "etcd", "--replication", "sync-all"],
        &["--replication sync-all", "etcd"],
    );
    refused(&["--lease-votes", "never"], &["never", "report or refuse"]);
    refused(&["--health-timeout", "0s"], &["--health-timeout"]);
    refused(
        &["--nodes", "1", "--nemesis", "partition-random"],
        &["partition-random", "2 nodes"],
    );
    refused(&["--expect", "strong"], &["strong", "sessions"]);
    refused(
        &["--expect", "sessions", "--workload", "kv"],
        &["--expect sessions", "--workload append"],
    );
    refused(&["--workload", "append", "--keys", "0"], &["--keys"]);
    refused(&["--settle", "soon"], &["soon"]);
    // Three faults do not fit in 10 s: the one left out is named.
    refused(
        &[
            "--nemesis",
            "partition-leader,kill-leader,pause-leader",
            "--time-limit",
            "10s",
        ],
        &["would never run", "--time-limit"],
    );
}

/// Options the node would refuse, zero or negative durations, numbers past their bounds, missing
/// binaries, bad node commands and an unwritable store: all refused up front, naming the option.
#[test]
fn bad_values_are_refused_before_anything_starts() {
    refused(&["--op-timeout", "0"], &["--op-timeout"]);
    refused(&["--check-time-limit", "0s"], &["--check-time-limit"]);
    refused(&["--time-limit", "-1"], &["--time-limit", "negative"]);
    refused(&["--time-limit", "0"], &["--time-limit"]);
    refused(&["--fault-duration", "0"], &["--fault-duration"]);
    refused(&["--rate", "-5"], &["--rate"]);
    refused(&["--rate", "0"], &["--rate"]);
    refused(&["--lease-ms", "0"], &["--lease-ms"]);
    refused(&["--lease-ms", "40"], &["--lease-ms", "--heartbeat-ms"]);
    refused(&["--heartbeat-ms", "1"], &["--heartbeat-ms"]);
    refused(&["--keys", "-1"], &["--keys"]);
    refused(
        &["--workload", "kv", "--keys", "1000000", "--nemesis", "none"],
        &["--keys", "10000"],
    );
    refused(
        &["--node-bin", "/nonexistent"],
        &["--node-bin", "/nonexistent"],
    );
    let plain = tempfile::NamedTempFile::new().unwrap();
    let plain = plain.path().to_str().unwrap();
    refused(&["--node-bin", plain], &["--node-bin", "not executable"]);
    refused(
        &["--system", "exec", "--node-cmd", "true"],
        &["--node-cmd", "{addr}"],
    );
    refused(
        &[
            "--system",
            "exec",
            "--node-cmd",
            "srv --listen {addr} --x {nope}",
        ],
        &["--node-cmd", "{nope}"],
    );
}

#[test]
fn an_unwritable_store_is_refused_naming_it() {
    for store in ["/proc/forbidden", "/etc/hostname"] {
        let out = std::process::Command::new(common::harness_bin())
            .args(["--nemesis", "none", "--store", store])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(254), "{store}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--store") && err.contains(store), "{err}");
    }
}

#[test]
fn help_documents_the_run_options_and_exit_codes() {
    let out = std::process::Command::new(common::harness_bin())
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--nemesis",
        "--mode",
        "--replication",
        "--workload",
        "--expect",
        "--settle",
        "--time-limit",
        "--seed",
        "--routing",
        "--nemesis-interval",
        "--fault-duration",
        "check",
        "clean",
        "Exit codes",
    ] {
        assert!(text.contains(opt), "--help lacks {opt}");
    }
}

/// Every number option has an upper and a lower bound (README, the options table), refused with 254 and
/// the option's name before anything is created.
#[test]
fn every_number_option_is_bounded_both_ways() {
    for (args, names) in [
        (&["--settle", "167h"][..], &["--settle", "10m"][..]),
        (&["--time-limit", "25h"], &["--time-limit", "24h"]),
        (&["--op-timeout", "61s"], &["--op-timeout", "60s"]),
        (&["--op-timeout", "5ms"], &["--op-timeout", "10ms"]),
        (&["--health-timeout", "11m"], &["--health-timeout", "10m"]),
        (&["--check-time-limit", "25h"], &["--check-time-limit"]),
        (&["--check-time-limit", "500ms"], &["--check-time-limit"]),
        (&["--nemesis-interval", "2h"], &["--nemesis-interval", "1h"]),
        (&["--fault-duration", "2h"], &["--fault-duration", "1h"]),
        (&["--packet-delay", "11s"], &["--packet-delay", "10s"]),
        (&["--packet-jitter", "11s"], &["--packet-jitter", "10s"]),
        (&["--packet-loss", "101"], &["--packet-loss", "100"]),
        (&["--packet-duplicate", "0"], &["--packet-duplicate"]),
        (&["--nodes", "10"], &["--nodes", "9"]),
        (&["--concurrency", "257"], &["--concurrency", "256"]),
        (&["--keys", "10001"], &["--keys", "10000"]),
        (&["--rate", "100001"], &["--rate", "100000"]),
        (&["--rate", "inf"], &["--rate"]),
        (
            &["--heartbeat-ms", "18446744073709551615"],
            &["--heartbeat-ms", "10000"],
        ),
        (
            &["--election-timeout-ms", "60001"],
            &["--election-timeout-ms", "60000"],
        ),
        (&["--lease-ms", "60001"], &["--lease-ms", "60000"]),
        (&["--skew-rate", "11"], &["--skew-rate", "10"]),
        (&["--skew-rate", "0"], &["--skew-rate"]),
        (&["--max-drift", "0.5"], &["--max-drift"]),
    ] {
        refused(args, names);
    }
}

/// Fault timings shorter than a fault needs: a fault must stay in place until its landing check has
/// seen it (1 s), and the heal's check must fit between two faults.
#[test]
fn fault_timings_shorter_than_a_fault_needs_are_refused() {
    refused(
        &[
            "--fault-duration",
            "1ms",
            "--nemesis-interval",
            "1ms",
            "--time-limit",
            "5",
        ],
        &["--fault-duration", "landing check", "1s"],
    );
    refused(&["--fault-duration", "999ms"], &["--fault-duration", "1s"]);
    refused(
        &["--nemesis-interval", "500ms"],
        &["--nemesis-interval", "1s"],
    );
    // The shortest accepted timings still need room for every fault: 1 s warm-up, 1 s, 0.8 s, 1 s.
    refused(
        &[
            "--nemesis",
            "partition-leader,kill-leader",
            "--fault-duration",
            "1s",
            "--nemesis-interval",
            "1s",
            "--time-limit",
            "2.8s",
        ],
        &["--time-limit", "2.8s", "would never run"],
    );
}

/// A subnet without room for the nodes is refused before a run directory exists (it was exit 255 after).
#[test]
fn a_subnet_too_small_for_the_nodes_is_refused() {
    refused(
        &["--subnet", "10.77.0.0/28", "--nodes", "9"],
        &["--subnet 10.77.0.0/28", "--nodes 9", "/27"],
    );
    refused(
        &[
            "--subnet",
            "10.77.0.0/28",
            "--nodes",
            "3",
            "--partition-scope",
            "all",
        ],
        &["--subnet", "--partition-scope all"],
    );
}

/// `compare` and `check` bound their numbers too.
#[test]
fn compare_and_check_numbers_are_bounded() {
    refused(&["compare", "--runs", "4294967296"], &["--runs", "1..=100"]);
    refused(&["compare", "--runs", "0"], &["--runs"]);
    refused(&["compare", "--runs", "101"], &["--runs"]);
    let history = tempfile::NamedTempFile::new().unwrap();
    let h = history.path().to_str().unwrap();
    for (args, names) in [
        (
            &["--time-limit", "1e300"][..],
            &["--time-limit", "86400"][..],
        ),
        (&["--threads", "100000"], &["--threads", "256"]),
        (&["--memory-limit", "5000G"], &["--memory-limit", "1024G"]),
    ] {
        let out = std::process::Command::new(common::harness_bin())
            .arg("check")
            .arg(h)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for n in names {
            assert!(err.contains(n), "{args:?}: stderr lacks {n:?}: {err}");
        }
    }
}

/// The test name is a directory of the store: `latest` (the link to the newest run) and names too long
/// for a directory were taken and the run died after creating files (exit 255); now refused first.
#[test]
fn test_names_the_store_cannot_hold_are_refused() {
    let long = "x".repeat(256);
    refused(&["--name", "latest"], &["--name latest", "newest run"]);
    refused(&["--name", &long], &["--name", "256 bytes", "255"]);
    refused(&["--name", "a\nb"], &["--name", "plain directory name"]);
    refused(&["--name", "../up"], &["--name", "plain directory name"]);
}

/// The README lists every option of `harness`, `compare`, `check` and `clean` (it once lacked `--nodes`
/// and `--skew-rate`).
#[test]
fn the_readme_lists_every_option() {
    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    for sub in [
        None,
        Some("compare"),
        Some("check"),
        Some("clean"),
        Some("hunt"),
    ] {
        let out = std::process::Command::new(common::harness_bin())
            .args(sub)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let flags: Vec<&str> = help
            .lines()
            .filter_map(|l| l.trim_start().split([' ', ',', '=']).next())
            .filter(|w| w.starts_with("--") && *w != "--help" && *w != "--version")
            .collect();
        assert!(flags.len() >= 2, "{sub:?}: no options in {help}");
        for f in flags {
            assert!(
                readme.contains(&format!("`{f}`")),
                "README lacks `{f}` (harness {} --help)",
                sub.unwrap_or("")
            );
        }
    }
}

/// A host cannot copy the packets it receives: a duplication both ways on `--hosts` is refused up front
/// (delay and loss both ways, and every fault aimed at peers, are applied there).
#[test]
fn packet_duplication_both_ways_is_refused_on_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts.toml");
    std::fs::write(&hosts, "n1 = \"root@10.9.9.1\"\n").unwrap();
    let hosts = hosts.to_str().unwrap();
    let args = [
        "--nemesis",
        "packet-duplicate",
        "--hosts",
        hosts,
        "--packet-direction",
        "both",
    ];
    refused(
        &args,
        &["packet-duplicate", "--hosts", "--packet-direction both"],
    );
    refused(&["--packet-scope", "sideways"], &["sideways", "peers"]);
}
