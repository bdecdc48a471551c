//! `harness check` on one of our histories with `/status` samples says who served each op the
//! explanation names, as the run's own results do.

mod common;

use common::harness_bin;
use std::process::Command;

#[test]
fn check_names_the_role_of_the_node_that_served_the_stale_read() {
    let status = r#"{"n1":{"role":"leader","term":2,"leader":"n1"},"n2":{"role":"follower","term":2,"leader":"n1"}}"#;
    let lines = [
        format!(r#"{{"index":0,"time":50000000,"process":"status","type":"info","f":"status","value":{status}}}"#),
        r#"{"index":1,"time":100000000,"process":0,"type":"invoke","f":"write","key":"r","value":7}"#.into(),
        r#"{"index":2,"time":110000000,"process":0,"type":"ok","f":"write","key":"r","value":7,"node":"n1"}"#.into(),
        r#"{"index":3,"time":500000000,"process":0,"type":"invoke","f":"write","key":"r","value":9}"#.into(),
        r#"{"index":4,"time":530000000,"process":0,"type":"ok","f":"write","key":"r","value":9,"node":"n1"}"#.into(),
        format!(r#"{{"index":5,"time":535000000,"process":"status","type":"info","f":"status","value":{status}}}"#),
        r#"{"index":6,"time":540000000,"process":1,"type":"invoke","f":"read","key":"r","value":null}"#.into(),
        r#"{"index":7,"time":545000000,"process":1,"type":"ok","f":"read","key":"r","value":7,"node":"n2"}"#.into(),
        format!(r#"{{"index":8,"time":635000000,"process":"status","type":"info","f":"status","value":{status}}}"#),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = Command::new(harness_bin())
        .args(["check", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let why = json["explanation"].as_str().unwrap();
    assert!(
        why.contains(
            "read of r by process 1 (served by n2, a follower in term 2 whose leader was n1)"
        ),
        "{why}"
    );
    assert!(
        why.contains("by process 0 (served by n1, the leader in term 2)"),
        "{why}"
    );
}
