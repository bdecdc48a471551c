//! `harness check` on Elle transactional histories: the verdict against `--consistency`, the exit code,
//! sentences naming transactions and edges, and what could not be checked.

mod common;

use std::process::Command;

fn check(text: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.edn");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(common::harness_bin())
        .arg("check")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const READ_SKEW: &str = "{:type :ok, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :value [[:r :x []] [:r :y [1]]]}
";

#[test]
fn elle_completions_only_history_is_judged_against_the_model() {
    let (code, out, err) = check(READ_SKEW, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("invalid: not strict-serializable"), "{out}");
    assert!(out.contains("ruled out by: G-single"), "{out}");
    assert!(
        out.contains("strongest model still consistent: read-committed"),
        "{out}"
    );
    assert!(out.contains("after T1 read x without it (rw)"), "{out}");
    assert!(out.contains("not checked: real-time order"), "{out}");
    let (code, out, _) = check(READ_SKEW, &["--consistency", "read-committed"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = check(READ_SKEW, &["--model", "list-append", "--json"]);
    assert_eq!(code, 1);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["ruled_out_by"][0], "G-single");
}

#[test]
fn rw_register_and_multi_micro_op_histories_with_processes() {
    let h = "{:process 0 :type :invoke :f :txn :value [[:w :x 1] [:r :y nil]]}
{:process 0 :type :ok :f :txn :value [[:w :x 1] [:r :y nil]]}
{:process 1 :type :invoke :f :txn :value [[:r :x nil] [:w :y 2] [:r :y nil]]}
{:process 1 :type :ok :f :txn :value [[:r :x 1] [:w :y 2] [:r :y 2]]}
";
    let (code, out, err) = check(h, &["--model", "rw-register"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("valid: strict-serializable (rw-register)"),
        "{out}"
    );
    let append =
        "{:process 0 :type :invoke :f :txn :value [[:append :x 1] [:r :x nil] [:r :y nil]]}
{:process 0 :type :ok :f :txn :value [[:append :x 1] [:r :x [1]] [:r :y []]]}
";
    let (code, out, err) = check(append, &["--model", "list-append"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("not supported"), "{out}");
}

#[test]
fn bad_transactional_input_exits_254() {
    let (code, _, err) = check(
        "{:type :ok, :value [[:frob :x 1]]}\n",
        &["--model", "list-append", "--consistency", "serializable"],
    );
    assert_eq!(code, 254);
    assert!(err.contains("line 1") && err.contains(":frob"), "{err}");
    let (code, _, err) = check(READ_SKEW, &["--consistency", "linearizable"]);
    assert_eq!(code, 254, "{err}");
    assert!(err.contains("unknown consistency model"), "{err}");
}

/// Runs `harness check` on `text` with `--report <dir>/out.html` and returns the exit code, stderr and
/// the page (`None` when no file was written).
fn check_with_report(text: &str, args: &[&str]) -> (i32, String, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.edn");
    std::fs::write(&file, text).unwrap();
    let page = dir.path().join("out.html");
    let out = Command::new(common::harness_bin())
        .arg("check")
        .arg(&file)
        .args(args)
        .arg("--report")
        .arg(&page)
        .output()
        .unwrap();
    // Written through a temporary file: nothing else is left beside the page.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "h.edn" && n != "out.html")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&page).ok(),
    )
}

#[test]
fn report_draws_the_cycle_of_an_invalid_history() {
    let (code, err, page) = check_with_report(READ_SKEW, &[]);
    assert_eq!(code, 1, "{err}");
    let page = page.expect("no report written");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert_eq!(page.matches("<svg").count(), 1, "{page}");
    assert!(page.contains("G-single"), "{page}");
    assert!(page.contains(r#"class="verdict invalid""#), "{page}");
    assert!(page.contains(r#"<tspan class="kind">rw</tspan>"#), "{page}");
    assert!(page.contains("read-committed"), "{page}");
    // Self-contained: no scripts, nothing fetched.
    assert!(
        !page.contains("<script") && !page.contains("src="),
        "{page}"
    );
}

#[test]
fn report_of_a_valid_history_says_so_and_draws_nothing() {
    let valid = "{:type :ok, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :value [[:r :x [1]] [:r :y [1]]]}
";
    let (code, err, page) = check_with_report(valid, &["--model", "list-append"]);
    assert_eq!(code, 0, "{err}");
    let page = page.expect("no report written");
    assert!(page.contains(r#"class="verdict valid""#), "{page}");
    assert!(
        page.contains("valid: no anomaly rules out strict-serializable"),
        "{page}"
    );
    assert!(!page.contains("<svg"), "{page}");
}

#[test]
fn report_is_refused_where_it_cannot_be_written_or_drawn() {
    // A per-key history: no cycles to draw.
    let register = "{:process 0 :type :invoke :f :write :value 1}
{:process 0 :type :ok :f :write :value 1}
";
    let (code, err, page) = check_with_report(register, &["--model", "register"]);
    assert_eq!(code, 254, "{err}");
    assert!(
        err.contains("--report") && err.contains("transactional"),
        "{err}"
    );
    assert!(page.is_none());
    // A directory that does not exist: refused before checking.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.edn");
    std::fs::write(&file, READ_SKEW).unwrap();
    let out = Command::new(common::harness_bin())
        .arg("check")
        .arg(&file)
        .arg("--report")
        .arg(dir.path().join("nope/out.html"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(out.stdout.is_empty(), "checked anyway");
}
