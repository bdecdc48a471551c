//! The first anomaly, up close: one lane per process, a bar per op from invoke to completion, the op that
//! cannot be linearized in red (`#anomaly`), the other ops the checker's explanation names (the write a
//! stale read missed, the write of the value it returned) in purple, and the ops concurrent with any of
//! them in blue; each labelled with the node that served it and that node's role and term at the time
//! (from the `/status` samples). Far-apart ops get their own stretch of a broken time axis. A table of
//! the same ops follows.
//!
//! Only those ops are drawn, so the size does not grow with the history. Without a parseable history the
//! counterexample's own ops are drawn (the op, its concurrent window, the end of the linearizable prefix).

use crate::axis::{BrokenAxis, BREAK_PX};
use crate::faults::FaultSpan;
use crate::named::named;
use crate::roles::{Roles, Served};
use crate::svg::{esc, fault_color, ms};
use checker::{Counterexample, Event, History, OpSummary};
use serde_json::Value;
use std::fmt::Write;

/// At most this many of the prefix's last ops (the checker lists 20), when the explanation names no op
/// but the anomaly.
const PREFIX_SHOWN: usize = 20;
/// At most this many concurrent ops, those closest in time to a named op.
const CONCURRENT_SHOWN: usize = 40;
const W: f64 = 1200.0;
const LANE: f64 = 46.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = W - 20.0;
const TOP: f64 = 30.0;

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Anomaly,
    /// Named in the explanation.
    Named,
    Concurrent,
    Prefix,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Anomaly => "anomaly",
            Role::Named => "named",
            Role::Concurrent => "concurrent",
            Role::Prefix => "prefix",
        }
    }
}

/// One op to draw, with the state of the node that served it.
struct Drawn {
    op: OpSummary,
    role: Role,
    state: Option<Served>,
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

/// The ops to show without a history: the counterexample's op, its window and the prefix's end.
fn pick(cx: &Counterexample) -> Vec<(OpSummary, Role)> {
    let mut ops: Vec<(OpSummary, Role)> = vec![(cx.op.clone(), Role::Anomaly)];
    ops.extend(cx.window.iter().map(|o| (o.clone(), Role::Concurrent)));
    add_prefix(cx, &mut ops);
    ops
}

/// Prefix ops near the drawn ones (they wrote or read the state the anomaly contradicts); one old write
/// must not squeeze the interesting part.
fn add_prefix(cx: &Counterexample, ops: &mut Vec<(OpSummary, Role)>) {
    let lo = ops.iter().map(|(o, _)| o.invoke_time_ns).min().unwrap_or(0);
    let hi = ops.iter().map(|(o, _)| end_ns(o)).max().unwrap_or(lo);
    let reach = (hi - lo).max(1_000_000);
    let seen: Vec<u64> = ops.iter().map(|(o, _)| o.invoke_index).collect();
    let prefix: Vec<(OpSummary, Role)> = cx
        .prefix
        .iter()
        .rev()
        .take(PREFIX_SHOWN)
        .filter(|o| !seen.contains(&o.invoke_index) && end_ns(o).saturating_add(reach) >= lo)
        .map(|o| (o.clone(), Role::Prefix))
        .collect();
    ops.extend(prefix);
}

/// The ops to show from the history: the anomaly, every op the explanation names, and the ops of the
/// same key concurrent with any of those. `None` when the anomaly is not in the history.
fn pick_named(cx: &Counterexample, h: &History) -> Option<Vec<(OpSummary, Role)>> {
    let key = cx.key.as_deref();
    let anomaly = h
        .ops
        .iter()
        .position(|o| o.invoke_index == cx.op.invoke_index)?;
    let mut focus = vec![anomaly];
    for m in named(cx, h).1 {
        if !focus.contains(&m.op) {
            focus.push(m.op);
        }
    }
    let overlaps = |a: &checker::Op, b: &checker::Op| {
        a.invoke_pos < b.complete_pos.unwrap_or(usize::MAX)
            && a.complete_pos.is_none_or(|p| p > b.invoke_pos)
    };
    let mut concurrent: Vec<(usize, u64)> = h
        .ops
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            !focus.contains(i)
                && (key.is_none() || o.key.as_deref() == key)
                && focus.iter().any(|&f| overlaps(o, &h.ops[f]))
        })
        .map(|(i, o)| {
            let t = o.invoke_time_ns.unwrap_or(0);
            let near = focus
                .iter()
                .map(|&f| h.ops[f].invoke_time_ns.unwrap_or(0).abs_diff(t))
                .min()
                .unwrap_or(0);
            (i, near)
        })
        .collect();
    concurrent.sort_by_key(|&(_, near)| near);
    concurrent.truncate(CONCURRENT_SHOWN);
    let named = focus.len() > 1;
    let mut ops: Vec<(OpSummary, Role)> = focus
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let role = if n == 0 { Role::Anomaly } else { Role::Named };
            (OpSummary::from_op(&h.ops[i]), role)
        })
        .collect();
    ops.extend(
        concurrent
            .iter()
            .map(|&(i, _)| (OpSummary::from_op(&h.ops[i]), Role::Concurrent)),
    );
    if !named {
        add_prefix(cx, &mut ops);
    }
    Some(ops)
}

fn end_ns(o: &OpSummary) -> u64 {
    o.complete_time_ns.unwrap_or(o.invoke_time_ns)
}

fn lane_order(p: &str) -> (u64, String) {
    (p.parse().unwrap_or(u64::MAX), p.to_string())
}

/// The timeline SVG and the table of its ops, or a sentence when there is no counterexample. `events` is
/// the whole history (for the ops the explanation names and the `/status` samples); it may be empty.
/// `history` is `events` parsed (`None` if they do not parse).
pub fn render(
    cx: Option<&Counterexample>,
    faults: &[FaultSpan],
    events: &[Event],
    history: Option<&History>,
) -> String {
    let Some(cx) = cx else {
        return r#"<p class="muted">No counterexample: the checker found no anomaly to show.</p>"#
            .into();
    };
    let mut picked = history
        .and_then(|h| pick_named(cx, h))
        .unwrap_or_else(|| pick(cx));
    picked.sort_by_key(|(o, _)| (o.invoke_time_ns, o.invoke_index));
    let roles = Roles::from_events(events);
    let ops: Vec<Drawn> = picked
        .into_iter()
        .map(|(op, role)| {
            let state = roles.served(op.node.as_deref(), op.invoke_time_ns, op.complete_time_ns);
            Drawn { op, role, state }
        })
        .collect();
    let mut lanes: Vec<&str> = ops.iter().map(|d| d.op.process.as_str()).collect();
    lanes.sort_by_key(|p| lane_order(p));
    lanes.dedup();
    let spans: Vec<(f64, f64)> = ops
        .iter()
        .map(|d| (d.op.invoke_time_ns as f64 / 1e9, end_ns(&d.op) as f64 / 1e9))
        .collect();
    let x = BrokenAxis::new(&spans, LEFT, RIGHT);
    // The node rows (roles over time) go under the lanes, when the history has samples.
    let strip_top = TOP + LANE * lanes.len() as f64 + 6.0;
    let strip_h = if roles.is_empty() {
        0.0
    } else {
        6.0 + crate::strip::ROW * roles.nodes().len() as f64
    };
    let h = TOP + LANE * lanes.len() as f64 + strip_h + 30.0;
    let bottom = h - 30.0;

    let mut out = String::from(
        r#"<p class="muted">Red: the op that cannot be linearized. Purple: the other ops the explanation names. Blue: ops concurrent with them. Grey: the end of the longest linearizable prefix. Dashed: unknown outcome (info). Under each op: the node that served it, with its role and term then. Under the lanes, a row per node: its role and term over time, from its /status samples. A zigzag marks time cut out of the axis.</p>"#,
    );
    let _ = write!(
        out,
        r#"<svg id="timeline" class="plot timeline" viewBox="0 0 {W} {h}" role="img" aria-label="operations around the anomaly" xmlns="http://www.w3.org/2000/svg">"#
    );
    for s in &x.stretches {
        for f in faults {
            let (a, b) = (f.start_s.max(s.t0), f.end_s.unwrap_or(s.t1).min(s.t1));
            if b > a {
                let _ = write!(
                    out,
                    r#"<rect class="fault-window light" data-kind="{k}" x="{x0:.1}" y="{TOP}" width="{w:.1}" height="{hh:.1}" fill="{c}"><title>{k}</title></rect>"#,
                    k = esc(&f.kind),
                    x0 = s.map(a),
                    w = s.map(b) - s.map(a),
                    hh = bottom - TOP,
                    c = fault_color(&f.kind)
                );
            }
        }
        for (t, label) in s.ticks() {
            let xt = s.map(t);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{xt:.1}" x2="{xt:.1}" y1="{TOP}" y2="{bottom}"/><text class="tick" x="{xt:.1}" y="{ty}" text-anchor="middle">{label}</text>"#,
                ty = bottom + 16.0
            );
        }
    }
    for pair in x.stretches.windows(2) {
        break_mark(&mut out, pair[0].x1, pair[1].t0 - pair[0].t1, bottom);
    }
    let _ = write!(
        out,
        r#"<text class="axis-title" x="{LEFT}" y="16">time (s since start); lanes are processes, then nodes</text>"#
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
    for (d, p) in ops.iter().zip(layout(&ops, &lanes, &x)) {
        draw_op(&mut out, d, &p);
    }
    crate::strip::draw(&mut out, &roles, &x, strip_top, LEFT - 8.0);
    out.push_str("</svg>");
    out.push_str(&table(&ops));
    out
}

/// A zigzag in the gap between two stretches, with how much time was cut out.
fn break_mark(out: &mut String, x_left: f64, gap_s: f64, bottom: f64) {
    let xm = x_left + BREAK_PX / 2.0;
    let mut path = format!("M{:.1},{TOP}", xm);
    let mut y = TOP;
    let mut left = true;
    while y < bottom {
        y = (y + 8.0).min(bottom);
        let xx = if left { xm - 4.0 } else { xm + 4.0 };
        left = !left;
        let _ = write!(path, " L{xx:.1},{y:.1}");
    }
    let _ = write!(
        out,
        r#"<g class="axis-break"><path d="{path}"/><text x="{xm:.1}" y="{ty:.1}" text-anchor="middle">+{g}</text><title>{g} without drawn ops cut out</title></g>"#,
        ty = bottom + 16.0,
        g = esc(&crate::svg::secs(gap_s)),
    );
}

/// `n1 · follower t3`, or just the node when its role then is unknown.
fn node_label(d: &Drawn) -> Option<String> {
    let node = d.op.node.as_deref()?;
    Some(match &d.state {
        Some(s) => format!("{node} · {}", s.short()),
        None => node.to_string(),
    })
}

/// An op label's place: x, anchor, and whether it sits inside the bar.
type LabelAt = (f64, &'static str, bool);

/// Where one op goes: its lane, bar, and (when there was room) its labels.
struct Placed {
    lane: usize,
    y: f64,
    x0: f64,
    x1: f64,
    label: Option<LabelAt>,
    /// The node label: x and anchor.
    node: Option<(f64, &'static str)>,
}

/// Bars first, then labels in order of importance (the anomaly, the named ops, the rest), each at the
/// first free place: inside its bar, after it, before it. The anomaly's and the named ops' labels are
/// always drawn; others that would overlap are left to the tooltip and the table.
fn layout(ops: &[Drawn], lanes: &[&str], x: &BrokenAxis) -> Vec<Placed> {
    let mut placed: Vec<Placed> = ops
        .iter()
        .map(|d| {
            let o = &d.op;
            let lane = lanes.iter().position(|p| *p == o.process).unwrap_or(0);
            let x0 = x.map(o.invoke_time_ns as f64 / 1e9);
            let x1 = o
                .complete_time_ns
                .map(|c| x.map(c as f64 / 1e9))
                .unwrap_or(x.right())
                .max(x0 + 3.0);
            Placed {
                lane,
                y: TOP + LANE * lane as f64 + 5.0,
                x0,
                x1,
                label: None,
                node: None,
            }
        })
        .collect();
    // Row 2i: lane i's bars and op labels; row 2i+1: its node labels.
    let mut rows = crate::labels::Rows::new(lanes.len() * 2);
    for p in &placed {
        rows.take(p.lane * 2, p.x0, p.x1);
    }
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| match ops[i].role {
        Role::Anomaly => 0,
        Role::Named => 1,
        Role::Concurrent => 2,
        Role::Prefix => 3,
    });
    for i in order {
        let (d, p) = (&ops[i], &mut placed[i]);
        let must = matches!(d.role, Role::Anomaly | Role::Named);
        // About 7 px per character of the 11 px labels, 6 of the 10 px node labels.
        let w = 7.0 * label(&d.op).chars().count() as f64;
        if p.x1 - p.x0 > 8.0 + w {
            p.label = Some((p.x0 + 4.0, "start", true));
        } else {
            let after = (p.x1 + 4.0, p.x1 + 4.0 + w);
            let before = (p.x0 - 4.0 - w, p.x0 - 4.0);
            let fits = |s: &(f64, f64)| s.0 >= LEFT && s.1 <= RIGHT;
            let spots: Vec<((f64, f64), LabelAt)> = [
                (after, (after.0, "start", false)),
                (before, (before.1, "end", false)),
            ]
            .into_iter()
            .filter(|(s, _)| fits(s))
            .collect();
            let spans: Vec<(f64, f64)> = spots.iter().map(|(s, _)| *s).collect();
            p.label = match rows.place(p.lane * 2, &spans) {
                Some(k) => Some(spots[k].1),
                None if must => spots
                    .first()
                    .map(|s| s.1)
                    .or(Some((p.x0 - 4.0, "end", false))),
                None => None,
            };
        }
        if let Some(l) = node_label(d) {
            let w = 6.0 * l.chars().count() as f64;
            let spots = [
                ((p.x0, p.x0 + w), (p.x0, "start")),
                ((p.x1 - w, p.x1), (p.x1, "end")),
            ];
            let spans: Vec<(f64, f64)> = spots
                .iter()
                .filter(|(s, _)| s.1 <= W - 2.0)
                .map(|(s, _)| *s)
                .collect();
            let usable: Vec<(f64, &'static str)> = spots
                .iter()
                .filter(|(s, _)| s.1 <= W - 2.0)
                .map(|(_, a)| *a)
                .collect();
            p.node = match rows.place(p.lane * 2 + 1, &spans) {
                Some(k) => Some(usable[k]),
                None if must => usable.first().copied().or(Some((p.x1, "end"))),
                None => None,
            };
        }
    }
    placed
}

fn draw_op(out: &mut String, d: &Drawn, p: &Placed) {
    let o = &d.op;
    let (y, x0, x1) = (p.y, p.x0, p.x1);
    let id = if d.role == Role::Anomaly {
        r#" id="anomaly""#
    } else {
        ""
    };
    let text = label(o);
    let label_text = p.label.map_or(String::new(), |(tx, anchor, inside)| {
        format!(
            r#"<text class="{place}" x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}">{l}</text>"#,
            place = if inside { "in" } else { "out" },
            ty = y + 14.0,
            l = esc(&text),
        )
    });
    let data = match &o.node {
        Some(n) => format!(
            r#" data-node="{n}" data-node-role="{r}" data-term="{t}""#,
            n = esc(n),
            r = esc(d.state.as_ref().map_or("", |s| s.last().role.as_str())),
            t = d
                .state
                .as_ref()
                .and_then(|s| s.last().term)
                .map_or(String::new(), |t| t.to_string()),
        ),
        None => String::new(),
    };
    let node_text = match (p.node, node_label(d)) {
        (Some((nx, na)), Some(l)) => format!(
            r#"<text class="node" x="{nx:.1}" y="{ny:.1}" text-anchor="{na}">{l}</text>"#,
            ny = y + LANE - 12.0,
            l = esc(&l)
        ),
        _ => String::new(),
    };
    let verb = if o.outcome == "ok" {
        "served by"
    } else {
        "sent to"
    };
    let served = match (&o.node, &d.state) {
        (Some(n), Some(s)) => format!(", {verb} {n}, {}", s.words()),
        (Some(n), None) => format!(", {verb} {n}"),
        _ => String::new(),
    };
    let _ = write!(
        out,
        r#"<g class="op {r} {oc}"{id}{data}><rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="20" rx="3"/>{label_text}{node_text}<title>{tip}</title></g>"#,
        r = d.role.name(),
        oc = esc(&o.outcome),
        w = x1 - x0,
        tip = esc(&format!(
            "p{} {text} ({}{served})",
            o.process,
            d.role.name()
        )),
    );
}

fn table(ops: &[Drawn]) -> String {
    let mut t = String::from(
        r#"<table class="ops" id="anomaly-ops"><thead><tr><th>role</th><th>process</th><th>f</th><th>key</th><th>value</th><th>read</th><th>invoked (s)</th><th>completed (s)</th><th>latency (ms)</th><th>outcome</th><th>node</th><th>node was</th></tr></thead><tbody>"#,
    );
    for d in ops {
        let (o, role) = (&d.op, d.role);
        let done = o.complete_time_ns;
        let read = if matches!(o.f.as_str(), "read" | "get") && o.outcome == "ok" {
            show(&o.output)
        } else {
            String::new()
        };
        let _ = write!(
            t,
            r#"<tr class="{r}"><td>{r}</td><td>p{p}</td><td>{f}</td><td>{k}</td><td>{v}</td><td>{read}</td><td>{i:.3}</td><td>{c}</td><td>{l}</td><td>{oc}</td><td>{n}</td><td>{was}</td></tr>"#,
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
            was = esc(&d.state.as_ref().map_or(String::new(), Served::words)),
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
            sentence: None,
            op: cas.clone(),
            prefix: vec![read.clone()],
            prefix_len: 1,
            state: "nil".into(),
            window: vec![],
        };
        let html = render(Some(&cx), &[], &[], None);
        assert!(html.contains(r#"id="anomaly""#));
        assert!(html.contains("open"));
        assert!(!html.contains("NaN"));
        // Two lanes: the anomaly and the prefix read; numeric lane order.
        assert!(html.find(">p1<").unwrap() < html.find(">p3<").unwrap());
    }
}
