//! The first anomaly, up close: one lane per process, a bar per op from invoke to completion, the op that
//! cannot be linearized in red (`#anomaly`), and a table of the same ops.
//!
//! Only the counterexample's ops are drawn (the op, the ops concurrent with it, and the last few of the
//! linearizable prefix, which explain the state it saw), so the size does not grow with the history.

use crate::faults::FaultSpan;
use crate::svg::{esc, fault_color, ms, Scale};
use checker::{Counterexample, OpSummary};
use serde_json::Value;
use std::fmt::Write;

/// At most this many of the prefix's last ops (the checker lists 20).
const PREFIX_SHOWN: usize = 20;
const W: f64 = 1200.0;
const LANE: f64 = 34.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = W - 20.0;
const TOP: f64 = 30.0;

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Anomaly,
    Concurrent,
    Prefix,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Anomaly => "anomaly",
            Role::Concurrent => "concurrent",
            Role::Prefix => "prefix",
        }
    }
}

/// Values as the checker words them: `nil`, `4`, `[4 9]`.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(show).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `read → 3`, `write 4`, `cas [4 9]`, with `?` for an unknown outcome.
fn label(o: &OpSummary) -> String {
    let mut s = o.f.clone();
    if !o.value.is_null() {
        s = format!("{s} {}", show(&o.value));
    }
    if o.outcome == "ok" && matches!(o.f.as_str(), "read" | "get") {
        s = format!("{s} → {}", show(&o.output));
    }
    if o.outcome != "ok" {
        s.push_str(" ?");
    }
    s
}

/// The ops to show, in invocation order, with their role.
fn pick(cx: &Counterexample) -> Vec<(&OpSummary, Role)> {
    let mut ops: Vec<(&OpSummary, Role)> = vec![(&cx.op, Role::Anomaly)];
    ops.extend(cx.window.iter().map(|o| (o, Role::Concurrent)));
    // Prefix ops near the window (they wrote or read the state the anomaly contradicts); one old write must
    // not squeeze the interesting part.
    let lo = ops.iter().map(|(o, _)| o.invoke_time_ns).min().unwrap_or(0);
    let hi = ops.iter().map(|(o, _)| end_ns(o)).max().unwrap_or(lo);
    let reach = (hi - lo).max(1_000_000);
    let seen: Vec<u64> = ops.iter().map(|(o, _)| o.invoke_index).collect();
    ops.extend(
        cx.prefix
            .iter()
            .rev()
            .take(PREFIX_SHOWN)
            .filter(|o| !seen.contains(&o.invoke_index) && end_ns(o).saturating_add(reach) >= lo)
            .map(|o| (o, Role::Prefix)),
    );
    ops.sort_by_key(|(o, _)| (o.invoke_time_ns, o.invoke_index));
    ops
}

fn end_ns(o: &OpSummary) -> u64 {
    o.complete_time_ns.unwrap_or(o.invoke_time_ns)
}

fn lane_order(p: &str) -> (u64, String) {
    (p.parse().unwrap_or(u64::MAX), p.to_string())
}

/// The timeline SVG and the table of its ops, or a sentence when there is no counterexample.
pub fn render(cx: Option<&Counterexample>, faults: &[FaultSpan]) -> String {
    let Some(cx) = cx else {
        return r#"<p class="muted">No counterexample: the checker found no anomaly to show.</p>"#
            .into();
    };
    let ops = pick(cx);
    let mut lanes: Vec<&str> = ops.iter().map(|(o, _)| o.process.as_str()).collect();
    lanes.sort_by_key(|p| lane_order(p));
    lanes.dedup();
    let t0 = ops.iter().map(|(o, _)| o.invoke_time_ns).min().unwrap_or(0) as f64 / 1e9;
    let t1 = ops.iter().map(|(o, _)| end_ns(o)).max().unwrap_or(0) as f64 / 1e9;
    let pad = ((t1 - t0) * 0.06).max(1e-3);
    // Open ops run to the right edge.
    let (t0, t1) = ((t0 - pad).max(0.0), t1 + pad);
    let x = Scale::linear(t0, t1, LEFT, RIGHT);
    let h = TOP + LANE * lanes.len() as f64 + 30.0;
    let bottom = h - 30.0;

    let mut out = String::from(
        r#"<p class="muted">Red: the op that cannot be linearized. Blue: ops concurrent with it. Grey: the end of the longest linearizable prefix. Dashed: unknown outcome (info).</p>"#,
    );
    let _ = write!(
        out,
        r#"<svg id="timeline" class="plot timeline" viewBox="0 0 {W} {h}" role="img" aria-label="operations around the anomaly" xmlns="http://www.w3.org/2000/svg">"#
    );
    for f in faults {
        let (a, b) = (f.start_s.max(t0), f.end_s.unwrap_or(t1).min(t1));
        if b > a {
            let _ = write!(
                out,
                r#"<rect class="fault-window light" data-kind="{k}" x="{x0:.1}" y="{TOP}" width="{w:.1}" height="{hh:.1}" fill="{c}"><title>{k}</title></rect>"#,
                k = esc(&f.kind),
                x0 = x.map(a),
                w = x.map(b) - x.map(a),
                hh = bottom - TOP,
                c = fault_color(&f.kind)
            );
        }
    }
    for t in x.ticks(8) {
        let xt = x.map(t);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{xt:.1}" x2="{xt:.1}" y1="{TOP}" y2="{bottom}"/><text class="tick" x="{xt:.1}" y="{ty}" text-anchor="middle">{t:.3}</text>"#,
            ty = bottom + 16.0
        );
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{LEFT}" y="16">time (s since start); lanes are processes</text>"#
    );
    for (i, p) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let _ = write!(
            out,
            r#"<text class="lane" x="{lx}" y="{ly:.1}" text-anchor="end">p{p}</text><line class="lane-sep" x1="{LEFT}" x2="{RIGHT}" y1="{y2:.1}" y2="{y2:.1}"/>"#,
            lx = LEFT - 8.0,
            ly = y + LANE / 2.0 + 4.0,
            p = esc(p),
            y2 = y + LANE
        );
    }
    for (o, role) in &ops {
        let lane = lanes.iter().position(|p| *p == o.process).unwrap_or(0);
        let y = TOP + LANE * lane as f64 + 6.0;
        let x0 = x.map(o.invoke_time_ns as f64 / 1e9);
        let x1 = o
            .complete_time_ns
            .map(|c| x.map(c as f64 / 1e9))
            .unwrap_or(RIGHT)
            .max(x0 + 3.0);
        let id = if *role == Role::Anomaly {
            r#" id="anomaly""#
        } else {
            ""
        };
        let text = label(o);
        // Inside the bar when it fits (about 6.5 px per character), else just after it.
        let inside = (x1 - x0) > 8.0 + 6.5 * text.chars().count() as f64;
        let _ = write!(
            out,
            r#"<g class="op {r} {oc}"{id}><rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{bh}" rx="3"/><text class="{place}" x="{tx:.1}" y="{ty:.1}">{l}</text><title>{tip}</title></g>"#,
            r = role.name(),
            oc = esc(&o.outcome),
            w = x1 - x0,
            bh = LANE - 12.0,
            place = if inside { "in" } else { "out" },
            tx = if inside { x0 + 4.0 } else { x1 + 4.0 },
            ty = y + LANE / 2.0 - 2.0,
            l = esc(&text),
            tip = esc(&format!("p{} {text} ({})", o.process, role.name())),
        );
    }
    out.push_str("</svg>");
    out.push_str(&table(&ops));
    out
}

fn table(ops: &[(&OpSummary, Role)]) -> String {
    let mut t = String::from(
        r#"<table class="ops" id="anomaly-ops"><thead><tr><th>role</th><th>process</th><th>f</th><th>key</th><th>value</th><th>read</th><th>invoked (s)</th><th>completed (s)</th><th>latency (ms)</th><th>outcome</th><th>node</th></tr></thead><tbody>"#,
    );
    for (o, role) in ops {
        let done = o.complete_time_ns;
        let read = if matches!(o.f.as_str(), "read" | "get") && o.outcome == "ok" {
            show(&o.output)
        } else {
            String::new()
        };
        let _ = write!(
            t,
            r#"<tr class="{r}"><td>{r}</td><td>p{p}</td><td>{f}</td><td>{k}</td><td>{v}</td><td>{read}</td><td>{i:.3}</td><td>{c}</td><td>{l}</td><td>{oc}</td><td>{n}</td></tr>"#,
            r = role.name(),
            p = esc(&o.process),
            f = esc(&o.f),
            k = esc(o.key.as_deref().unwrap_or("")),
            v = esc(&show(&o.value)),
            read = esc(&read),
            i = o.invoke_time_ns as f64 / 1e9,
            c = done.map_or("open".into(), |c| format!("{:.3}", c as f64 / 1e9)),
            l = done.map_or(String::new(), |c| ms(c.saturating_sub(o.invoke_time_ns)
                as f64
                / 1e6)),
            oc = esc(&o.outcome),
            n = esc(o.node.as_deref().unwrap_or("")),
        );
    }
    t.push_str("</tbody></table>");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(
        p: &str,
        f: &str,
        value: Value,
        output: Value,
        t: (u64, Option<u64>),
        outcome: &str,
    ) -> OpSummary {
        OpSummary {
            process: p.into(),
            f: f.into(),
            key: Some("k".into()),
            value,
            output,
            invoke_time_ns: t.0,
            complete_time_ns: t.1,
            outcome: outcome.into(),
            invoke_index: t.0,
            complete_index: t.1,
            node: None,
        }
    }

    #[test]
    fn labels_and_degenerate_counterexamples() {
        let read = op("3", "read", Value::Null, json!(4), (10, Some(20)), "ok");
        assert_eq!(label(&read), "read → 4");
        let cas = op("1", "cas", json!([1, 2]), Value::Null, (5, None), "info");
        assert_eq!(label(&cas), "cas [1 2] ?");
        // An open op alone: a zero-length window must still draw.
        let cx = Counterexample {
            key: Some("k".into()),
            explanation: "x".into(),
            op: cas.clone(),
            prefix: vec![read.clone()],
            prefix_len: 1,
            state: "nil".into(),
            window: vec![],
        };
        let html = render(Some(&cx), &[]);
        assert!(html.contains(r#"id="anomaly""#));
        assert!(html.contains("open"));
        assert!(!html.contains("NaN"));
        // Two lanes: the anomaly and the prefix read; numeric lane order.
        assert!(html.find(">p1<").unwrap() < html.find(">p3<").unwrap());
    }
}
