//! Verdicts that must not pass on nothing, nor fail a correct system (root: namespaces). Real runs with
//! `--system exec` against tests/fixtures/quirky_kv.py, a real HTTP server speaking docs/protocol.md
//! with one quirk at a time: appends refused with 400, a query string ignored, local reads refused.

mod common;

use common::{cluster_lock, describe, harness, leaves_nothing, results, skip_unless_root};
use serde_json::Value;
use std::process::Output;

/// A run of the fixture with `quirk` (its extra arguments) and `args` (`--workload append` unless they
/// name one); None when the test must skip.
fn run(test: &str, quirk: &str, args: &[&str]) -> Option<(Output, Value)> {
    if skip_unless_root(test) {
        return None;
    }
    let _one_at_a_time = cluster_lock();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quirky_kv.py");
    let cmd = format!("python3 {script} --id {{id}} --addr {{addr}} --peers {{peers}} {quirk}");
    let mut all = vec![
        "--system",
        "exec",
        "--node-cmd",
        &cmd,
        "--nemesis",
        "none",
        "--keys",
        "3",
        "--rate",
        "50",
        "--time-limit",
        "4s",
        "--seed",
        "26",
    ];
    if !args.contains(&"--workload") {
        all.extend_from_slice(&["--workload", "append"]);
    }
    all.extend_from_slice(args);
    let store = tempfile::tempdir().unwrap();
    let out = leaves_nothing(store.path(), || harness(&all, store.path()));
    let res = results(store.path());
    Some((out, res))
}

fn problems(res: &Value) -> String {
    res["run_problems"].to_string()
}

/// The rung of `name` in the ladder.
fn rung<'a>(res: &'a Value, name: &str) -> &'a Value {
    res["ladder"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in the ladder: {res:#}"))
}

/// Append answered 400 at every key: the start-up probe stops the run before any op (exit 3), naming the
/// request and the answer.
#[test]
fn root_append_refused_with_400_stops_at_start() {
    let test = "root_append_refused_with_400_stops_at_start";
    let Some((out, res)) = run(test, "--append-400 ''", &["--expect", "sessions"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(3), "{}\n{res:#}", describe(&out));
    let p = problems(&res);
    assert!(
        p.contains("POST /kv/{key}/append") && p.contains("HTTP 400"),
        "{p}"
    );
    assert_eq!(res["stats"]["ok"], 0, "no op ran: {res:#}");
}

/// Not only append: a register run against a system that answers cas with 501 (and no JSON body) stops
/// at start too, naming the request.
#[test]
fn root_cas_answered_501_stops_a_register_run_at_start() {
    let test = "root_cas_answered_501_stops_a_register_run_at_start";
    let Some((out, res)) = run(test, "--cas 501", &["--workload", "register"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(3), "{}\n{res:#}", describe(&out));
    let p = problems(&res);
    assert!(
        p.contains("--workload register needs POST /kv/{key}/cas") && p.contains("HTTP 501"),
        "{p}"
    );
    assert_eq!(res["stats"]["ok"], 0, "no op ran: {res:#}");
}

/// Append answered 400 at the workload's keys only (the probe's own key passes): every append fails,
/// so the session guarantees have nothing to judge. The run is invalid (exit 3), says why in numbers,
/// and no guarantee is ✓.
#[test]
fn root_no_append_succeeded_is_an_invalid_run_not_a_pass() {
    let test = "root_no_append_succeeded_is_an_invalid_run_not_a_pass";
    let Some((out, res)) = run(test, "--append-400 k", &["--expect", "sessions"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(3), "{}\n{res:#}", describe(&out));
    let p = problems(&res);
    assert!(
        p.contains("no append succeeded") && p.contains("answered bad_request"),
        "{p}"
    );
    for g in [
        "linearizable",
        "read_your_writes",
        "monotonic_reads",
        "monotonic_writes",
        "writes_follow_reads",
    ] {
        assert_eq!(res["guarantees"][g], Value::Null, "{g}: {res:#}");
        assert!(
            rung(&res, g)["why"]
                .as_str()
                .is_some_and(|w| w.contains("nothing to judge")),
            "{g}: {res:#}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("INVALID RUN"), "{stdout}");
    assert!(!stdout.contains('✓'), "nothing is kept: {stdout}");
}

/// A system that ignores the query string answers every local read with null (a key named
/// `k0?local=true`): its nodes agree with each other, but not with the final reads, so convergence is ✗
/// (never ✓) and `--expect eventual` fails.
#[test]
fn root_local_reads_that_ignore_the_query_do_not_converge() {
    let test = "root_local_reads_that_ignore_the_query_do_not_converge";
    let Some((out, res)) = run(test, "--ignore-query", &["--expect", "eventual"]) else {
        return;
    };
    assert_eq!(res["guarantees"]["converged"], false, "{res:#}");
    assert_eq!(out.status.code(), Some(1), "{}\n{res:#}", describe(&out));
    let why = rung(&res, "converged")["why"].to_string();
    assert!(why.contains("final reads saw"), "{why}");
    assert_eq!(res["lost_writes"]["count"], 0, "nothing was lost: {res:#}");
}

/// Local reads answered 400 or `not_leader` mean "no local reads": convergence is not checkable (–), and
/// with nothing lost `--expect eventual` passes (exit 0).
#[test]
fn root_local_reads_refused_are_not_checkable_and_eventual_passes() {
    let test = "root_local_reads_refused_are_not_checkable_and_eventual_passes";
    for (quirk, said) in [
        ("--local 400", "HTTP 400"),
        ("--local not_leader", "not_leader"),
    ] {
        let Some((out, res)) = run(test, quirk, &["--expect", "eventual"]) else {
            return;
        };
        assert_eq!(
            out.status.code(),
            Some(0),
            "{quirk}: {}\n{res:#}",
            describe(&out)
        );
        assert_eq!(
            res["guarantees"]["converged"],
            Value::Null,
            "{quirk}: {res:#}"
        );
        let unchecked = res["convergence"]["unchecked"].to_string();
        assert!(
            unchecked.contains("not checkable") && unchecked.contains(said),
            "{quirk}: {unchecked}"
        );
        assert!(
            res["lost_writes"]["judged"].as_u64().is_some_and(|n| n > 0),
            "{quirk}: the pass judged appends: {res:#}"
        );
    }
}

/// Convergence is measured from the heal: this system agrees at once, so the time reported is well
/// under the 4 s `--settle` that the harness still waits before the final reads.
#[test]
fn root_convergence_time_is_measured_from_the_heal_not_the_settle() {
    let test = "root_convergence_time_is_measured_from_the_heal_not_the_settle";
    let Some((out, res)) = run(test, "", &["--expect", "eventual", "--settle", "4s"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}\n{res:#}", describe(&out));
    let c = &res["convergence"];
    assert_eq!(c["converged"], true, "{res:#}");
    assert_eq!(c["settle_s"], 4.0, "{res:#}");
    let after = c["after_heal_s"].as_f64().expect("a time");
    assert!(after < 4.0, "measured, not the settle wait: {c:#}");
    assert!(
        c["rounds"].as_u64().is_some_and(|r| r > 1),
        "polled through the settle: {c:#}"
    );
}
