//! The self-contained `report.html`: inline CSS and SVG only (no scripts, fonts or network), so it opens
//! from disk anywhere and stays small (plots aggregate beyond a few thousand ops; the timeline shows only
//! the counterexample).

use crate::faults::{is_leader_fault, FaultSpan};
use crate::metrics::{Availability, LatencyStats, RunMetrics};
use crate::svg::{esc, fault_color, ms, secs};
use crate::{plots, timeline};
use checker::{CheckResult, Event, History, Validity};
use serde_json::Value;
use std::fmt::Write;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Everything a report shows. Build with [`ReportInput::new`], then set the optional parts.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub title: String,
    /// The whole history, as recorded.
    pub events: &'a [Event],
    /// `events` parsed, when the caller already has it; without it the report parses `events` itself
    /// if it needs to (for the counterexample's timeline).
    pub history: Option<&'a History>,
    /// The checker's result; `None` when the history was not checked.
    pub check: Option<CheckResult>,
    /// Applied fault windows (see [`FaultSpan`]).
    pub faults: Vec<FaultSpan>,
    pub metrics: RunMetrics,
    /// Extra lines shown prominently, such as run problems ("node n2 exited").
    pub notes: Vec<String>,
    /// The run's options; a JSON object is shown as a table of its top-level fields.
    pub config: Value,
    /// The guarantee ladder, lost writes and staleness, when the run was checked for them.
    pub guarantees: Option<crate::guarantees::GuaranteeView>,
}

impl<'a> ReportInput<'a> {
    /// An input with metrics computed from `events` and `faults`, no check, notes or config.
    pub fn new(title: impl Into<String>, events: &'a [Event], faults: Vec<FaultSpan>) -> Self {
        ReportInput {
            title: title.into(),
            events,
            history: None,
            check: None,
            metrics: RunMetrics::from_events(events, &faults),
            faults,
            notes: Vec::new(),
            config: Value::Null,
            guarantees: None,
        }
    }
}

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:10px 14px;margin:12px 0}
.verdict{display:inline-block;padding:3px 12px;border-radius:14px;color:#fff;font-weight:700;font-size:16px;vertical-align:middle}
.verdict.valid{background:#2e7d32}.verdict.invalid{background:#c62828}.verdict.unknown{background:#ef6c00}
.muted{color:#667}
.numbers{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin-top:10px}
.num{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:6px 10px}
.num b{display:block;font-size:18px}.num span{color:#667;font-size:12px}
.notes{background:#fff4e5;border:1px solid #f0b85b}
.explanation{white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;background:#f8f8fa;padding:8px;border-radius:4px}
svg.plot{width:100%;height:auto;display:block;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#333}
svg .axis-title{font-size:12px;fill:#555}
svg .grid{stroke:#e6e8eb;stroke-width:1}
svg .frame{fill:none;stroke:#9aa1ab}
svg .fault-window{opacity:.22}svg .fault-window.light{opacity:.1}
svg .lane-sep{stroke:#eceef1}
svg .lane{font-weight:600}
svg .op rect{fill:#a9c4e2;stroke:#4e79a7}
svg .op.prefix rect{fill:#dde1e6;stroke:#9aa1ab}
svg .op.info rect{fill:#fde2c4;stroke:#ff7f0e;stroke-dasharray:4 2}
svg .op.anomaly rect{fill:#e53935;stroke:#8e0000;stroke-width:2}
svg .op.anomaly text{fill:#8e0000;font-weight:700}svg .op.anomaly text.in{fill:#fff}
svg .op text{font-size:11px}
svg .op.named rect{fill:#d9c8f0;stroke:#6a3d9a;stroke-width:1.5}svg .op.named text{fill:#4a2270;font-weight:600}
svg .op text.node{font-size:10px;fill:#555;font-weight:400}svg .op.anomaly text.node{fill:#8e0000}
svg rect.role{stroke:#fff;stroke-width:.5}svg rect.role.leader{fill:#4e79a7}svg rect.role.follower{fill:#dfe7f1}
svg rect.role.candidate,svg rect.role.precandidate{fill:#f6d58e}svg rect.role.down{fill:#c9c9c9}
svg text.role{font-size:10px;fill:#333}svg text.role.leader{fill:#fff}svg text.node-row{font-weight:400;fill:#555}
svg .axis-break path{fill:none;stroke:#9aa1ab;stroke-width:1.5}svg .axis-break text{fill:#667;font-size:10px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border-bottom:1px solid #e6e8eb;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
tr.anomaly td{background:#fde0de;font-weight:600}
tr.prefix td{color:#667}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.bar{display:inline-block;height:10px;background:#4e79a7;border-radius:2px}
td.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;max-width:640px;overflow-wrap:anywhere}
"#;

/// Renders the report page.
pub fn render(input: &ReportInput) -> String {
    let m = &input.metrics;
    let mut h = String::with_capacity(256 * 1024);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{t}</title><style>{CSS}</style></head><body><main>"#,
        t = esc(&input.title)
    );
    header(&mut h, input);
    if !input.notes.is_empty() {
        h.push_str(r#"<section class="notes" id="notes"><b>Run problems and notes</b><ul>"#);
        for n in &input.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul></section>");
    }
    checker_section(&mut h, input.check.as_ref());
    if let Some(g) = &input.guarantees {
        crate::guarantees::section(&mut h, g, &input.faults, plots::x_end(m, &input.faults));
    }
    let _ = write!(
        h,
        r#"<h2>Latency</h2><section>{}</section><h2>Throughput</h2><section>{}</section>"#,
        plots::latency(input.events, m, &input.faults),
        plots::throughput(m, &input.faults)
    );
    let cx = input.check.as_ref().and_then(|c| c.counterexample.as_ref());
    // Parsed only when there is a counterexample to draw and the caller did not pass the history.
    let parsed;
    let history = match input.history {
        Some(h) => Some(h),
        None if cx.is_some() => {
            parsed = checker::parse_events(input.events).ok();
            parsed.as_ref()
        }
        None => None,
    };
    let _ = write!(
        h,
        r#"<h2>First anomaly</h2><section id="anomaly-section">{}</section>"#,
        timeline::render(cx, &input.faults, input.events, history)
    );
    faults_table(&mut h, &input.faults, m);
    nodes_table(&mut h, m);
    outcomes_table(&mut h, m);
    config_table(&mut h, &input.config);
    h.push_str("</main></body></html>\n");
    h
}

fn verdict(check: Option<&CheckResult>) -> (&'static str, &'static str) {
    match check.map(|c| c.valid) {
        Some(v) => (v.as_str(), v.as_str()),
        None => (Validity::Unknown.as_str(), "not checked"),
    }
}

fn pct(a: &Availability) -> String {
    a.ratio.map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
}

fn lat(l: &Option<LatencyStats>) -> String {
    l.map_or("–".into(), |l| {
        format!("{} / {} ms", ms(l.p50_ms), ms(l.p99_ms))
    })
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or("–".into(), secs)
}

fn header(h: &mut String, input: &ReportInput) {
    let m = &input.metrics;
    let (class, word) = verdict(input.check.as_ref());
    let _ = write!(
        h,
        r#"<header><h1>{t} <span id="verdict" class="verdict {class}">{word}</span></h1>"#,
        t = esc(&input.title)
    );
    if let Some(c) = &input.check {
        let _ = write!(
            h,
            r#"<div class="muted">model {} · {} ops checked over {} key(s) · {} info · {} failed · checked in {:.0} ms</div>"#,
            esc(&c.model),
            c.ops,
            c.keys,
            c.info_ops,
            c.failed_ops,
            c.elapsed_ms
        );
    }
    let t = &m.totals;
    let u = &m.unavailability_summary;
    let nums = [
        (secs(m.duration_s), "duration".to_string()),
        (t.total().to_string(), format!("ops: {}", m.outcome_words())),
        (
            format!("{:.1}/s", m.throughput_ok_per_s),
            "ok throughput".into(),
        ),
        (lat(&m.read_latency), "read latency p50 / p99".into()),
        (lat(&m.write_latency), "write latency p50 / p99".into()),
        (
            pct(&m.availability_in_faults),
            "availability during faults (served: ok or a correct cas_failed)".into(),
        ),
        (
            pct(&m.availability_outside_faults),
            "availability outside faults".into(),
        ),
        (input.faults.len().to_string(), "faults".into()),
        (
            format!("{} / {}", opt_s(u.write_median_s), opt_s(u.write_max_s)),
            format!(
                "writes unavailable after leader faults (median / max, {})",
                u.faults
            ),
        ),
        (
            format!("{} / {}", opt_s(u.read_median_s), opt_s(u.read_max_s)),
            "reads unavailable after leader faults (median / max)".into(),
        ),
    ];
    h.push_str(r#"<div class="numbers" id="key-numbers">"#);
    for (v, l) in nums {
        let _ = write!(
            h,
            r#"<div class="num"><b>{}</b><span>{}</span></div>"#,
            esc(&v),
            esc(&l)
        );
    }
    h.push_str("</div></header>");
}

fn checker_section(h: &mut String, check: Option<&CheckResult>) {
    h.push_str(r#"<h2>Checker</h2><section id="checker">"#);
    match check {
        None => h.push_str(r#"<p class="muted">The history was not checked.</p>"#),
        Some(c) => {
            let _ = write!(
                h,
                r#"<p class="explanation" id="explanation">{}</p>"#,
                esc(&c.explanation)
            );
            if let Some(cx) = &c.counterexample {
                if cx.explanation != c.explanation {
                    let _ = write!(h, r#"<p class="explanation">{}</p>"#, esc(&cx.explanation));
                }
                let _ = write!(
                    h,
                    r#"<p class="muted">Key {} · longest linearizable prefix: {} ops, leaving the state at {}.</p>"#,
                    esc(cx.key.as_deref().unwrap_or("(single)")),
                    cx.prefix_len,
                    esc(&cx.state)
                );
            }
            if let Some(r) = &c.unknown_reason {
                let _ = write!(h, r#"<p>Unknown because: {}</p>"#, esc(r));
            }
        }
    }
    h.push_str("</section>");
}

fn faults_table(h: &mut String, faults: &[FaultSpan], m: &RunMetrics) {
    h.push_str(r#"<h2>Faults</h2><section>"#);
    if faults.is_empty() {
        h.push_str(r#"<p class="muted">No faults.</p></section>"#);
        return;
    }
    h.push_str(r#"<table id="faults"><thead><tr><th>kind</th><th>start</th><th>end</th><th>length</th><th>targets</th><th>writes back after</th><th>reads back after</th></tr></thead><tbody>"#);
    let mut unavail = m.unavailability.iter();
    for f in faults {
        // Unavailability entries follow the leader faults in order.
        let u = is_leader_fault(&f.kind).then(|| unavail.next()).flatten();
        let back = |v: Option<Option<f64>>| match v {
            Some(Some(s)) => secs(s),
            Some(None) => "never".into(),
            None => String::new(),
        };
        let _ = write!(
            h,
            r#"<tr><td><span class="swatch" style="background:{c}"></span>{k}</td><td>{s:.2} s</td><td>{e}</td><td>{len}</td><td>{tg}</td><td>{w}</td><td>{r}</td></tr>"#,
            c = fault_color(&f.kind),
            k = esc(&f.kind),
            s = f.start_s,
            e = f
                .end_s
                .map_or("still active".into(), |e| format!("{e:.2} s")),
            len = f.end_s.map_or(String::new(), |e| secs(e - f.start_s)),
            tg = esc(&f.targets.join(", ")),
            w = back(u.map(|u| u.write_s)),
            r = back(u.map(|u| u.read_s)),
        );
    }
    h.push_str("</tbody></table></section>");
}

fn nodes_table(h: &mut String, m: &RunMetrics) {
    h.push_str(r#"<h2>Requests per node</h2><section>"#);
    if m.nodes.is_empty() {
        h.push_str(r#"<p class="muted">No completion names a node.</p></section>"#);
        return;
    }
    h.push_str(r#"<table id="nodes"><thead><tr><th>node</th><th>requests</th><th>ok</th><th>share</th></tr></thead><tbody>"#);
    for (n, s) in &m.nodes {
        let _ = write!(
            h,
            r#"<tr><td>{n}</td><td>{r}</td><td>{ok}</td><td><span class="bar" style="width:{w:.0}px"></span> {p:.1}%</td></tr>"#,
            n = esc(n),
            r = s.requests,
            ok = s.ok,
            w = s.share * 300.0,
            p = s.share * 100.0
        );
    }
    h.push_str("</tbody></table></section>");
}

fn outcomes_table(h: &mut String, m: &RunMetrics) {
    h.push_str(r#"<h2>Outcomes</h2><section><table id="outcomes"><thead><tr><th>f</th><th>ok</th><th>fail</th><th>info</th><th>open</th></tr></thead><tbody>"#);
    for (f, c) in &m.by_f {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(f),
            c.ok,
            c.fail,
            c.info,
            c.open
        );
    }
    h.push_str("</tbody></table></section>");
}

fn config_table(h: &mut String, config: &Value) {
    let rows: Vec<(String, &Value)> = match config {
        Value::Null => return,
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v)).collect(),
        v => vec![("config".into(), v)],
    };
    h.push_str(r#"<h2>Configuration</h2><section><table id="config"><tbody>"#);
    for (k, v) in rows {
        let mut s = match v {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        if s.chars().count() > 300 {
            s = s.chars().take(300).collect::<String>() + "…";
        }
        let _ = write!(
            h,
            r#"<tr><th>{}</th><td class="v">{}</td></tr>"#,
            esc(&k),
            esc(&s)
        );
    }
    h.push_str("</tbody></table></section>");
}

/// Writes `<dir>/report.html` atomically (a temp file in `dir`, synced, then renamed), creating `dir` if
/// needed. Returns the report's path.
pub fn write_report(dir: &Path, input: &ReportInput) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("report.html");
    let tmp = dir.join(format!(".report.html.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(render(input).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| path)
}
