//! Rendering whole reports: size on a 100k-op history, real checker output, and degenerate inputs.

mod common;

use checker::{CheckOptions, CheckResult, ModelKind, Validity};
use common::{counterexample_at, generate};
use report::{render, write_report, ReportInput, RunMetrics};
use serde_json::json;

fn invalid_result(cx: checker::Counterexample) -> CheckResult {
    CheckResult {
        valid: Validity::Invalid,
        model: "cas-register".into(),
        ops: 0,
        keys: 1,
        info_ops: 0,
        failed_ops: 0,
        elapsed_ms: 12.0,
        explanation: cx.explanation.clone(),
        counterexample: Some(cx),
        unknown_reason: None,
        per_key: Vec::new(),
    }
}

fn count(h: &str, needle: &str) -> usize {
    h.matches(needle).count()
}

#[test]
fn large_history_stays_small() {
    let g = generate(100_000, 120.0, 7, true);
    let stale = g.stale.expect("a stale read was planted");
    let mut input = ReportInput::new("register lease: 100k ops", &g.events, g.faults.clone());
    input.check = Some(invalid_result(counterexample_at(&g, stale)));
    input.config = json!({"mode": "lease", "nodes": 3, "seed": 7});
    input.notes.push("node n2 is not running at the end".into());
    assert_eq!(input.metrics.totals.total(), 100_000);

    let html = render(&input);
    let size = html.len();
    eprintln!("100k-op report: {} KB", size / 1024);
    assert!(size < 10 * 1024 * 1024, "report is {size} bytes");
    // Aggregated: well below one element per op.
    assert!(size < 2 * 1024 * 1024, "report is {size} bytes");
    for id in [
        r#"id="latency-plot""#,
        r#"id="throughput-plot""#,
        r#"id="timeline""#,
        r#"id="anomaly""#,
        r#"class="verdict invalid""#,
        r#"class="p99""#,
        "node n2 is not running at the end",
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    assert_eq!(count(&html, r#"id="anomaly""#), 1);
    // 4 faults shaded in both plots, plus those overlapping the timeline.
    assert!(count(&html, r#"class="fault-window""#) >= 8);
    assert!(!html.contains("<script"));
    // Nothing from the network: the SVG namespace is the only URL.
    assert!(!html
        .replace("http://www.w3.org/2000/svg", "")
        .contains("http"));

    let dir = tempfile::tempdir().unwrap();
    let path = write_report(dir.path(), &input).unwrap();
    assert_eq!(path, dir.path().join("report.html"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
    // Only the report is left: the temp file was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn real_counterexample_from_the_checker() {
    let g = generate(1500, 20.0, 3, true);
    assert!(g.stale.is_some());
    let history = checker::parse_events(&g.events).unwrap();
    let result = checker::check(&history, ModelKind::CasRegister, &CheckOptions::default());
    assert_eq!(result.valid, Validity::Invalid, "{}", result.explanation);
    let mut input = ReportInput::new("planted stale read", &g.events, g.faults.clone());
    input.check = Some(result);
    let html = render(&input);
    assert!(html.contains(r#"class="verdict invalid""#));
    assert!(html.contains(r#"id="anomaly""#));
    // Few ops: one dot per op.
    assert!(count(&html, "<circle") > 1000);
    assert!(html.contains(r#"class="anomaly""#)); // the table row
}

#[test]
fn valid_history_has_no_anomaly() {
    let g = generate(800, 10.0, 5, false);
    let history = checker::parse_events(&g.events).unwrap();
    let result = checker::check(&history, ModelKind::CasRegister, &CheckOptions::default());
    assert_eq!(result.valid, Validity::Valid, "{}", result.explanation);
    let mut input = ReportInput::new("clean", &g.events, g.faults.clone());
    input.check = Some(result);
    let html = render(&input);
    assert!(html.contains(r#"class="verdict valid""#));
    assert!(!html.contains(r#"id="anomaly""#));
    assert!(html.contains("No counterexample"));
}

#[test]
fn empty_and_unchecked_inputs_render() {
    let input = ReportInput::new("<empty & odd>", &[], vec![]);
    let html = render(&input);
    assert!(html.contains("&lt;empty &amp; odd&gt;"));
    assert!(html.contains("not checked"));
    assert!(html.contains(r#"id="latency-plot""#));
    assert!(!html.contains("NaN") && !html.contains("\"inf"));

    // Metrics supplied by the caller are used as given.
    let mut input = ReportInput::new("x", &[], vec![]);
    input.metrics = RunMetrics::default();
    input.config = json!("just a string");
    assert!(render(&input).contains("just a string"));
}
