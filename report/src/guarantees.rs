//! The guarantee ladder (each guarantee kept ✓, broken ✗ or not checkable –, with its first violation),
//! lost writes, and staleness over time with the faults shaded. The harness prints the same ladder in its
//! table and summary.md, so the words are made here once.

use crate::faults::FaultSpan;
use crate::svg::{esc, fault_color, fault_kinds, Frame, LegendItem, Scale};
use checker::append::{Guarantees, Judged, LostWrites, Staleness, Violation};
use checker::validity::{nullable, Validity};
use serde::Serialize;
use std::fmt::Write;

/// Every guarantee: its name in results.json and its words, strongest first.
pub const NAMES: [(&str, &str); 6] = [
    ("linearizable", "linearizable"),
    ("read_your_writes", "read your writes"),
    ("monotonic_reads", "monotonic reads"),
    ("monotonic_writes", "monotonic writes"),
    ("writes_follow_reads", "writes follow reads"),
    ("converged", "converged after heal"),
];

/// One guarantee as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rung {
    /// The name in results.json (`read_your_writes`).
    pub name: &'static str,
    pub label: &'static str,
    /// Kept, broken, or unknown: not checkable for this workload or system (`null` in JSON).
    #[serde(with = "nullable")]
    pub holds: Validity,
    /// What it judged (`over 412 reads after 380 acknowledged appends`), when that is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    /// The first violation's sentence, or what was found (for `–`: why nothing could be judged).
    pub why: Option<String>,
    /// Named by `--expect`: it decides the exit code.
    pub decides: bool,
}

impl Rung {
    pub fn mark(&self) -> &'static str {
        self.holds.mark()
    }

    /// Everything after the label: ` over 412 reads after 380 acknowledged appends (decides): why`.
    /// The one rendering of a rung's words; [`Rung::line`] and the harness's table build on it.
    pub fn detail(&self) -> String {
        let mut s = String::new();
        if let Some(over) = &self.over {
            let _ = write!(s, " {over}");
        }
        if self.decides {
            s.push_str(" (decides)");
        }
        if let Some(why) = &self.why {
            let _ = write!(s, ": {why}");
        }
        s
    }

    /// `✓ read your writes over 412 reads after 380 acknowledged appends`, with `(decides)` and the
    /// reason when there is one.
    pub fn line(&self) -> String {
        format!("{} {}{}", self.mark(), self.label, self.detail())
    }
}

/// `over 412 reads after 380 acknowledged appends`: what a guarantee judged, in words.
pub fn over_words(guarantee: &str, j: Judged) -> String {
    let (ops, against) = (j.ops, j.against);
    match guarantee {
        "linearizable" => format!("over {ops} reads and {against} writes (acknowledged or read back)"),
        "read_your_writes" => format!("over {ops} reads after {against} acknowledged appends"),
        "monotonic_reads" => {
            format!("over {ops} reads after {against} earlier reads that returned values")
        }
        "monotonic_writes" => format!(
            "over {ops} reads holding {against} appends that followed an acknowledged one of the same session"
        ),
        "writes_follow_reads" => format!(
            "over {ops} reads holding {against} appends made after their session read values"
        ),
        _ => format!("over {ops} ops"),
    }
}

/// Why a guarantee had nothing to judge (`ops` or `against` is 0), in words.
pub fn nothing_words(guarantee: &str, j: Judged) -> String {
    match guarantee {
        "linearizable" if j.against == 0 => {
            "nothing to judge: no write was acknowledged or read back".into()
        }
        "linearizable" => "nothing to judge: no read succeeded".into(),
        "read_your_writes" => {
            "nothing to judge: no session read a key after its own acknowledged append to it".into()
        }
        "monotonic_reads" => {
            "nothing to judge: no session read a key again after a read that returned values".into()
        }
        "monotonic_writes" => "nothing to judge: no read held an append that followed an acknowledged one of the same session".into(),
        "writes_follow_reads" => {
            "nothing to judge: no read held an append made after its session read values".into()
        }
        _ => "nothing to judge".into(),
    }
}

/// The ladder: for each guarantee, whether it held and why not (the first violation's sentence, or the
/// note given for it, such as a register's counterexample or how convergence went), and what it judged
/// (`judged`, by name). `decides` names the guarantees `--expect` picked.
pub fn ladder(
    g: &Guarantees,
    violations: &[Violation],
    notes: &[(&str, String)],
    judged: &[(&str, Judged)],
    decides: &[&str],
) -> Vec<Rung> {
    NAMES
        .iter()
        .map(|&(name, label)| {
            let holds = g.get(name);
            let over = judged
                .iter()
                .find(|(n, _)| *n == name && !holds.is_unknown())
                .map(|(_, j)| over_words(name, *j));
            let first = violations
                .iter()
                .find(|v| v.guarantee == name)
                .map(|v| v.sentence.clone());
            let note = notes
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.clone());
            Rung {
                name,
                label,
                holds,
                over,
                why: if holds.is_invalid() {
                    first.or(note)
                } else {
                    note
                },
                decides: decides.contains(&name),
            }
        })
        .collect()
}

/// `3 acknowledged appends lost; first: 17 to k2 (acknowledged by n1 at 4.20 s)`.
pub fn lost_line(l: &LostWrites) -> String {
    if !l.checked {
        return "not checkable (no final read)".into();
    }
    if l.count == 0 && l.judged == 0 {
        return "– nothing to judge: no acknowledged append before the final reads".into();
    }
    if l.count == 0 {
        return format!("none of {} acknowledged appends lost", l.judged);
    }
    let mut s = format!(
        "{} acknowledged append{} lost",
        l.count,
        if l.count == 1 { "" } else { "s" }
    );
    if let Some(op) = l.first.first() {
        let _ = write!(
            s,
            "; first: {} to {} (acknowledged{} at {:.2} s)",
            op.value,
            op.key.as_deref().unwrap_or("?"),
            op.node
                .as_ref()
                .map(|n| format!(" by {n}"))
                .unwrap_or_default(),
            op.complete_time_ns.unwrap_or(op.invoke_time_ns) as f64 / 1e9
        );
    }
    s
}

/// `12 of 400 reads stale (3.0%); p50 0 ms, p99 120 ms, max 300 ms behind; p99 2, max 5 versions`.
pub fn staleness_line(s: &Staleness) -> String {
    if s.reads == 0 {
        return "– no read succeeded".into();
    }
    if s.acknowledged == 0 {
        return format!("– no acknowledged append for {} reads to miss", s.reads);
    }
    format!(
        "{} of {} reads stale ({:.1}%); p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms behind; \
         p50 {:.0}, p99 {:.0}, max {:.0} versions",
        s.stale_reads,
        s.reads,
        s.share * 100.0,
        s.ms.p50,
        s.ms.p99,
        s.ms.max,
        s.versions.p50,
        s.versions.p99,
        s.versions.max
    )
}

/// What the report shows of the guarantees (absent for runs checked only for linearizability).
#[derive(Debug, Clone, Default)]
pub struct GuaranteeView {
    pub rungs: Vec<Rung>,
    pub lost_writes: Option<LostWrites>,
    pub staleness: Option<Staleness>,
}

/// The section: the ladder table, lost writes, and the staleness plot.
pub(crate) fn section(h: &mut String, view: &GuaranteeView, faults: &[FaultSpan], end_s: f64) {
    h.push_str(r#"<h2>Guarantees</h2><section id="guarantees"><table id="ladder"><thead><tr><th></th><th>guarantee</th><th>first violation / note</th></tr></thead><tbody>"#);
    for r in &view.rungs {
        let color = match r.holds {
            Validity::Valid => "#2e7d32",
            Validity::Invalid => "#c62828",
            Validity::Unknown => "#888",
        };
        let class = r.holds.as_str();
        let _ = write!(
            h,
            r#"<tr data-guarantee="{n}"><td class="{class}" style="color:{color};font-weight:bold">{m}</td><td>{l}{o}{d}</td><td>{w}</td></tr>"#,
            n = r.name,
            m = r.mark(),
            l = esc(r.label),
            o = r
                .over
                .as_deref()
                .map(|o| format!(r#" <span class="judged">{}</span>"#, esc(o)))
                .unwrap_or_default(),
            d = if r.decides { " <b>(decides)</b>" } else { "" },
            w = esc(r.why.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table>");
    if let Some(l) = &view.lost_writes {
        let _ = write!(
            h,
            r#"<p id="lost-writes"><b>Lost writes:</b> {}</p>"#,
            esc(&lost_line(l))
        );
    }
    if let Some(s) = &view.staleness {
        let _ = write!(
            h,
            r#"<p id="staleness"><b>Staleness:</b> {}</p>{}"#,
            esc(&staleness_line(s)),
            staleness_plot(s, faults, end_s)
        );
    }
    h.push_str("</section>");
}

const W: f64 = 1200.0;
const H: f64 = 300.0;
const STALE: &str = "#e15759";

/// The worst staleness (ms behind) per time slice, as dots joined by a line, over the fault windows.
pub fn staleness_plot(s: &Staleness, faults: &[FaultSpan], end_s: f64) -> String {
    let end = s.series.iter().map(|p| p.0).fold(end_s, f64::max);
    let top = s.series.iter().map(|p| p.1).fold(10.0, f64::max);
    let mut legend: Vec<LegendItem> = vec![(
        "worst read per slice (ms behind)".into(),
        STALE.into(),
        "line",
    )];
    legend.extend(
        fault_kinds(faults)
            .into_iter()
            .map(|k| (k.to_string(), fault_color(k).to_string(), "band")),
    );
    let fr = Frame::new(W, H, end, &legend, |b, t| {
        Scale::linear(0.0, top * 1.05, b, t)
    });
    let mut out = String::new();
    fr.open(&mut out, "staleness-plot", "staleness over time");
    fr.fault_shading(&mut out, faults, end);
    fr.axes(&mut out, "time (s)", "ms behind");
    let mut d = String::new();
    for (i, (t, ms, _)) in s.series.iter().enumerate() {
        let cmd = if i == 0 { 'M' } else { 'L' };
        let _ = write!(d, "{cmd}{:.1} {:.1}", fr.x.map(*t), fr.y.map(*ms));
    }
    let _ = write!(
        out,
        r#"<path class="staleness" d="{d}" fill="none" stroke="{STALE}" stroke-width="1.5"/>"#
    );
    for (t, ms, v) in &s.series {
        let _ = write!(
            out,
            r#"<circle class="stale-read" cx="{:.1}" cy="{:.1}" r="2.5" fill="{STALE}"><title>{t:.2} s: {ms:.0} ms, {v} versions behind</title></circle>"#,
            fr.x.map(*t),
            fr.y.map(*ms)
        );
    }
    fr.legend(&mut out, &legend);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(guarantee: &str, sentence: &str) -> Violation {
        Violation {
            guarantee: guarantee.into(),
            key: "k1".into(),
            sentence: sentence.into(),
            ops: vec![],
            time_ns: Some(1),
        }
    }

    #[test]
    fn the_ladder_shows_each_guarantee_with_its_first_violation() {
        let g = Guarantees {
            linearizable: Validity::Invalid,
            read_your_writes: Validity::Invalid,
            monotonic_reads: Validity::Valid,
            monotonic_writes: Validity::Valid,
            writes_follow_reads: Validity::Valid,
            converged: Validity::Unknown,
        };
        let vs = [
            violation("read_your_writes", "first ryw"),
            violation("read_your_writes", "second ryw"),
            violation("linearizable", "incompatible orders"),
        ];
        let rungs = ladder(&g, &vs, &[], &[], &["read_your_writes"]);
        assert_eq!(rungs.len(), 6);
        assert_eq!(rungs[1].line(), "✗ read your writes (decides): first ryw");
        assert_eq!(rungs[0].why.as_deref(), Some("incompatible orders"));
        assert_eq!(rungs[2].line(), "✓ monotonic reads");
        assert_eq!(rungs[5].mark(), "–");
        let j = Judged {
            ops: 412,
            against: 380,
        };
        let rungs = ladder(&g, &vs, &[], &[("monotonic_reads", j)], &[]);
        assert_eq!(
            rungs[2].line(),
            "✓ monotonic reads over 412 reads after 380 earlier reads that returned values"
        );
    }

    #[test]
    fn the_plot_has_a_point_per_slice_and_the_faults_shaded() {
        let s = Staleness {
            reads: 10,
            stale_reads: 2,
            share: 0.2,
            acknowledged: 5,
            series: vec![(1.0, 0.0, 0), (2.0, 150.0, 3), (3.0, 20.0, 1)],
            ..Staleness::default()
        };
        let faults = [FaultSpan::new("kill-leader", 1.5, Some(2.5), ["n1"])];
        let svg = staleness_plot(&s, &faults, 4.0);
        assert_eq!(svg.matches("class=\"stale-read\"").count(), 3);
        assert_eq!(svg.matches("class=\"fault-window\"").count(), 1);
        assert!(staleness_line(&s).starts_with("2 of 10 reads stale (20.0%)"));
    }

    #[test]
    fn the_page_shows_the_section_only_when_guarantees_were_checked() {
        let mut input = crate::ReportInput::new("t", &[], vec![]);
        assert!(!crate::render(&input).contains(r#"id="ladder""#));
        input.guarantees = Some(GuaranteeView {
            rungs: ladder(&Guarantees::default(), &[], &[], &[], &[]),
            lost_writes: Some(LostWrites::default()),
            staleness: Some(Staleness::default()),
        });
        let page = crate::render(&input);
        assert_eq!(page.matches("<tr data-guarantee=").count(), 6);
        assert!(
            !page.contains(r#"class="judged""#),
            "nothing judged, no counts"
        );
        let kept = Guarantees {
            read_your_writes: Validity::Valid,
            ..Guarantees::default()
        };
        let j = Judged {
            ops: 412,
            against: 380,
        };
        input.guarantees = Some(GuaranteeView {
            rungs: ladder(&kept, &[], &[], &[("read_your_writes", j)], &[]),
            lost_writes: None,
            staleness: None,
        });
        assert!(crate::render(&input).contains(
            r#"<span class="judged">over 412 reads after 380 acknowledged appends</span>"#
        ));
        assert!(page.contains(r#"id="staleness-plot""#));
        assert!(page.contains("not checkable (no final read)"));
    }
}
