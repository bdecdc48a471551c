//! The comparison, written four ways: a terminal table, `compare.md`, `compare.json` and `compare.html`;
//! each with the measured trade-offs in plain words.

use super::{Cell, CompareArgs};
use crate::store::RunDir;
use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use tabled::builder::Builder;
use tabled::settings::Style;

/// A cell's numbers: medians over its runs.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub mode: String,
    pub nemesis: String,
    pub expected: String,
    pub why_expected: String,
    pub runs: usize,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub invalid_run: usize,
    pub as_expected: bool,
    pub read_p50_ms: Option<f64>,
    pub read_p99_ms: Option<f64>,
    pub write_p50_ms: Option<f64>,
    pub write_p99_ms: Option<f64>,
    pub ok_per_s: Option<f64>,
    /// Share of ops invoked during a fault that completed ok.
    pub availability_in_faults: Option<f64>,
    /// After a fault aimed at the leader: time to the first ok write and read.
    pub unavailable_write_s: Option<f64>,
    pub unavailable_read_s: Option<f64>,
    /// Largest share of the ok requests one node answered.
    pub busiest_node_share: Option<f64>,
    pub node_shares: String,
    /// The first anomaly found, in words.
    pub anomaly: Option<String>,
    pub fault_to_anomaly_s: Option<f64>,
}

fn num(v: &Value, ptr: &str) -> Option<f64> {
    v.pointer(ptr).and_then(Value::as_f64)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

impl Row {
    fn of(c: &Cell) -> Row {
        let med = |ptr: &str| median(c.runs.iter().filter_map(|r| num(&r.results, ptr)).collect());
        // Share of the successful requests each node answered (failed ones cost it little).
        let ok: Vec<(String, f64)> = c
            .runs
            .first()
            .and_then(|r| r.results.pointer("/metrics/nodes"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(n, s)| Some((n.clone(), s.get("ok")?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let total: f64 = ok.iter().map(|(_, k)| k).sum();
        let shares: Vec<(String, f64)> = ok
            .into_iter()
            .map(|(n, k)| (n, if total > 0.0 { k / total } else { 0.0 }))
            .collect();
        let first_anomaly = c.runs.iter().find_map(|r| {
            r.results
                .pointer("/check/counterexample/explanation")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        Row {
            mode: c.mode.clone(),
            nemesis: c.nemesis.clone(),
            expected: c.expect.name().to_string(),
            why_expected: c.why_expected.clone(),
            runs: c.runs.len(),
            valid: c.count(crate::exit::VALID),
            invalid: c.count(crate::exit::INVALID),
            unknown: c.count(crate::exit::UNKNOWN),
            invalid_run: c.count(crate::exit::INVALID_RUN),
            as_expected: c.unexpected() == 0,
            read_p50_ms: med("/metrics/read_latency/p50_ms"),
            read_p99_ms: med("/metrics/read_latency/p99_ms"),
            write_p50_ms: med("/metrics/write_latency/p50_ms"),
            write_p99_ms: med("/metrics/write_latency/p99_ms"),
            ok_per_s: med("/metrics/throughput_ok_per_s"),
            availability_in_faults: med("/metrics/availability_in_faults/ratio"),
            unavailable_write_s: med("/metrics/unavailability_summary/write_median_s"),
            unavailable_read_s: med("/metrics/unavailability_summary/read_median_s"),
            busiest_node_share: shares.iter().map(|(_, s)| *s).reduce(f64::max),
            node_shares: shares
                .iter()
                .map(|(n, s)| format!("{n} {:.0}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(" "),
            anomaly: first_anomaly,
            fault_to_anomaly_s: med("/detection/delay_s"),
        }
    }

    fn verdicts(&self) -> String {
        format!(
            "{}✓ {}✗ {}? {}!",
            self.valid, self.invalid, self.unknown, self.invalid_run
        )
    }
}

fn ms(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.1}"))
}

fn secs(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.2}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.0}%", v * 100.0))
}

const HEADER: [&str; 12] = [
    "mode",
    "nemesis",
    "expected",
    "runs ✓✗?!",
    "as expected",
    "read p50/p99 ms",
    "write p50/p99 ms",
    "ok/s",
    "avail. in faults",
    "unavail. write/read s",
    "ok share per node",
    "fault→anomaly s",
];

fn cells(r: &Row) -> [String; 12] {
    [
        r.mode.clone(),
        r.nemesis.clone(),
        r.expected.clone(),
        r.verdicts(),
        if r.as_expected {
            "yes".into()
        } else {
            "NO".into()
        },
        format!("{} / {}", ms(r.read_p50_ms), ms(r.read_p99_ms)),
        format!("{} / {}", ms(r.write_p50_ms), ms(r.write_p99_ms)),
        ms(r.ok_per_s),
        pct(r.availability_in_faults),
        format!(
            "{} / {}",
            secs(r.unavailable_write_s),
            secs(r.unavailable_read_s)
        ),
        r.node_shares.clone(),
        secs(r.fault_to_anomaly_s),
    ]
}

/// Median of one number over every row of `mode` (across faults).
fn mode_median(rows: &[Row], mode: &str, f: impl Fn(&Row) -> Option<f64>) -> Option<f64> {
    median(
        rows.iter()
            .filter(|r| r.mode == mode)
            .filter_map(f)
            .collect(),
    )
}

/// The trade-offs the seeds promise, each with the number measured here (only those this matrix measured).
pub fn tradeoffs(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    let read = |m: &str| mode_median(rows, m, |r| r.read_p50_ms);
    if let (Some(ri), Some(lease)) = (read("read-index"), read("lease")) {
        out.push(format!(
            "ReadIndex costs a quorum round trip per read: its reads took {ri:.2} ms at p50 against {lease:.2} ms \
             for lease reads ({:.1}x).",
            ri / lease.max(1e-9)
        ));
    }
    // Writes need the new leader; reads may still be served by an old leader on its lease.
    let leader_lost = |m: &str| {
        median(
            rows.iter()
                .filter(|r| {
                    r.mode == m && matches!(r.nemesis.as_str(), "partition-leader" | "kill-leader")
                })
                .filter_map(|r| r.unavailable_write_s)
                .collect(),
        )
    };
    if let (Some(lease), Some(ri)) = (leader_lost("lease"), leader_lost("read-index")) {
        out.push(format!(
            "Leases leave a window without a leader after a leader failure: the first write succeeded {lease:.2} s \
             after the fault with lease (the new leader waits out the old lease), against {ri:.2} s with ReadIndex."
        ));
    }
    let p99 = |m: &str| mode_median(rows, m, |r| r.read_p99_ms);
    if let (Some(fr), Some(ri), Some(fr50), Some(ri50)) = (
        p99("follower-read"),
        p99("read-index"),
        read("follower-read"),
        read("read-index"),
    ) {
        out.push(format!(
            "Follower reads first wait for the follower to apply the leader's read index: they took {fr50:.2} ms \
             at p50 and {fr:.2} ms at p99, against {ri50:.2} / {ri:.2} ms for ReadIndex reads answered by the leader."
        ));
    }
    let busiest = |m: &str| mode_median(rows, m, |r| r.busiest_node_share);
    if let (Some(one), Some(spread)) = (busiest("read-index"), busiest("follower-read")) {
        out.push(format!(
            "Leader-only serving puts most load on one node: with read-index the busiest node answered {:.0}% of \
             the successful requests; with follower reads, {:.0}%.",
            one * 100.0,
            spread * 100.0
        ));
    }
    for m in ["leader-local", "any-local", "lease-no-wait"] {
        let invalid: usize = rows.iter().filter(|r| r.mode == m).map(|r| r.invalid).sum();
        let runs: usize = rows.iter().filter(|r| r.mode == m).map(|r| r.runs).sum();
        if let Some(p50) = read(m) {
            out.push(format!(
                "{m} is fast and wrong: reads took {p50:.2} ms at p50, and {invalid} of {runs} runs found an anomaly."
            ));
        }
    }
    let lost: Vec<&Row> = rows
        .iter()
        .filter(|r| r.nemesis == "kill-leader" && r.invalid > 0 && r.why_expected.contains("lost"))
        .collect();
    if let Some(r) = lost.first() {
        out.push(format!(
            "Asynchronous replication loses acknowledged writes on failover: {} of {} kill-leader runs ({}) lost one.",
            r.invalid, r.runs, r.mode
        ));
    }
    out
}

pub fn write(root: &RunDir, plan: &[Cell], a: &CompareArgs) -> Result<()> {
    let rows: Vec<Row> = plan.iter().map(Row::of).collect();
    let words = tradeoffs(&rows);
    let command = format!(
        "harness compare --system {} --modes {} --nemeses {} --runs {} --time-limit {} --replication {} --routing {} --seed {}{}",
        a.system,
        a.modes,
        a.nemeses,
        a.runs,
        a.time_limit,
        a.replication,
        a.routing,
        a.seed,
        a.extra.iter().map(|e| format!(" --extra={e}")).collect::<String>()
    ) + &a
        .node_cmd
        .as_ref()
        .map(|c| format!(" --node-cmd '{c}'"))
        .unwrap_or_default();
    root.write_json(
        "compare.json",
        &serde_json::json!({"command": command, "rows": rows, "tradeoffs": words, "cells": plan}),
    )?;
    root.write_text("compare.md", &markdown(&rows, &words, &command))?;
    root.write_text("compare.html", &html(&rows, &words, &command))?;
    let mut b = Builder::default();
    b.push_record(HEADER);
    for r in &rows {
        b.push_record(cells(r));
    }
    let mut table = b.build();
    table.with(Style::rounded());
    println!("{table}");
    for w in &words {
        println!("- {w}");
    }
    println!("written: {}", root.root.display());
    Ok(())
}

fn markdown(rows: &[Row], words: &[String], command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Comparison of consistency modes\n\nMade by:\n\n```sh\n{command}\n```\n"
    );
    let _ = writeln!(
        s,
        "Verdicts per cell: ✓ valid, ✗ invalid (anomaly found), ? unknown, ! invalid run. \
         Latencies and rates are medians over the cell's runs.\n"
    );
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADER.len()));
    for r in rows {
        let _ = writeln!(s, "| {} |", cells(r).join(" | "));
    }
    let _ = writeln!(s, "\n## Trade-offs, measured\n");
    for w in words {
        let _ = writeln!(s, "- {w}");
    }
    let _ = writeln!(s, "\n## Why each cell expects what it expects\n");
    for r in rows {
        let _ = writeln!(
            s,
            "- **{} × {}** ({}): {}",
            r.mode, r.nemesis, r.expected, r.why_expected
        );
    }
    let anomalies: Vec<&Row> = rows.iter().filter(|r| r.anomaly.is_some()).collect();
    if !anomalies.is_empty() {
        let _ = writeln!(s, "\n## First anomaly per cell\n");
        for r in anomalies {
            let _ = writeln!(
                s,
                "- **{} × {}**: {}",
                r.mode,
                r.nemesis,
                r.anomaly.as_deref().unwrap_or("")
            );
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html(rows: &[Row], words: &[String], command: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Comparison of consistency modes</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}th{{background:#f3f3f3}}\
         tr.unexpected td{{background:#fdd}}td.valid{{color:#070}}td.invalid{{color:#b00;font-weight:bold}}\
         .bar{{display:inline-block;height:10px;background:#69c;vertical-align:middle}}\
         code{{background:#f6f6f6;padding:2px 4px}}</style></head><body>\
         <h1>Comparison of consistency modes</h1><p>Made by <code>{}</code></p>",
        esc(command)
    );
    let max_p50 = rows
        .iter()
        .filter_map(|r| r.read_p50_ms)
        .fold(0.0, f64::max);
    let _ = write!(s, "<table id=\"compare\"><tr>");
    for h in HEADER {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    let _ = write!(s, "<th>read p50</th></tr>");
    for r in rows {
        let class = if r.as_expected {
            "expected"
        } else {
            "unexpected"
        };
        let _ = write!(s, "<tr class=\"{class}\">");
        for (i, c) in cells(r).iter().enumerate() {
            let cls = match (i, r.invalid > 0) {
                (3, true) => " class=\"invalid\"",
                (3, false) => " class=\"valid\"",
                _ => "",
            };
            let _ = write!(s, "<td{cls}>{}</td>", esc(c));
        }
        let width = r.read_p50_ms.map_or(0.0, |v| 200.0 * v / max_p50.max(1e-9));
        let _ = write!(
            s,
            "<td><span class=\"bar\" style=\"width:{width:.0}px\"></span></td></tr>"
        );
    }
    let _ = write!(
        s,
        "</table><h2>Trade-offs, measured</h2><ul id=\"tradeoffs\">"
    );
    for w in words {
        let _ = write!(s, "<li>{}</li>", esc(w));
    }
    let _ = write!(s, "</ul><h2>Why each cell expects what it expects</h2><ul>");
    for r in rows {
        let _ = write!(
            s,
            "<li><b>{} × {}</b> ({}): {}</li>",
            esc(&r.mode),
            esc(&r.nemesis),
            esc(&r.expected),
            esc(&r.why_expected)
        );
    }
    let _ = write!(s, "</ul><h2>First anomaly per cell</h2><ul>");
    for r in rows.iter().filter(|r| r.anomaly.is_some()) {
        let _ = write!(
            s,
            "<li class=\"anomaly\"><b>{} × {}</b>: {}</li>",
            esc(&r.mode),
            esc(&r.nemesis),
            esc(r.anomaly.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</ul></body></html>\n");
    s
}
