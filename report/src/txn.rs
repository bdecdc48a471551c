//! The self-contained page `harness check FILE --report PATH.html` writes for a transactional history:
//! the verdict against each consistency model, the anomaly counts and sentences, and each dependency
//! cycle drawn as inline SVG (transactions as boxes on a circle, one coloured arrow per edge). Pure: the
//! caller writes the string where it likes. Inline CSS only, no scripts, so it opens from disk anywhere.

use crate::svg::esc;
use checker::txn::{Consistency, CycleReport, Mop, ReadValue, Status, TxnHistory, TxnReport};
use std::collections::BTreeSet;
use std::f64::consts::PI;
use std::fmt::Write;

/// At most this many cycles are drawn; the page says how many more there are.
pub const MAX_CYCLES_DRAWN: usize = 20;

/// A cycle through more transactions than this is listed in words only (a circle of boxes that large
/// would shrink each box below reading size).
const MAX_TXNS_DRAWN: usize = 12;

/// What the page shows.
#[derive(Debug, Clone, Copy)]
pub struct TxnPage<'a> {
    /// Shown as the page's heading (the history file, usually).
    pub title: &'a str,
    pub report: &'a TxnReport,
    /// The history checked, for each drawn transaction's micro-ops; without it, the boxes show the
    /// micro-ops of the transactions the report names (`named_txns`), and only `T<n>` for the others.
    pub history: Option<&'a TxnHistory>,
}

/// The colour of an edge kind: the same in every drawing and the legend.
pub fn kind_color(kind: &str) -> &'static str {
    match kind {
        "ww" => "#4e79a7",
        "wr" => "#59a14f",
        "rw" => "#e15759",
        "process" => "#f28e2b",
        "realtime" => "#b07aa1",
        _ => "#79706e",
    }
}

/// The edge kinds, each with what it means, for the legend.
const KINDS: [(&str, &str); 5] = [
    (
        "ww",
        "write-write: the second wrote a later version of a key",
    ),
    ("wr", "write-read: the second read what the first wrote"),
    (
        "rw",
        "read-write (anti-dependency): the second overwrote the version the first read",
    ),
    (
        "process",
        "process order: the same process ran the second later",
    ),
    (
        "realtime",
        "real-time order: the second began after the first completed",
    ),
];

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0;overflow-wrap:anywhere}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
h3{font-size:15px;margin:4px 0 8px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:10px 14px;margin:12px 0}
.verdict{display:inline-block;padding:3px 12px;border-radius:14px;color:#fff;font-weight:700;font-size:16px;vertical-align:middle}
.verdict.valid{background:#2e7d32}.verdict.invalid{background:#c62828}
.muted{color:#667}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border-bottom:1px solid #e6e8eb;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
td.no{color:#c62828;font-weight:600}td.yes{color:#2e7d32;font-weight:600}
.swatch{display:inline-block;width:22px;height:4px;border-radius:2px;margin-right:6px;vertical-align:3px}
.mono,li.txn{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
svg.cycle{max-width:100%;height:auto;display:block;margin:6px 0;background:#fff}
svg.cycle text{font:11px system-ui,sans-serif;fill:#333}
svg.cycle .box rect{fill:#eef3f9;stroke:#4e79a7;stroke-width:1.2}
svg.cycle .box text.name{font-weight:700;font-size:12px;fill:#1d2330}
svg.cycle .box text.mops{font:11px ui-monospace,Menlo,Consolas,monospace;fill:#333}
svg.cycle .edge path{fill:none;stroke-width:2}
svg.cycle .edge rect{fill:#fff;opacity:.9}
svg.cycle .edge text{font-weight:700;text-anchor:middle}
"#;

/// Renders the page.
pub fn render_txn(page: &TxnPage) -> String {
    let r = page.report;
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{t}</title><style>{CSS}</style></head><body><main>"#,
        t = esc(page.title)
    );
    header(&mut h, page);
    models_section(&mut h, r);
    anomalies_section(&mut h, r);
    cycles_section(&mut h, page);
    if !r.not_checked.is_empty() {
        h.push_str(r#"<h2>Not checked</h2><section id="not-checked"><ul>"#);
        for n in &r.not_checked {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul></section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

fn header(h: &mut String, page: &TxnPage) {
    let r = page.report;
    let (class, word) = if r.valid {
        ("valid", "valid")
    } else {
        ("invalid", "invalid")
    };
    let _ = write!(
        h,
        r#"<header><h1>{t} <span id="verdict" class="verdict {class}">{word}</span></h1><p id="summary">{sentence}</p><div class="muted">{model} · {txns} transactions ({ok} ok, {info} info, {fail} fail) · {mops} micro-ops on {keys} key(s) · {edges} dependency edges</div></header>"#,
        t = esc(page.title),
        sentence = esc(&if r.valid {
            format!("valid: no anomaly rules out {}.", r.consistency)
        } else {
            format!(
                "invalid: not {}, ruled out by {}.",
                r.consistency,
                r.ruled_out_by.join(", ")
            )
        }),
        model = r.model.as_str(),
        txns = r.txns,
        ok = r.ok,
        info = r.info,
        fail = r.fail,
        mops = r.micro_ops,
        keys = r.keys,
        edges = r.edges,
    );
}

fn names(cs: &[Consistency]) -> String {
    if cs.is_empty() {
        return "none".into();
    }
    cs.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// Every model, consistent or ruled out (and by which anomalies), strongest first.
fn models_section(h: &mut String, r: &TxnReport) {
    let v = &r.verdict;
    let _ = write!(
        h,
        r#"<h2>Consistency models</h2><section id="models"><p>Strongest model still consistent: <b id="strongest">{}</b>.</p>"#,
        esc(&names(&v.strongest))
    );
    if !v.not.is_empty() {
        let _ = write!(
            h,
            r#"<p id="ruled-out">Ruled out: {} (the weakest ruled out); also ruled out: {}.</p>"#,
            esc(&names(&v.not)),
            esc(&names(&v.also_not))
        );
    }
    h.push_str("<table><thead><tr><th>model</th><th>consistent</th><th>ruled out by</th></tr></thead><tbody>");
    for c in Consistency::ALL {
        let by: Vec<&str> = r
            .anomaly_counts
            .keys()
            .filter(|a| Consistency::ruled_out_by(a).iter().any(|&w| c.implies(w)))
            .map(String::as_str)
            .collect();
        let asked = if c == r.consistency {
            " <span class=\"muted\">(judged)</span>"
        } else {
            ""
        };
        let (class, word) = if by.is_empty() {
            ("yes", "yes")
        } else {
            ("no", "no")
        };
        let _ = write!(
            h,
            r#"<tr><td>{c}{asked}</td><td class="{class}">{word}</td><td>{}</td></tr>"#,
            esc(&by.join(", "))
        );
    }
    h.push_str("</tbody></table></section>");
}

fn anomalies_section(h: &mut String, r: &TxnReport) {
    h.push_str(r#"<h2>Anomalies</h2><section id="anomalies">"#);
    if r.anomaly_counts.is_empty() {
        h.push_str(r#"<p>No anomalies found.</p></section>"#);
        return;
    }
    h.push_str("<table><thead><tr><th>anomaly</th><th>found</th><th>first of them</th></tr></thead><tbody>");
    for (name, n) in &r.anomaly_counts {
        let _ = write!(h, "<tr><td>{}</td><td>{n}</td><td><ul>", esc(name));
        for a in r.anomalies.iter().filter(|a| &a.name == name) {
            let _ = write!(h, "<li>{}</li>", esc(&a.sentence));
        }
        h.push_str("</ul></td></tr>");
    }
    h.push_str("</tbody></table>");
    if !r.named_txns.is_empty() {
        h.push_str(r#"<p>Transactions named above:</p><ul id="named">"#);
        for (t, line) in &r.named_txns {
            let _ = write!(h, r#"<li class="txn">T{t}: {}</li>"#, esc(line));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
}

/// Whether an anomaly name is a dependency cycle (the ones the checker keeps as [`CycleReport`]s).
fn is_cycle_name(name: &str) -> bool {
    ["G0", "G1c", "G-single", "G2-item"]
        .iter()
        .any(|base| name == *base || name.strip_prefix(base).is_some_and(|s| s.starts_with('-')))
}

fn cycles_section(h: &mut String, page: &TxnPage) {
    let r = page.report;
    h.push_str(r#"<h2>Cycles</h2><section id="cycles">"#);
    // The checker keeps a few cycles in full but counts them all.
    let found: usize = r
        .anomaly_counts
        .iter()
        .filter(|(n, _)| is_cycle_name(n))
        .map(|(_, n)| n)
        .sum::<usize>()
        .max(r.cycles.len());
    if found == 0 {
        h.push_str(r#"<p>No dependency cycle: nothing to draw.</p></section>"#);
        return;
    }
    h.push_str(r#"<p class="legend">"#);
    for (kind, meaning) in KINDS {
        let _ = write!(
            h,
            r#"<span class="swatch" style="background:{}"></span><b>{kind}</b> {meaning}<br>"#,
            kind_color(kind)
        );
    }
    h.push_str("</p>");
    let drawn = r.cycles.len().min(MAX_CYCLES_DRAWN);
    for (i, c) in r.cycles.iter().take(drawn).enumerate() {
        cycle_figure(h, page, i, c);
    }
    let more = found - drawn;
    if more > 0 {
        let _ = write!(
            h,
            r#"<p id="more-cycles">{more} more cycle{} not drawn (the first {drawn} of {found} are).</p>"#,
            if more == 1 { "" } else { "s" }
        );
    }
    h.push_str("</section>");
}

/// The transactions of a cycle, each once, in the order the cycle visits them.
fn cycle_txns(c: &CycleReport) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in &c.steps {
        for t in [s.from, s.to] {
            if seen.insert(t) {
                out.push(t);
            }
        }
    }
    out
}

fn cycle_figure(h: &mut String, page: &TxnPage, i: usize, c: &CycleReport) {
    let txns = cycle_txns(c);
    let list: Vec<String> = txns.iter().map(|t| format!("T{t}")).collect();
    let _ = write!(
        h,
        r#"<figure class="cycle" id="cycle-{i}"><h3>{n}. {name} through {list}</h3>"#,
        n = i + 1,
        name = esc(&c.name),
        list = list.join(", ")
    );
    if txns.len() <= MAX_TXNS_DRAWN {
        draw_cycle(h, page, i, c, &txns);
    } else {
        let _ = write!(
            h,
            r#"<p class="muted">{} transactions: too many to draw; the steps:</p>"#,
            txns.len()
        );
    }
    h.push_str("<ol class=\"steps\">");
    for s in &c.steps {
        let _ = write!(
            h,
            r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#,
            kind_color(s.kind),
            esc(&s.sentence)
        );
    }
    h.push_str("</ol>");
    if let Some(first) = c.steps.first() {
        let _ = write!(h, "<p>… and back to T{}: a cycle.</p>", first.from);
    }
    h.push_str("<ul class=\"txns\">");
    for &t in &txns {
        let _ = write!(
            h,
            r#"<li class="txn">T{t}: {}</li>"#,
            esc(&txn_line(page, t))
        );
    }
    h.push_str("</ul></figure>");
}

// Geometry of a drawing, in SVG user units.
const BOX_W: f64 = 300.0;
const BOX_H: f64 = 44.0;
/// Characters of micro-ops that fit on a box's second line (11px monospace is about 6.6 units wide).
const BOX_CHARS: usize = 42;
/// The clear space between boxes next to each other on the circle.
const BOX_GAP: f64 = 90.0;

#[derive(Debug, Clone, Copy)]
struct Pt {
    x: f64,
    y: f64,
}

impl Pt {
    fn add(self, o: Pt) -> Pt {
        Pt {
            x: self.x + o.x,
            y: self.y + o.y,
        }
    }
    fn sub(self, o: Pt) -> Pt {
        Pt {
            x: self.x - o.x,
            y: self.y - o.y,
        }
    }
    fn scale(self, k: f64) -> Pt {
        Pt {
            x: self.x * k,
            y: self.y * k,
        }
    }
    fn len(self) -> f64 {
        self.x.hypot(self.y)
    }
    fn unit(self) -> Pt {
        let l = self.len();
        if l == 0.0 {
            Pt { x: 1.0, y: 0.0 }
        } else {
            self.scale(1.0 / l)
        }
    }
    /// Turned a quarter to the right (clockwise on screen, where y grows downwards).
    fn right(self) -> Pt {
        Pt {
            x: -self.y,
            y: self.x,
        }
    }
    fn dot(self, o: Pt) -> f64 {
        self.x * o.x + self.y * o.y
    }
}

/// The smallest rectangle holding every point added.
struct Bounds {
    min: Pt,
    max: Pt,
}

impl Bounds {
    fn new() -> Bounds {
        Bounds {
            min: Pt {
                x: f64::INFINITY,
                y: f64::INFINITY,
            },
            max: Pt {
                x: f64::NEG_INFINITY,
                y: f64::NEG_INFINITY,
            },
        }
    }
    fn add(&mut self, p: Pt) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }
    fn add_rect(&mut self, c: Pt, hw: f64, hh: f64) {
        self.add(Pt {
            x: c.x - hw,
            y: c.y - hh,
        });
        self.add(Pt {
            x: c.x + hw,
            y: c.y + hh,
        });
    }
}

/// Where the ray from a box's centre towards `to` leaves the box (plus a small gap).
fn box_exit(center: Pt, to: Pt) -> Pt {
    let d = to.sub(center).unit();
    let (hw, hh) = (BOX_W / 2.0 + 3.0, BOX_H / 2.0 + 3.0);
    let t = (hw / d.x.abs().max(1e-9)).min(hh / d.y.abs().max(1e-9));
    center.add(d.scale(t))
}

/// Box centres: two side by side, more on a circle from the top, clockwise, far enough apart that
/// neighbours keep `BOX_GAP` between them.
fn layout(n: usize) -> Vec<Pt> {
    if n <= 2 {
        let r = BOX_W / 2.0 + BOX_GAP;
        return (0..n)
            .map(|i| Pt {
                x: if i == 0 { -r } else { r },
                y: 0.0,
            })
            .collect();
    }
    let r = (BOX_W + BOX_GAP) / (2.0 * (PI / n as f64).sin());
    (0..n)
        .map(|i| {
            let a = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
            Pt {
                x: r * a.cos(),
                y: r * a.sin(),
            }
        })
        .collect()
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

fn draw_cycle(h: &mut String, page: &TxnPage, i: usize, c: &CycleReport, txns: &[usize]) {
    let centers = layout(txns.len());
    let at = |t: usize| txns.iter().position(|&x| x == t).map(|k| centers[k]);
    let mut b = Bounds::new();
    for &p in &centers {
        b.add_rect(p, BOX_W / 2.0, BOX_H / 2.0);
    }
    let mut body = String::new();
    // Arrows bend to the right of their direction, so two opposite arrows between one pair never overlap;
    // on a circle the first arrow's bend decides the side for all, outwards.
    let outwards = match (c.steps.first(), centers.len() > 2) {
        (Some(s), true) => match (at(s.from), at(s.to)) {
            (Some(a), Some(bp)) => {
                let mid = a.add(bp).scale(0.5);
                if bp.sub(a).right().dot(mid) >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }
            _ => 1.0,
        },
        _ => 1.0,
    };
    for (k, s) in c.steps.iter().enumerate() {
        let (Some(a), Some(z)) = (at(s.from), at(s.to)) else {
            continue;
        };
        let color = kind_color(s.kind);
        let (path, end, towards, label) = if s.from == s.to {
            // A loop over the box's top.
            let top = a.y - BOX_H / 2.0 - 3.0;
            let s0 = Pt {
                x: a.x - 30.0,
                y: top,
            };
            let e = Pt {
                x: a.x + 30.0,
                y: top,
            };
            let c1 = Pt {
                x: a.x - 70.0,
                y: top - 80.0,
            };
            let c2 = Pt {
                x: a.x + 70.0,
                y: top - 80.0,
            };
            b.add(c1);
            b.add(c2);
            let d = format!(
                "M{} {} C{} {} {} {} {} {}",
                f(s0.x),
                f(s0.y),
                f(c1.x),
                f(c1.y),
                f(c2.x),
                f(c2.y),
                f(e.x),
                f(e.y)
            );
            (
                d,
                e,
                c2,
                Pt {
                    x: a.x,
                    y: top - 60.0,
                },
            )
        } else {
            let chord = z.sub(a);
            let bend = if centers.len() > 2 { 0.22 } else { 0.28 };
            let ctrl = a
                .add(chord.scale(0.5))
                .add(chord.unit().right().scale(outwards * bend * chord.len()));
            let s0 = box_exit(a, ctrl);
            let e = box_exit(z, ctrl);
            // The curve stays well inside its control point: bound it by points along it instead.
            for k in 1..10 {
                let t = k as f64 / 10.0;
                b.add(
                    s0.scale((1.0 - t) * (1.0 - t))
                        .add(ctrl.scale(2.0 * t * (1.0 - t)))
                        .add(e.scale(t * t)),
                );
            }
            let d = format!(
                "M{} {} Q{} {} {} {}",
                f(s0.x),
                f(s0.y),
                f(ctrl.x),
                f(ctrl.y),
                f(e.x),
                f(e.y)
            );
            // The curve's middle.
            let mid = s0.scale(0.25).add(ctrl.scale(0.5)).add(e.scale(0.25));
            (d, e, ctrl, mid)
        };
        let u = end.sub(towards).unit();
        let back = end.sub(u.scale(11.0));
        let w1 = back.add(u.right().scale(5.0));
        let w2 = back.sub(u.right().scale(5.0));
        let text = format!("{} {}", k + 1, s.kind);
        let tw = 7.0 * text.chars().count() as f64 + 8.0;
        b.add_rect(label, tw / 2.0, 9.0);
        let _ = write!(
            body,
            r#"<g class="edge {kind}"><title>{title}</title><path d="{path}" stroke="{color}"/><polygon points="{} {} {} {} {} {}" fill="{color}"/><rect x="{}" y="{}" width="{}" height="16" rx="3"/><text x="{}" y="{}" fill="{color}">{n} <tspan class="kind">{kind}</tspan></text></g>"#,
            f(end.x),
            f(end.y),
            f(w1.x),
            f(w1.y),
            f(w2.x),
            f(w2.y),
            f(label.x - tw / 2.0),
            f(label.y - 8.0),
            f(tw),
            f(label.x),
            f(label.y + 4.0),
            kind = esc(s.kind),
            title = esc(&s.sentence),
            n = k + 1,
        );
    }
    for (&t, &p) in txns.iter().zip(&centers) {
        let full = txn_mops(page, t, false);
        let _ = write!(
            body,
            r#"<g class="box"><title>T{t}: {title}</title><rect x="{}" y="{}" width="{BOX_W}" height="{BOX_H}" rx="5"/><text class="name" x="{}" y="{}">T{t}</text><text class="mops" x="{}" y="{}">{mops}</text></g>"#,
            f(p.x - BOX_W / 2.0),
            f(p.y - BOX_H / 2.0),
            f(p.x - BOX_W / 2.0 + 8.0),
            f(p.y - 5.0),
            f(p.x - BOX_W / 2.0 + 8.0),
            f(p.y + 13.0),
            title = esc(&full),
            mops = esc(&shorten(&txn_mops(page, t, true), BOX_CHARS)),
        );
    }
    let pad = 12.0;
    let (x0, y0) = (b.min.x - pad, b.min.y - pad);
    let (w, hgt) = (b.max.x - b.min.x + 2.0 * pad, b.max.y - b.min.y + 2.0 * pad);
    let _ = write!(
        h,
        r#"<svg class="cycle" id="cycle-svg-{i}" xmlns="http://www.w3.org/2000/svg" viewBox="{} {} {} {}" width="{}" role="img" aria-label="{name}">{body}</svg>"#,
        f(x0),
        f(y0),
        f(w),
        f(hgt),
        f(w),
        name = esc(&c.name),
    );
}

/// At most `max` characters, the cut marked with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
}

/// A list as `[1 2 3]`, a long one cut in the middle.
fn list_text(xs: &[i64]) -> String {
    let show = |s: &[i64]| s.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    if xs.len() <= 8 {
        format!("[{}]", show(xs))
    } else {
        format!(
            "[{} … {}] ({} values)",
            show(&xs[..3]),
            show(&xs[xs.len() - 3..]),
            xs.len()
        )
    }
}

/// A key cut in the middle when long (`custo…nt-17`), so a box still shows every micro-op of a
/// transaction over long key names; prefixes and suffixes are what tell generated keys apart.
fn short_key(k: &str) -> String {
    const KEPT: usize = 5;
    let n = k.chars().count();
    if n <= 2 * KEPT + 2 {
        return k.to_string();
    }
    let head: String = k.chars().take(KEPT).collect();
    let tail: String = k.chars().skip(n - KEPT).collect();
    format!("{head}…{tail}")
}

/// A transaction's micro-ops: `[append x 1] [r y [1 2]]`; `short` cuts long key names.
fn txn_mops(page: &TxnPage, t: usize, short: bool) -> String {
    let Some(h) = page.history.filter(|h| t < h.txns.len()) else {
        // `named_txns` lines read `line 3, process 1, ok: [[:append x 1] ...]`: keep the micro-ops.
        return page
            .report
            .named_txns
            .get(&t)
            .and_then(|l| l.split_once(": ["))
            .map(|(_, m)| m.strip_suffix(']').unwrap_or(m).to_string())
            .unwrap_or_default();
    };
    let key = |k: u32| {
        let name = h.keys.get(k as usize).map_or("?", String::as_str);
        if short {
            short_key(name)
        } else {
            name.to_string()
        }
    };
    let words: Vec<String> = h
        .mops_of(t)
        .iter()
        .map(|m| match *m {
            Mop::Append { key: k, value } => format!("[append {} {value}]", key(k)),
            Mop::Write { key: k, value } => format!("[w {} {value}]", key(k)),
            Mop::Read { key: k, value } => {
                let v = match value {
                    ReadValue::Unknown | ReadValue::Register(None) => "nil".to_string(),
                    ReadValue::Register(Some(v)) => v.to_string(),
                    ReadValue::List { .. } => list_text(h.list_of(value).unwrap_or(&[])),
                };
                format!("[r {} {v}]", key(k))
            }
        })
        .collect();
    words.join(" ")
}

/// A transaction in full, as listed under its drawing: where it is in the history, then its micro-ops.
fn txn_line(page: &TxnPage, t: usize) -> String {
    match page.history.and_then(|h| h.txns.get(t)) {
        Some(x) => {
            let status = match x.status {
                Status::Ok => "ok",
                Status::Info => "info",
                Status::Fail => "fail",
            };
            let process = x
                .process
                .map(|p| format!(", process {p}"))
                .unwrap_or_default();
            format!(
                "line {}{process}, {status}: {}",
                x.line,
                txn_mops(page, t, false)
            )
        }
        None => page
            .report
            .named_txns
            .get(&t)
            .cloned()
            .unwrap_or_else(|| "(not in the report)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::txn::{check_txn, parse_txn_history, TxnModel, TxnOptions};

    fn page_for(text: &str, consistency: Consistency) -> String {
        let h = parse_txn_history(text, TxnModel::ListAppend).unwrap();
        let r = check_txn(&h, TxnModel::ListAppend, &TxnOptions { consistency }).unwrap();
        render_txn(&TxnPage {
            title: "h.edn",
            report: &r,
            history: Some(&h),
        })
    }

    /// Read skew: T0 appends to both keys, T1 sees T0's append to y but not to x.
    const SKEW: &str = "{:type :ok, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :value [[:r :x []] [:r :y [1]]]}
";

    #[test]
    fn g_single_is_drawn_as_one_svg_with_both_transactions_and_each_edge_kind() {
        let html = page_for(SKEW, Consistency::StrictSerializable);
        assert_eq!(html.matches("<svg").count(), 1, "{html}");
        assert!(html.contains(r#"class="verdict invalid""#));
        assert!(html.contains("G-single"));
        assert!(html
            .contains("Strongest model still consistent: <b id=\"strongest\">read-committed</b>"));
        let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
        for label in [
            r#"<tspan class="kind">rw</tspan>"#,
            r#"<tspan class="kind">wr</tspan>"#,
            ">T0</text>",
            ">T1</text>",
            "[append x 1] [append y 1]",
            "[r x []] [r y [1]]",
        ] {
            assert!(svg.contains(label), "the drawing lacks {label}: {svg}");
        }
        // One arrow per step, each in its kind's colour.
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains(&format!(r#"stroke="{}""#, kind_color("rw"))));
        assert!(svg.contains(&format!(r#"stroke="{}""#, kind_color("wr"))));
        // The step sentences are listed under the drawing.
        assert!(html.contains("after T1 read x without it (rw)"), "{html}");
        assert!(html.contains("back to T"));
    }

    #[test]
    fn a_realtime_edge_is_drawn_in_its_colour() {
        // T1 begins after T0 completed yet misses T0's append.
        let text = "{:process 0 :type :invoke :f :txn :value [[:append :x 1]]}
{:process 0 :type :ok :f :txn :value [[:append :x 1]]}
{:process 1 :type :invoke :f :txn :value [[:r :x nil]]}
{:process 1 :type :ok :f :txn :value [[:r :x []]]}
";
        let html = page_for(text, Consistency::StrictSerializable);
        assert!(html.contains("G-single-realtime"), "{html}");
        let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap()];
        assert!(
            svg.contains(r#"<tspan class="kind">realtime</tspan>"#),
            "{svg}"
        );
        assert!(svg.contains(&format!(r#"stroke="{}""#, kind_color("realtime"))));
        assert!(
            html.contains("T1 began after T0 completed (realtime)"),
            "{html}"
        );
    }

    #[test]
    fn text_from_the_history_is_escaped() {
        let text = r#"{:type :ok, :value [[:append "<script>alert(1)</script>" 1] [:append :y 1]]}
{:type :ok, :value [[:r "<script>alert(1)</script>" []] [:r :y [1]]]}
"#;
        let html = page_for(text, Consistency::StrictSerializable);
        assert_eq!(html.matches("<svg").count(), 1, "{html}");
        assert!(!html.contains("<script"), "unescaped key: {html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn a_valid_history_has_no_drawing() {
        let text = "{:type :ok, :value [[:append :x 1] [:append :y 1]]}
{:type :ok, :value [[:r :x [1]] [:r :y [1]]]}
";
        let html = page_for(text, Consistency::StrictSerializable);
        assert!(html.contains(r#"class="verdict valid""#), "{html}");
        assert!(!html.contains("<svg"), "{html}");
        assert!(html.contains("No dependency cycle"));
        assert!(html.contains("No anomalies found"));
    }

    #[test]
    fn a_cycle_the_model_allows_is_drawn_on_a_valid_page() {
        let html = page_for(SKEW, Consistency::ReadCommitted);
        assert!(html.contains(r#"class="verdict valid""#), "{html}");
        assert_eq!(html.matches("<svg").count(), 1);
    }

    /// A hand-built report: drawn from `named_txns` without the history, at most `MAX_CYCLES_DRAWN`
    /// cycles, the rest counted.
    #[test]
    fn cycles_past_the_cap_are_counted_not_drawn() {
        let h = parse_txn_history(SKEW, TxnModel::ListAppend).unwrap();
        let mut r = check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).unwrap();
        let c = r.cycles[0].clone();
        r.cycles = vec![c; MAX_CYCLES_DRAWN + 2];
        r.anomaly_counts.insert("G-single".into(), 30);
        let html = render_txn(&TxnPage {
            title: "t",
            report: &r,
            history: None,
        });
        assert_eq!(html.matches("<svg").count(), MAX_CYCLES_DRAWN);
        assert!(html.contains("10 more cycles not drawn"), "{html}");
        // The boxes fall back to the named transactions' micro-ops.
        assert!(html.contains("[:append x 1] [:append y 1]"), "{html}");
    }

    #[test]
    fn boxes_on_a_circle_keep_apart() {
        for n in 3..=MAX_TXNS_DRAWN {
            let c = layout(n);
            for i in 0..n {
                for j in i + 1..n {
                    let d = c[i].sub(c[j]);
                    assert!(
                        d.x.abs() >= BOX_W || d.y.abs() >= BOX_H,
                        "{n} boxes: {i} and {j} overlap"
                    );
                }
            }
        }
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert_eq!(
            list_text(&(1..=10).collect::<Vec<_>>()),
            "[1 2 3 … 8 9 10] (10 values)"
        );
        assert_eq!(short_key("customer-account-17"), "custo…nt-17");
        assert_eq!(short_key("x"), "x");
        assert!(is_cycle_name("G-single-realtime") && is_cycle_name("G0"));
        assert!(!is_cycle_name("G1a") && !is_cycle_name("G0x"));
    }
}
