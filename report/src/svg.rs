//! Small helpers for hand-written SVG: escaping, scales, axes, legends, fault shading.
//!
//! Plots are drawn into a fixed `viewBox` and scaled by CSS, so coordinates need one decimal at most.

use crate::faults::FaultSpan;
use std::fmt::Write;

/// Escapes text for HTML and SVG (content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fixed colour per known fault kind (so every plot and table agrees), a hashed one otherwise: each
/// fault family's own ([`nemesis::family::fault_color`]).
pub fn fault_color(kind: &str) -> &'static str {
    nemesis::family::fault_color(kind)
}

/// Fault kinds in first-seen order, for legends.
pub fn fault_kinds(faults: &[FaultSpan]) -> Vec<&str> {
    let mut kinds: Vec<&str> = Vec::new();
    for f in faults {
        if !kinds.contains(&f.kind.as_str()) {
            kinds.push(&f.kind);
        }
    }
    kinds
}

/// Seconds, readable: `12.3 s`, `850 ms`.
pub fn secs(s: f64) -> String {
    if s.abs() < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Milliseconds, readable: `0.42`, `12.3`, `1520`.
pub fn ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Maps a domain onto a pixel range, linearly or by log10.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
    log: bool,
}

impl Scale {
    pub fn linear(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Scale {
            d0,
            d1,
            r0,
            r1,
            log: false,
        }
    }

    /// Log scale; the domain must be positive (values below `d0` are clamped).
    pub fn log(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let d1 = if d1 > d0 { d1 } else { d0 * 10.0 };
        Scale {
            d0: d0.log10(),
            d1: d1.log10(),
            r0,
            r1,
            log: true,
        }
    }

    pub fn map(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1e-9).log10() } else { v };
        let t = ((v - self.d0) / (self.d1 - self.d0)).clamp(0.0, 1.0);
        self.r0 + t * (self.r1 - self.r0)
    }

    /// About `n` round tick values inside the domain.
    pub fn ticks(&self, n: usize) -> Vec<f64> {
        if self.log {
            let lo = self.d0.floor() as i32;
            let hi = self.d1.ceil() as i32;
            let decades: Vec<f64> = (lo..=hi).map(|e| 10f64.powi(e)).collect();
            let mut t: Vec<f64> = decades.clone();
            if decades.len() <= 3 {
                t.extend(decades.iter().flat_map(|d| [2.0 * d, 5.0 * d]));
            }
            let (a, b) = (10f64.powf(self.d0), 10f64.powf(self.d1));
            t.retain(|v| *v >= a * 0.999 && *v <= b * 1.001);
            t.sort_by(f64::total_cmp);
            return t;
        }
        let raw = (self.d1 - self.d0) / n.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let mut t = Vec::new();
        let mut v = (self.d0 / step).ceil() * step;
        while v <= self.d1 + step * 1e-9 {
            t.push(v);
            v += step;
        }
        t
    }
}

/// Tick label: no trailing zeros.
pub fn tick_label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A plot area inside an SVG canvas: margins, scales, axes.
pub struct Frame {
    pub w: f64,
    pub h: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x: Scale,
    pub y: Scale,
}

impl Frame {
    /// A `w`×`h` canvas with room for `legend` on top and axes at left and bottom; x is seconds.
    pub fn new(
        w: f64,
        h: f64,
        x_end_s: f64,
        legend: &[LegendItem],
        y: impl Fn(f64, f64) -> Scale,
    ) -> Frame {
        let (left, right) = (64.0, w - 16.0);
        let rows = legend_layout(legend, left, right)
            .last()
            .map_or(0, |p| p.1 + 1);
        let (top, bottom) = (18.0 + LEGEND_ROW * rows as f64, h - 40.0);
        Frame {
            w,
            h,
            left,
            right,
            top,
            bottom,
            x: Scale::linear(0.0, x_end_s.max(1e-3), left, right),
            y: y(bottom, top),
        }
    }

    /// Opens the `<svg>` element.
    pub fn open(&self, out: &mut String, id: &str, label: &str) {
        let _ = write!(
            out,
            r#"<svg id="{id}" class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="{l}" xmlns="http://www.w3.org/2000/svg">"#,
            w = self.w,
            h = self.h,
            l = esc(label)
        );
    }

    /// Grid lines, tick labels and axis titles.
    pub fn axes(&self, out: &mut String, x_title: &str, y_title: &str) {
        out.push_str(r#"<g class="axes">"#);
        for t in self.y.ticks(5) {
            let y = self.y.map(t);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{l}" x2="{r}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{lab}</text>"#,
                l = self.left,
                r = self.right,
                tx = self.left - 6.0,
                ty = y + 4.0,
                lab = tick_label(t)
            );
        }
        for t in self.x.ticks(10) {
            let x = self.x.map(t);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{t0}" y2="{b}"/><text class="tick" x="{x:.1}" y="{ty}" text-anchor="middle">{lab}</text>"#,
                t0 = self.top,
                b = self.bottom,
                ty = self.bottom + 16.0,
                lab = tick_label(t)
            );
        }
        let _ = write!(
            out,
            r#"<rect class="frame" x="{l}" y="{t}" width="{w:.1}" height="{h:.1}"/><text class="axis-title" x="{cx:.1}" y="{xy}" text-anchor="middle">{xt}</text><text class="axis-title" transform="translate(14 {cy:.1}) rotate(-90)" text-anchor="middle">{yt}</text></g>"#,
            l = self.left,
            t = self.top,
            w = self.right - self.left,
            h = self.bottom - self.top,
            cx = (self.left + self.right) / 2.0,
            xy = self.h - 6.0,
            cy = (self.top + self.bottom) / 2.0,
            xt = esc(x_title),
            yt = esc(y_title)
        );
    }

    /// One translucent band per fault over the plot's height (`end_s` closes open faults).
    pub fn fault_shading(&self, out: &mut String, faults: &[FaultSpan], end_s: f64) {
        out.push_str(r#"<g class="faults">"#);
        for f in faults {
            let x0 = self.x.map(f.start_s);
            let x1 = self.x.map(f.end_or(end_s)).max(x0 + 1.0);
            let _ = write!(
                out,
                r#"<rect class="fault-window" data-kind="{k}" x="{x0:.1}" y="{t}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{k} {tg}: {s} to {e}</title></rect>"#,
                k = esc(&f.kind),
                t = self.top,
                w = x1 - x0,
                h = self.bottom - self.top,
                c = fault_color(&f.kind),
                tg = esc(&f.targets.join(",")),
                s = secs(f.start_s),
                e = f.end_s.map(secs).unwrap_or_else(|| "the end".into()),
            );
        }
        out.push_str("</g>");
    }

    /// The legend above the plot, wrapped into rows.
    pub fn legend(&self, out: &mut String, items: &[LegendItem]) {
        out.push_str(r#"<g class="legend">"#);
        let places = legend_layout(items, self.left, self.right);
        for ((label, color, shape), (x, row)) in items.iter().zip(places) {
            let y = 14.0 + LEGEND_ROW * row as f64;
            let _ = match *shape {
                "dot" => write!(
                    out,
                    r#"<circle cx="{cx}" cy="{y}" r="4" fill="{color}"/>"#,
                    cx = x + 6.0
                ),
                "line" => write!(
                    out,
                    r#"<line x1="{x}" x2="{x2}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="2.5"/>"#,
                    x2 = x + 12.0
                ),
                _ => write!(
                    out,
                    r#"<rect x="{x}" y="{y0}" width="12" height="12" fill="{color}" opacity="0.35"/>"#,
                    y0 = y - 6.0
                ),
            };
            let _ = write!(
                out,
                r#"<text class="legend-label" x="{tx}" y="{ty}">{l}</text>"#,
                tx = x + 16.0,
                ty = y + 4.0,
                l = esc(label)
            );
        }
        out.push_str("</g>");
    }
}

/// A legend entry: label, colour, and shape (`dot`, `line` or `band`).
pub type LegendItem = (String, String, &'static str);
const LEGEND_ROW: f64 = 17.0;

/// Where each legend entry goes: `(x, row)`, wrapping at `right` (text width estimated per character).
fn legend_layout(items: &[LegendItem], left: f64, right: f64) -> Vec<(f64, usize)> {
    let mut x = left;
    let mut row = 0;
    items
        .iter()
        .map(|(label, _, _)| {
            let w = 30.0 + 6.5 * label.chars().count() as f64;
            if x + w > right && x > left {
                (x, row) = (left, row + 1);
            }
            x += w;
            (x - w, row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_ticks() {
        let s = Scale::linear(0.0, 10.0, 0.0, 100.0);
        assert_eq!(s.map(5.0), 50.0);
        assert_eq!(s.map(20.0), 100.0);
        assert_eq!(s.ticks(5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let l = Scale::log(1.0, 1000.0, 0.0, 30.0);
        assert!((l.map(10.0) - 10.0).abs() < 1e-9);
        assert_eq!(l.ticks(5), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(20.0), "20");
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        // A long legend wraps, and the plot area moves down to make room.
        let items: Vec<LegendItem> = (0..12)
            .map(|i| (format!("partition-kind-{i}"), "#000".to_string(), "band"))
            .collect();
        let places = legend_layout(&items, 64.0, 1184.0);
        assert!(places.iter().all(|(x, _)| *x < 1184.0));
        assert!(places.last().unwrap().1 >= 1);
        let one = Frame::new(1200.0, 300.0, 10.0, &items[..1], |b, t| {
            Scale::linear(0.0, 1.0, b, t)
        });
        let many = Frame::new(1200.0, 300.0, 10.0, &items, |b, t| {
            Scale::linear(0.0, 1.0, b, t)
        });
        assert!(many.top > one.top);
        // Degenerate domains do not divide by zero.
        assert!(Scale::linear(3.0, 3.0, 0.0, 1.0).map(3.0).is_finite());
    }
}
