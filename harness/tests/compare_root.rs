//! A two-cell slice of the reads preset (read-index and any-local under partition-follower): the files exist,
//! each cell's expected and actual outcomes and its CAP label are right, and both reports render in headless
//! Chromium (screenshots kept under target/test-output/compare).

mod common;

use common::{cluster_lock, describe, harness_bin, node_bin, skip_unless_root};
use report::browser;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn output_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-output/compare");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).expect("store/latest")
}

#[test]
fn root_small_compare_writes_every_file_with_right_columns_and_renders() {
    let test = "root_small_compare_writes_every_file_with_right_columns_and_renders";
    if skip_unless_root(test) {
        return;
    }
    let node = match node_bin() {
        Ok(n) => n,
        Err(why) => return common::skip(test, &why),
    };
    let _one_at_a_time = cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let out = Command::new(harness_bin())
        .args([
            "compare",
            "--preset",
            "reads",
            "--modes",
            "read-index,any-local",
            "--nemeses",
            "partition-follower",
        ])
        .args(["--runs", "1", "--time-limit", "8s"])
        .args([
            "--extra=--concurrency=9",
            "--extra=--nemesis-interval=3s",
            "--extra=--fault-duration=3s",
        ])
        .arg("--node-bin")
        .arg(&node)
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let dir = latest(store.path());
    for f in ["compare.md", "compare.json", "compare.html"] {
        assert!(dir.join(f).is_file(), "{f} missing in {}", dir.display());
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "the slice has two cells: {rows:#?}");
    let row = |mode: &str| {
        rows.iter()
            .find(|r| r["spec"]["mode"] == mode)
            .unwrap_or_else(|| panic!("no row {mode}"))
    };
    let (ri, al) = (row("read-index"), row("any-local"));
    assert_eq!(
        (
            ri["expected"].as_str(),
            ri["valid"].as_u64(),
            ri["as_expected"].as_bool()
        ),
        (Some("linearizable ✓"), Some(1), Some(true)),
        "{ri:#}"
    );
    assert_eq!(
        (
            al["expected"].as_str(),
            al["invalid"].as_u64(),
            al["as_expected"].as_bool()
        ),
        (Some("linearizable ✗"), Some(1), Some(true)),
        "{al:#}"
    );
    // The preset cuts the follower's clients off with it: ReadIndex refuses them (CP); any-local keeps
    // answering them from its stale state (AP).
    assert_eq!(ri["cap"], "CP", "{ri:#}");
    assert_eq!(al["cap"], "AP", "{al:#}");
    assert!(ri["minority_available"].as_f64().unwrap() < 0.5, "{ri:#}");
    assert!(al["minority_reads"].as_f64().unwrap() >= 0.5, "{al:#}");
    assert!(ri["read_p50_ms"].is_number() && al["read_p50_ms"].is_number());
    assert!(
        json["client_overhead"]["closed_loop"]["read_p50_us"].is_number()
            && json["client_overhead"]["paced"]["write_p50_us"].is_number(),
        "the client's own cost is measured: {:#}",
        json["client_overhead"]
    );
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    assert!(
        md.contains("| any-local × partition-follower | linearizable ✗ | 0✓ 1✗ 0? 0! | yes |"),
        "{md}"
    );
    assert!(md.contains("Client overhead:"), "{md}");

    let Some(chromium) = browser::chromium() else {
        return common::skip(
            test,
            "no Chromium for the browser part (Debian package chromium)",
        );
    };
    let dom = browser::dump_dom(&chromium, &dir.join("compare.html")).unwrap();
    assert!(
        dom.contains(r#"id="compare""#) && dom.contains("any-local"),
        "compare.html: {dom}"
    );
    assert!(
        dom.contains(r#"class="anomaly""#),
        "compare.html names the anomaly"
    );
    // The any-local run's own report: plots and the highlighted anomaly.
    let run = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["spec"]["mode"] == "any-local")
        .and_then(|c| c["runs"][0]["dir"].as_str())
        .map(PathBuf::from)
        .expect("the any-local run's directory");
    let dom = browser::dump_dom(&chromium, &run.join("report.html")).unwrap();
    for needle in [
        r#"id="latency-plot""#,
        r#"id="throughput-plot""#,
        r#"id="anomaly""#,
        "fault-window",
    ] {
        assert!(dom.contains(needle), "report.html lacks {needle}");
    }
    let shots = output_dir();
    browser::screenshot(
        &chromium,
        &dir.join("compare.html"),
        &shots.join("compare.png"),
        1600,
        900,
    )
    .unwrap();
    browser::screenshot(
        &chromium,
        &run.join("report.html"),
        &shots.join("report.png"),
        1400,
        2000,
    )
    .unwrap();
    assert!(std::fs::metadata(shots.join("report.png")).unwrap().len() > 30_000);
}
