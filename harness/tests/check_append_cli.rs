//! `harness check --model list-append` end to end: our JSONL with sessions and Elle EDN txns, the ladder,
//! JSON output, and bad input as 254.

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .args(args)
        .output()
        .expect("run harness")
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write history");
    p
}

/// Session 7 appends 1 on n1 (process 3), then, as process 4 after a timeout, reads [] from n2.
const RYW: &str = r#"{"index":0,"time":1000000,"process":3,"session":7,"type":"invoke","f":"append","key":"x","value":1}
{"index":1,"time":2000000,"process":3,"session":7,"type":"ok","f":"append","key":"x","value":1,"node":"n1"}
{"index":2,"time":3000000,"process":3,"session":7,"type":"invoke","f":"append","key":"x","value":2}
{"index":3,"time":9000000,"process":3,"session":7,"type":"info","f":"append","key":"x","value":2,"error":"timeout"}
{"index":4,"time":10000000,"process":4,"session":7,"type":"invoke","f":"read","key":"x","value":null}
{"index":5,"time":11000000,"process":4,"session":7,"type":"ok","f":"read","key":"x","value":[],"node":"n2"}
"#;

#[test]
fn the_ladder_shows_each_guarantee_and_the_first_violation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = write(&dir, "ryw.jsonl", RYW);
    let o = check(&["--model", "list-append", p.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("✗ read_your_writes (1 violation)"), "{out}");
    assert!(out.contains("session 7 (process 4) on n2"), "{out}");
    // One read: monotonic reads had no earlier read to compare it with.
    assert!(out.contains("– monotonic_reads: nothing to judge"), "{out}");
    let o = check(&["--json", p.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["model"], "list-append",
        "integer appends guess list-append"
    );
    assert_eq!(v["guarantees"]["read_your_writes"], false);
    assert_eq!(v["guarantees"]["monotonic_writes"], true);
    assert_eq!(v["staleness"]["stale_reads"], 1);
}

#[test]
fn elle_txn_histories_check_and_multi_micro_op_txns_go_to_the_txn_checker() {
    let ok = "{:process 0, :type :invoke, :f :txn, :value [[:append :x 1]]}\n\
              {:process 0, :type :ok, :f :txn, :value [[:append :x 1]]}\n\
              {:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}\n\
              {:process 1, :type :ok, :f :txn, :value [[:r :x [1]]]}\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let p = write(&dir, "ok.edn", ok);
    let o = check(&["--model", "list-append", p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let bad = format!(
        "{ok}{{:process 2, :type :invoke, :f :txn, :value [[:append :x 2] [:append :y 3]]}}\n"
    );
    let p = write(&dir, "multi.edn", &bad);
    let o = check(&["--model", "list-append", p.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("valid: strict-serializable (list-append)"),
        "{out}"
    );
}
