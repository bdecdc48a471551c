//! Faults beyond what a mode assumes. A lease is only as safe as its clock bound: every clock must run
//! within 1 ± `--max-drift` of real time (docs/read-modes: "clock rate beyond bound" is an anomaly by
//! design there). A run that skews a clock past that bound says so next to its verdict, so a stale read
//! there reads as the expected consequence it is, not as a bug in the lease.

use super::args::RunArgs;
use super::faults::FaultRecord;
use crate::settings::{RunConfig, SystemKind};
use nemesis::family::clock;

/// The clock-skew rate named when `clock-skew` is: a tenth of real speed, far outside any drift bound,
/// so the fault shows what a broken clock assumption does.
pub const NAMED_SKEW_RATE: f64 = 0.1;

/// The rate `clock-skew` gives the leader: `--skew-rate` when given; else [`NAMED_SKEW_RATE`] when
/// `clock-skew` is named in `--nemesis`; else (it came with `all`) a rate inside the drift bound, so a
/// run of every fault tests the lease within its assumptions.
pub fn skew_rate(a: &RunArgs) -> f64 {
    if let Some(r) = a.skew_rate {
        return r;
    }
    let named = a.nemesis.split(',').any(|n| n.trim() == clock::SKEW.name());
    if named {
        NAMED_SKEW_RATE
    } else {
        within_bound(a.max_drift)
    }
}

/// A rate inside the drift bound (0.97 for the default 0.05), still slow enough to move the lease.
pub fn within_bound(max_drift: f64) -> f64 {
    1.0 - 0.6 * max_drift
}

/// Whether a clock at `rate` runs outside the drift bound `max_drift`.
pub fn outside(rate: f64, max_drift: f64) -> bool {
    // A margin for the float arithmetic: 0.95 is at the bound of 0.05, not past it.
    (rate - 1.0).abs() > max_drift + 1e-9
}

/// The modes whose reads rely on the clock bound.
fn relies_on_clock(cfg: &RunConfig) -> bool {
    cfg.cluster.system == SystemKind::Node
        && matches!(cfg.cluster.mode.as_str(), "lease" | "lease-no-wait")
}

/// One sentence per applied fault kind that went beyond the mode's assumptions (none usually), for the
/// verdict in results.json (`beyond_assumptions`), the terminal, summary.md and report.html.
pub fn beyond(cfg: &RunConfig, faults: &[FaultRecord]) -> Vec<String> {
    let skewed = faults.iter().any(|f| f.hit && f.kind == clock::SKEW);
    if !(skewed && relies_on_clock(cfg) && outside(cfg.faults.skew_rate, cfg.cluster.max_drift)) {
        return Vec::new();
    }
    vec![format!(
        "clock rate {} is outside the lease's drift bound ({}): a stale read here is expected \
         (the lease assumes every clock runs within 1 ± --max-drift; see --skew-rate)",
        cfg.faults.skew_rate, cfg.cluster.max_drift
    )]
}

/// The verdict's words followed by what went beyond the mode's assumptions, as one line.
pub fn with_verdict(words: String, beyond: &[String]) -> String {
    std::iter::once(words)
        .chain(beyond.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::args::parse_for_test;

    fn args(argv: &[&str]) -> RunArgs {
        parse_for_test(argv)
    }

    fn cfg(argv: &[&str]) -> RunConfig {
        let store = tempfile::tempdir().unwrap();
        let mut v = argv.to_vec();
        let s = store.path().to_str().unwrap().to_string();
        v.extend(["--store", &s]);
        RunConfig::from_args(&args(&v)).unwrap()
    }

    fn skew(hit: bool) -> FaultRecord {
        FaultRecord {
            kind: clock::SKEW,
            start_s: 2.0,
            end_s: Some(5.0),
            targets: vec!["n1".into()],
            role: "leader".into(),
            hit,
            term: Some(2),
            detail: String::new(),
        }
    }

    #[test]
    fn all_skews_within_the_bound_a_named_clock_skew_beyond_it_unless_the_rate_is_given() {
        assert_eq!(skew_rate(&args(&["--nemesis", "all"])), 0.97);
        assert_eq!(skew_rate(&args(&["--nemesis", "clock-skew"])), 0.1);
        assert_eq!(
            skew_rate(&args(&["--nemesis", "all,clock-skew"])),
            NAMED_SKEW_RATE
        );
        assert_eq!(
            skew_rate(&args(&["--nemesis", "all", "--skew-rate", "0.5"])),
            0.5
        );
        assert_eq!(
            skew_rate(&args(&["--nemesis", "all", "--max-drift", "0.1"])),
            0.94
        );
        assert!(!outside(0.97, 0.05));
        assert!(!outside(0.95, 0.05));
        assert!(!outside(1.05, 0.05));
        assert!(outside(0.94, 0.05));
        assert!(outside(1.5, 0.05));
    }

    #[test]
    fn the_verdict_names_a_clock_rate_beyond_the_lease_bound() {
        let c = cfg(&["--nemesis", "clock-skew", "--time-limit", "10"]);
        assert_eq!(
            beyond(&c, &[skew(true)]),
            vec![
                "clock rate 0.1 is outside the lease's drift bound (0.05): a stale read here is expected \
                 (the lease assumes every clock runs within 1 ± --max-drift; see --skew-rate)"
                    .to_string()
            ]
        );
        // Not applied, within the bound, or a mode without a lease: nothing to say.
        assert!(beyond(&c, &[skew(false)]).is_empty());
        let within = cfg(&["--nemesis", "all", "--time-limit", "200"]);
        assert!(beyond(&within, &[skew(true)]).is_empty());
        let read_index = cfg(&["--nemesis", "clock-skew", "--mode", "read-index"]);
        assert!(beyond(&read_index, &[skew(true)]).is_empty());
        let no_wait = cfg(&["--nemesis", "clock-skew", "--mode", "lease-no-wait"]);
        assert_eq!(beyond(&no_wait, &[skew(true)]).len(), 1);
    }
}
