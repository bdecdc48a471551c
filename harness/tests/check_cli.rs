//! `harness check` end to end: the built binary on real files, verdicts as exit codes, bad input as 254.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .args(args)
        .output()
        .expect("run harness")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write history");
    p
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const STALE: &str = concat!(
    r#"{"index":0,"time":1000000000,"process":0,"type":"invoke","f":"write","key":"k2","value":4}"#,
    "\n",
    r#"{"index":1,"time":1100000000,"process":0,"type":"ok","f":"write","key":"k2","value":4}"#,
    "\n",
    r#"{"index":2,"time":1500000000,"process":"nemesis","type":"info","f":"start-partition","value":{"isolated":["n1"]}}"#,
    "\n",
    r#"{"index":3,"time":2000000000,"process":1,"type":"invoke","f":"write","key":"k2","value":9}"#,
    "\n",
    r#"{"index":4,"time":3200000000,"process":1,"type":"ok","f":"write","key":"k2","value":9}"#,
    "\n",
    r#"{"index":5,"time":3410000000,"process":2,"type":"invoke","f":"read","key":"k2","value":null}"#,
    "\n",
    r#"{"index":6,"time":3450000000,"process":2,"type":"ok","f":"read","key":"k2","value":4,"node":"n1"}"#,
    "\n"
);

#[test]
fn valid_invalid_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(dir.path(), "ok.edn", "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 1}\n");
    let o = check(&[ok.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("valid") && out.contains("register"), "{out}");

    let bad = write(dir.path(), "history.jsonl", STALE);
    let o = check(&[bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("invalid"), "{out}");
    assert!(
        out.contains("key \"k2\": invalid by inference"),
        "which method decided: {out}"
    );

    let o = check(&["--json", "--model", "kv", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    assert_eq!(v["valid"], serde_json::json!(false));
    assert_eq!(v["model"], "kv");
    assert_eq!(v["ops"], 3);
    assert_eq!(v["counterexample"]["key"], "k2");
    assert_eq!(v["per_key"][0]["method"], "inference");
    assert_eq!(v["counterexample"]["op"]["node"], "n1");
    let why = v["counterexample"]["explanation"].as_str().unwrap();
    assert!(
        why.contains("returned 4")
            && why.contains("write 9 to k2 by process 1 completed at 3.20 s"),
        "{why}"
    );
    assert!(v["file"].as_str().unwrap().ends_with("history.jsonl"));
}

#[test]
fn bad_input_is_254_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("malformed.edn", "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value [1 2}\n", "line 2"),
        ("unknown-op.edn", "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 1}\n{:process 0, :type :invoke, :f :frobnicate, :value 1}\n", "line 3"),
        ("orphan.edn", "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 1}\n{:process 5, :type :ok, :f :write, :value 2}\n", "line 3"),
        ("bad.jsonl", "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"index\":1,\"time\":2,\"process\":0,\"kind\":\"ok\",\"f\":\"read\"}\n", "line 2"),
        ("empty.jsonl", "", "empty"),
    ];
    for (name, text, want) in cases {
        let p = write(dir.path(), name, text);
        let o = check(&[p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(code(&o), 254, "{name}: {err}");
        assert!(err.contains(want), "{name}: expected {want:?} in: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let o = check(&[dir.path().join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(code(&o), 254, "{}", stderr(&o));
    let p = write(
        dir.path(),
        "cas.edn",
        "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n",
    );
    let o = check(&["--model", "register", p.to_str().unwrap()]);
    assert_eq!(
        code(&o),
        254,
        "cas under the register model: {}",
        stderr(&o)
    );
    let o = check(&["--model", "nope", p.to_str().unwrap()]);
    assert_eq!(code(&o), 254, "{}", stderr(&o));
}

#[test]
fn help_lists_every_option() {
    let o = check(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "--model",
        "--time-limit",
        "--memory-limit",
        "--threads",
        "--json",
        "cas-register",
        "Exit codes",
    ] {
        assert!(out.contains(opt), "--help lacks {opt}:\n{out}");
    }
}

#[test]
fn a_tiny_memory_bound_gives_unknown() {
    // A real register's history (each op takes effect when it completes) by 10 processes writing values
    // drawn from 1..3: repeated values leave inference little to say, so the search must explore many
    // states. (14 concurrent writes followed by reads of every value, the earlier input here, is now
    // decided at once: sequential reads after the writes must agree.)
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut rng = 1u64;
    let mut next = |m: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % m
    };
    let (procs, total) = (10u64, 2000);
    let mut pending: Vec<(u64, Option<u64>)> = Vec::new();
    let (mut invoked, mut state) = (0, None::<u64>);
    while invoked < total || !pending.is_empty() {
        let can_invoke = invoked < total && (pending.len() as u64) < procs;
        if can_invoke && (pending.is_empty() || next(2) == 0) {
            let p = (0..procs)
                .filter(|q| pending.iter().all(|(b, _)| b != q))
                .nth(next(procs - pending.len() as u64) as usize)
                .unwrap();
            let w = (next(2) == 0).then(|| 1 + next(3));
            match w {
                Some(v) => text.push_str(&format!(
                    "{{:process {p}, :type :invoke, :f :write, :value {v}}}\n"
                )),
                None => text.push_str(&format!(
                    "{{:process {p}, :type :invoke, :f :read, :value nil}}\n"
                )),
            }
            pending.push((p, w));
            invoked += 1;
        } else {
            let (p, w) = pending.remove(next(pending.len() as u64) as usize);
            match w {
                Some(v) => {
                    state = Some(v);
                    text.push_str(&format!(
                        "{{:process {p}, :type :ok, :f :write, :value {v}}}\n"
                    ));
                }
                None => {
                    let v = state.map_or("nil".to_string(), |v| v.to_string());
                    text.push_str(&format!(
                        "{{:process {p}, :type :ok, :f :read, :value {v}}}\n"
                    ));
                }
            }
        }
    }
    let f = write(dir.path(), "hard.edn", &text);
    let o = check(&["--memory-limit", "64K", "--json", f.to_str().unwrap()]);
    assert_eq!(
        code(&o),
        2,
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], "unknown");
    assert!(
        v["unknown_reason"].as_str().unwrap().contains("memory"),
        "{v}"
    );
}

/// A file nested 12,000 deep (24 KB) was a stack overflow (exit 134); now a bad history like any other:
/// 254 and one short line naming the limit and the line, in each format.
#[test]
fn deep_nesting_is_254_naming_the_limit_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}1{}", "[".repeat(12_000), "]".repeat(12_000));
    let files = [
        (
            "deep.edn",
            format!("{{:process 0, :type :invoke, :f :read, :value nil}}\n{{:process 1, :type :invoke, :f :write, :value {deep}}}\n"),
        ),
        (
            "deep.jsonl",
            format!("{{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n{{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{deep}}}\n"),
        ),
        (
            "deep.json",
            format!("[{{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}},\n{{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{deep}}}]\n"),
        ),
    ];
    for (name, text) in files {
        let p = write(dir.path(), name, &text);
        let o = check(&[p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(code(&o), 254, "{name}: {err}");
        assert!(
            err.contains("line 2: values nested deeper than 128 levels"),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.len() < 300, "{name}: not short: {err}");
    }
}

/// A history piped in (`harness check /dev/stdin`, `<(zcat ...)`) is read once and checked; before, the
/// line count read the pipe empty first ("the history is empty").
#[test]
fn a_piped_history_is_checked() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run harness");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(STALE.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

/// An endless stream of NUL bytes is refused at its first byte; before, it was read as one endless token.
#[test]
fn dev_zero_is_refused_not_read_forever() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["check", "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run harness");
    // A guard against hanging the suite, not a timing assertion: the answer needs a few bytes.
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        let _ = child.wait();
        panic!("harness check /dev/zero was still reading after a minute");
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 254, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("line 1: unexpected character"),
        "{}",
        stderr(&o)
    );
}
