//! The latency and throughput plots over the whole run, with fault windows shaded.

use crate::faults::FaultSpan;
use crate::metrics::{Bucket, RunMetrics};
use crate::ops::pair;
use crate::svg::{esc, fault_color, fault_kinds, ms, Frame, LegendItem, Scale};
use checker::{Event, EventType};
use std::fmt::Write;

/// Above this many completed ops the latency plot shows per-bucket quantile lines instead of dots, which
/// keeps the page small and readable for long runs.
pub const MAX_DOTS: usize = 4000;
const W: f64 = 1200.0;
const H: f64 = 340.0;

fn op_color(f: &str) -> &'static str {
    match f {
        "read" | "get" => "#4e79a7",
        "write" | "put" | "append" => "#59a14f",
        "cas" => "#b07aa1",
        _ => "#79706e",
    }
}
const FAIL: &str = "#d62728";
const INFO: &str = "#ff7f0e";

/// The x extent: the run and every fault window.
pub fn x_end(m: &RunMetrics, faults: &[FaultSpan]) -> f64 {
    faults
        .iter()
        .map(|f| f.end_s.unwrap_or(f.start_s))
        .fold(m.end_s, f64::max)
}

fn fault_legend(faults: &[FaultSpan]) -> impl Iterator<Item = LegendItem> + '_ {
    fault_kinds(faults)
        .into_iter()
        .map(|k| (k.to_string(), fault_color(k).to_string(), "band"))
}

/// Latency of each completed op at its invocation time (log scale), or p50/p99 per bucket when there
/// are more than [`MAX_DOTS`] ops.
pub fn latency(events: &[Event], m: &RunMetrics, faults: &[FaultSpan]) -> String {
    let ops: Vec<_> = pair(events)
        .into_iter()
        .filter(|o| o.complete_ns.is_some())
        .collect();
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for l in ops.iter().filter_map(|o| o.latency_ms()) {
        (lo, hi) = (lo.min(l), hi.max(l));
    }
    if !lo.is_finite() {
        (lo, hi) = (1.0, 1000.0);
    }
    // Whole decades, so the log axis has round ticks.
    let lo = 10f64.powf(lo.max(0.01).log10().floor());
    let hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());
    let dots = ops.len() <= MAX_DOTS;
    let mut legend: Vec<LegendItem> = Vec::new();
    if dots {
        let mut fs: Vec<&str> = ops.iter().filter(|o| o.is_ok()).map(|o| o.f).collect();
        fs.sort_unstable();
        fs.dedup();
        legend.extend(
            fs.iter()
                .map(|f| (format!("{f} ok"), op_color(f).into(), "dot")),
        );
        legend.push(("fail".into(), FAIL.into(), "dot"));
        legend.push(("info (timeout)".into(), INFO.into(), "dot"));
    } else {
        let per = format!("per {} s, ok ops", m.bucket_s);
        legend.push((format!("p50 ({per})"), "#4e79a7".into(), "line"));
        legend.push((format!("p99 ({per})"), "#e15759".into(), "line"));
    }
    legend.extend(fault_legend(faults));
    let end = x_end(m, faults);
    let fr = Frame::new(W, H, end, &legend, |b, t| Scale::log(lo, hi, b, t));

    let mut out = String::new();
    fr.open(&mut out, "latency-plot", "latency over time");
    fr.fault_shading(&mut out, faults, end);
    fr.axes(&mut out, "time (s)", "latency (ms, log)");
    if dots {
        out.push_str(r#"<g class="dots">"#);
        for o in &ops {
            let l = o.latency_ms().unwrap_or(0.0);
            let (color, what) = match o.outcome {
                Some(EventType::Ok) => (op_color(o.f), "ok"),
                Some(EventType::Fail) => (FAIL, "fail"),
                _ => (INFO, "info"),
            };
            let _ = write!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.2" fill="{color}"><title>p{p} {f} {what} {l} ms at {t:.3} s</title></circle>"#,
                x = fr.x.map(o.invoke_ns as f64 / 1e9),
                y = fr.y.map(l),
                p = o.process,
                f = esc(o.f),
                l = ms(l),
                t = o.invoke_ns as f64 / 1e9
            );
        }
        out.push_str("</g>");
    } else {
        let p50 = series_path(&fr, &m.series, m.bucket_s, |b| b.p50_ms);
        let p99 = series_path(&fr, &m.series, m.bucket_s, |b| b.p99_ms);
        let _ = write!(
            out,
            r##"<path class="p50" d="{p50}" fill="none" stroke="#4e79a7" stroke-width="2"/><path class="p99" d="{p99}" fill="none" stroke="#e15759" stroke-width="2"/>"##
        );
    }
    fr.legend(&mut out, &legend);
    out.push_str("</svg>");
    out
}

/// A path through the bucket midpoints; gaps (no value) break the line.
fn series_path(fr: &Frame, s: &[Bucket], width: f64, v: impl Fn(&Bucket) -> Option<f64>) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for b in s {
        match v(b) {
            Some(y) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                let _ = write!(
                    d,
                    "{cmd}{:.1} {:.1}",
                    fr.x.map(b.t_s + width / 2.0),
                    fr.y.map(y)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d
}

/// A throughput line: name, colour, the bucket's count.
type Line = (&'static str, &'static str, fn(&Bucket) -> usize);

/// Completions per second by outcome, per bucket.
pub fn throughput(m: &RunMetrics, faults: &[FaultSpan]) -> String {
    let w = m.bucket_s.max(1e-9);
    let rate = |n: usize| n as f64 / w;
    let top = m
        .series
        .iter()
        .map(|b| rate(b.ok.max(b.fail).max(b.info)))
        .fold(1.0, f64::max);
    let end = x_end(m, faults);
    let lines: [Line; 3] = [
        ("ok", "#59a14f", |b| b.ok),
        ("fail", FAIL, |b| b.fail),
        ("info", INFO, |b| b.info),
    ];
    let mut legend: Vec<LegendItem> = lines
        .iter()
        .map(|(n, c, _)| (n.to_string(), c.to_string(), "line"))
        .collect();
    legend.extend(fault_legend(faults));
    let fr = Frame::new(W, H, end, &legend, |b, t| {
        Scale::linear(0.0, top * 1.05, b, t)
    });
    let mut out = String::new();
    fr.open(&mut out, "throughput-plot", "throughput over time");
    fr.fault_shading(&mut out, faults, end);
    fr.axes(&mut out, "time (s)", "completions per second");
    for (name, color, get) in lines {
        // A step line: each bucket's rate held over its width.
        let mut d = String::new();
        for (i, b) in m.series.iter().enumerate() {
            let y = fr.y.map(rate(get(b)));
            let (x0, x1) = (fr.x.map(b.t_s), fr.x.map(b.t_s + w));
            let cmd = if i == 0 { 'M' } else { 'L' };
            let _ = write!(d, "{cmd}{x0:.1} {y:.1}L{x1:.1} {y:.1}");
        }
        let _ = write!(
            out,
            r#"<path class="rate-{name}" d="{d}" fill="none" stroke="{color}" stroke-width="2"/>"#
        );
    }
    fr.legend(&mut out, &legend);
    out.push_str("</svg>");
    out
}
