//! The comparison, written four ways: a terminal table, `compare.md`, `compare.json` and `compare.html`;
//! each with the measured trade-offs in plain words.

use super::row::{pct, Row};
use super::tradeoffs::tradeoffs;
use super::{Cell, CompareArgs};
use crate::store::RunDir;
use anyhow::Result;
// One escaper for every page the project writes (it also escapes quotes, for attribute values).
use report::esc;
use std::fmt::Write as _;
use tabled::builder::Builder;
use tabled::settings::Style;
use workloads::overhead::Overhead;

fn ms(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.2}"))
}

fn secs(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{v:.2}"))
}

const HEADER: [&str; 15] = [
    "cell",
    "expected",
    "runs ✓✗?!",
    "as expected",
    "guarantees",
    "CAP",
    "served cut-off / majority",
    "read p50/p99 ms",
    "write p50/p99 ms",
    "served/s",
    "served in faults",
    "unavail. write/read s",
    "ok share per node",
    "fault→anomaly s",
    "healthy / first op s",
];

fn cells(r: &Row) -> [String; 15] {
    let lost = r
        .lost_writes
        .filter(|n| *n > 0.0)
        .map(|n| format!(" ({n:.0} lost)"))
        .unwrap_or_default();
    [
        r.label.clone(),
        r.expected.clone(),
        r.verdicts(),
        if r.as_expected {
            "yes".into()
        } else {
            "NO".into()
        },
        format!("{}{lost}", r.ladder_words()),
        r.cap.clone(),
        if r.minority_available.is_some() {
            format!(
                "{} (r {} w {}) / {}",
                pct(r.minority_available),
                pct(r.minority_reads),
                pct(r.minority_updates),
                pct(r.majority_available)
            )
        } else {
            "–".into()
        },
        format!("{} / {}", ms(r.read_p50_ms), ms(r.read_p99_ms)),
        format!("{} / {}", ms(r.write_p50_ms), ms(r.write_p99_ms)),
        r.ok_per_s.map_or("–".into(), |v| format!("{v:.0}")),
        pct(r.availability_in_faults),
        format!(
            "{} / {}",
            secs(r.unavailable_write_s),
            secs(r.unavailable_read_s)
        ),
        r.node_shares.clone(),
        secs(r.fault_to_anomaly_s),
        format!("{} / {}", secs(r.healthy_s), secs(r.first_op_s)),
    ]
}

pub fn write(
    root: &RunDir,
    plan: &[Cell],
    a: &CompareArgs,
    overhead: Option<&Overhead>,
) -> Result<()> {
    let rows: Vec<Row> = plan.iter().map(Row::of).collect();
    let words = tradeoffs(&rows, overhead);
    let command = a.command();
    root.write_json(
        "compare.json",
        &serde_json::json!({"command": command, "rows": rows, "tradeoffs": words,
                            "client_overhead": overhead, "cells": plan}),
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
        "# Comparison of consistency and replication modes\n\nMade by:\n\n```sh\n{command}\n```\n"
    );
    let _ = writeln!(
        s,
        "Verdicts per cell: ✓ valid, ✗ invalid (anomaly found), ? unknown, ! invalid run. Guarantees: \
         lin(earizable), ryw (read your writes), mr/mw (monotonic reads/writes), wfr (writes follow reads), \
         conv(erged after heal), lost (no acknowledged write lost); ✓ held in every run, ✗ broke in every \
         run. CAP: during partitions, the share of requests served to sessions that started on the cut-off \
         side (its reads r and writes w) and on the majority side; CP = the cut-off side unavailable and \
         consistent, AP = available there and a guarantee broken. \"Served\" counts ok answers and correct \
         refusals (cas_failed); unavailable, not_leader after the retry, refused and timed-out requests \
         were not served. Latencies and rates are medians over the cell's runs.\n"
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
        let _ = writeln!(s, "- **{}** ({}): {}", r.label, r.expected, r.why_expected);
    }
    let bugs: Vec<&Row> = rows.iter().filter(|r| !r.known_bugs.is_empty()).collect();
    if !bugs.is_empty() {
        let _ = writeln!(
            s,
            "\n## Known bugs of the versions tested\n\nA guarantee the design keeps that broke the way \
             one of these bugs breaks it counts as the bug, not as a failed expectation.\n"
        );
        for r in bugs {
            let _ = writeln!(s, "- **{}**: {}", r.label, r.known_bugs.join("; "));
        }
    }
    let odd: Vec<&Row> = rows.iter().filter(|r| !r.as_expected).collect();
    if !odd.is_empty() {
        let _ = writeln!(s, "\n## Not as expected\n");
        for r in odd {
            let _ = writeln!(s, "- **{}**: {}", r.label, r.unexpected.join("; "));
        }
    }
    let anomalies: Vec<&Row> = rows.iter().filter(|r| r.anomaly.is_some()).collect();
    if !anomalies.is_empty() {
        let _ = writeln!(s, "\n## First anomaly per cell\n");
        for r in anomalies {
            let _ = writeln!(
                s,
                "- **{}**: {}",
                r.label,
                r.anomaly.as_deref().unwrap_or("")
            );
        }
    }
    s
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
         <h1>Comparison of consistency and replication modes</h1><p>Made by <code>{}</code></p>",
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
                (2, true) => " class=\"invalid\"",
                (2, false) => " class=\"valid\"",
                (5, _) => " class=\"cap\"",
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
            "<li><b>{}</b> ({}): {}</li>",
            esc(&r.label),
            esc(&r.expected),
            esc(&r.why_expected)
        );
    }
    let bugs: Vec<&Row> = rows.iter().filter(|r| !r.known_bugs.is_empty()).collect();
    if !bugs.is_empty() {
        let _ = write!(
            s,
            "</ul><h2>Known bugs of the versions tested</h2><ul id=\"known-bugs\">"
        );
        for r in bugs {
            let _ = write!(
                s,
                "<li><b>{}</b>: {}</li>",
                esc(&r.label),
                esc(&r.known_bugs.join("; "))
            );
        }
    }
    let _ = write!(s, "</ul><h2>First anomaly per cell</h2><ul>");
    for r in rows.iter().filter(|r| r.anomaly.is_some()) {
        let _ = write!(
            s,
            "<li class=\"anomaly\"><b>{}</b>: {}</li>",
            esc(&r.label),
            esc(r.anomaly.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</ul></body></html>\n");
    s
}
