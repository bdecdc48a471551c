//! Opens reports from disk in headless Chromium: the rendered DOM must hold the plots and the highlighted
//! anomaly, and a screenshot is kept in `target/test-output/report/` for people to look at.
//! Skips (with the reason printed) when Chromium is missing; CI installs the Debian package `chromium`.

mod common;

use checker::{CheckOptions, ModelKind, Validity};
use common::{counterexample_at, generate, output_dir};
use report::{browser, write_report, ReportInput};
use std::path::Path;

fn check_page(bin: &Path, dir: &Path, name: &str) {
    let page = dir.join("report.html");
    let dom = browser::dump_dom(bin, &page).unwrap();
    for needle in [
        r#"id="latency-plot""#,
        r#"id="throughput-plot""#,
        r#"id="timeline""#,
        r#"class="fault-window""#,
        r#"id="anomaly""#,
        r#"verdict invalid"#,
    ] {
        assert!(dom.contains(needle), "{name}: rendered DOM lacks {needle}");
    }
    // The anomaly is the op drawn in the timeline.
    let at = dom.find(r#"id="anomaly""#).unwrap();
    assert!(dom[..at]
        .rfind("<g ")
        .is_some_and(|g| dom[g..at].contains("op anomaly")));

    let shot = output_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    browser::screenshot(bin, &page, &shot, 1400, 2000).unwrap();
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    // A blank page compresses to a few KB; plots and text do not.
    assert!(
        png.len() > 30_000,
        "{name}: screenshot only {} bytes",
        png.len()
    );
    eprintln!(
        "{name}: screenshot {} ({} KB)",
        shot.display(),
        png.len() / 1024
    );
}

#[test]
fn report_renders_in_chromium() {
    let Some(bin) = browser::chromium() else {
        let why = format!(
            "no Chromium at {} (install the Debian package `chromium`, or point CHROMIUM at a binary)",
            std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
        );
        // On CI (which installs Chromium) a test that cannot run fails rather than passes.
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "report_renders_in_chromium cannot run on CI (CI=true): {why}"
        );
        eprintln!("SKIP report_renders_in_chromium: {why}");
        return;
    };
    let out = output_dir();

    // A small history, checked for real: one dot per op.
    let g = generate(2000, 30.0, 11, true);
    let history = checker::parse_events(&g.events).unwrap();
    let result = checker::check(&history, ModelKind::CasRegister, &CheckOptions::default());
    assert_eq!(result.valid, Validity::Invalid);
    let mut input = ReportInput::new(
        "cas register, lease reads (small)",
        &g.events,
        g.faults.clone(),
    );
    input.check = Some(result);
    input.config = serde_json::json!({"mode": "lease", "nemesis": "partition-leader,kill-leader,pause-leader", "seed": 11});
    input
        .notes
        .push("example note: node n2 is not running at the end".into());
    let small = out.join("small");
    write_report(&small, &input).unwrap();
    check_page(&bin, &small, "small");

    // A 100k-op history: aggregated lines.
    let g = generate(100_000, 120.0, 7, true);
    let mut input = ReportInput::new("cas register, 100k ops", &g.events, g.faults.clone());
    let cx = counterexample_at(&g, g.stale.unwrap());
    input.check = Some(checker::CheckResult {
        valid: Validity::Invalid,
        model: "cas-register".into(),
        ops: 100_000,
        keys: 1,
        info_ops: 0,
        failed_ops: 0,
        elapsed_ms: 0.0,
        explanation: cx.explanation.clone(),
        counterexample: Some(cx),
        unknown_reason: None,
        per_key: Vec::new(),
    });
    let large = out.join("large");
    write_report(&large, &input).unwrap();
    check_page(&bin, &large, "large");
}
