//! Numbers about a run, computed from its history: outcomes, latency, throughput, availability in and out
//! of faults, how long leader faults left the cluster unusable, who served requests, and a time series.
//!
//! Percentiles are nearest-rank (the smallest value with at least p% of values at or below it), so they are
//! always a latency that was actually observed.

use crate::faults::{is_leader_fault, FaultSpan};
use crate::ops::{pair, ClientOp};
use checker::{Event, EventType, Process};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many time-series buckets; longer runs get wider buckets.
const MAX_BUCKETS: u64 = 10_000;
const NS: f64 = 1e9;

/// Op outcomes. `open`: invoked, never completed (the history ended first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    pub open: usize,
}

impl OutcomeCounts {
    pub fn total(&self) -> usize {
        self.ok + self.fail + self.info + self.open
    }

    fn add(&mut self, outcome: Option<EventType>) {
        match outcome {
            Some(EventType::Ok) => self.ok += 1,
            Some(EventType::Fail) => self.fail += 1,
            Some(EventType::Info) => self.info += 1,
            _ => self.open += 1,
        }
    }
}

/// Latency of `ok` ops, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencyStats {
    /// `None` for no samples. Sorts `ms` in place.
    pub fn from_samples(ms: &mut [f64]) -> Option<Self> {
        ms.sort_by(f64::total_cmp);
        Some(LatencyStats {
            count: ms.len(),
            p50_ms: percentile(ms, 50.0)?,
            p99_ms: percentile(ms, 99.0)?,
            max_ms: *ms.last()?,
        })
    }
}

/// Nearest-rank percentile of sorted values; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Of the ops invoked in some set of times, how many the system served: `ok`, or a correct refusal
/// (`cas_failed`). Unavailable, not_leader after the retry, refused, timed out or open ops were not served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub ops: usize,
    pub ok: usize,
    #[serde(default)]
    pub served: usize,
    /// `served / ops`; `None` when no op was invoked there.
    pub ratio: Option<f64>,
}

impl Availability {
    fn from_counts(ops: usize, ok: usize, served: usize) -> Self {
        let ratio = (ops > 0).then(|| served as f64 / ops as f64);
        Availability {
            ops,
            ok,
            served,
            ratio,
        }
    }
}

/// How long one leader fault left the cluster without service: from the fault's start to the completion of
/// the first `ok` write (write or cas) and the first `ok` read invoked at or after that start. `None`: no
/// such op ever completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unavailability {
    pub kind: String,
    pub start_s: f64,
    pub targets: Vec<String>,
    pub write_s: Option<f64>,
    pub read_s: Option<f64>,
}

/// Median and maximum of the unavailability windows over leader faults (those with a value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UnavailabilitySummary {
    pub faults: usize,
    pub write_median_s: Option<f64>,
    pub write_max_s: Option<f64>,
    pub read_median_s: Option<f64>,
    pub read_max_s: Option<f64>,
}

/// Requests one node served (completions naming it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeShare {
    pub requests: usize,
    pub ok: usize,
    /// `requests` over all completions that name a node.
    pub share: f64,
}

/// One time-series bucket `[t_s, t_s + bucket_s)`. Outcome counts are by completion time (when the client
/// learnt the result); latency is of `ok` ops by invocation time, so a slow spell lines up with its cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub t_s: f64,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    /// `ok` completions per second.
    pub ok_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Everything the report shows in numbers; also fit for `results.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// From the first client invocation to the last client event, seconds.
    pub duration_s: f64,
    /// The last event's time (any process), seconds since the test started.
    pub end_s: f64,
    /// Client ops by outcome, overall and per `f`.
    pub totals: OutcomeCounts,
    pub by_f: BTreeMap<String, OutcomeCounts>,
    /// `fail` completions by error code (see [`crate::codes::code`]): `unavailable`, `cas_failed`, ...
    #[serde(default)]
    pub fail_codes: BTreeMap<String, usize>,
    /// `info` completions by error code.
    #[serde(default)]
    pub info_codes: BTreeMap<String, usize>,
    pub read_latency: Option<LatencyStats>,
    /// Writes and cas.
    pub write_latency: Option<LatencyStats>,
    /// `ok` ops per second over `duration_s`.
    pub throughput_ok_per_s: f64,
    pub availability_in_faults: Availability,
    pub availability_outside_faults: Availability,
    pub unavailability: Vec<Unavailability>,
    pub unavailability_summary: UnavailabilitySummary,
    /// By the `node` field of completions.
    pub nodes: BTreeMap<String, NodeShare>,
    pub nemesis_events: usize,
    pub bucket_s: f64,
    pub series: Vec<Bucket>,
}

impl RunMetrics {
    /// Computes the metrics. `faults` are the applied fault windows (see [`FaultSpan`]).
    pub fn from_events(events: &[Event], faults: &[FaultSpan]) -> RunMetrics {
        let ops = pair(events);
        let end_ns = events.iter().map(|e| e.time).max().unwrap_or(0);
        let client_ns = events
            .iter()
            .filter(|e| matches!(e.process, Process::Client(_)))
            .map(|e| e.time);
        let first = client_ns.clone().min().unwrap_or(0);
        let last = client_ns.max().unwrap_or(0);
        let duration_s = (last - first) as f64 / NS;

        let mut totals = OutcomeCounts::default();
        let mut by_f: BTreeMap<String, OutcomeCounts> = BTreeMap::new();
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        let (mut fail_codes, mut info_codes) = (BTreeMap::new(), BTreeMap::new());
        for op in &ops {
            totals.add(op.outcome);
            let codes = match op.outcome {
                Some(EventType::Fail) => Some(&mut fail_codes),
                Some(EventType::Info) => Some(&mut info_codes),
                _ => None,
            };
            if let Some(codes) = codes {
                *codes.entry(crate::codes::code(op.error)).or_insert(0) += 1;
            }
            by_f.entry(op.f.to_string()).or_default().add(op.outcome);
            match op.latency_ms() {
                Some(ms) if op.is_ok() && op.is_read() => reads.push(ms),
                Some(ms) if op.is_ok() && op.is_write() => writes.push(ms),
                _ => {}
            }
        }
        let throughput_ok_per_s = if duration_s > 0.0 {
            totals.ok as f64 / duration_s
        } else {
            0.0
        };
        let (availability_in_faults, availability_outside_faults) = availability(&ops, faults);
        let unavailability = unavailability(&ops, faults);
        let (bucket_s, series) = series(&ops, end_ns);
        RunMetrics {
            duration_s,
            end_s: end_ns as f64 / NS,
            totals,
            by_f,
            fail_codes,
            info_codes,
            read_latency: LatencyStats::from_samples(&mut reads),
            write_latency: LatencyStats::from_samples(&mut writes),
            throughput_ok_per_s,
            availability_in_faults,
            availability_outside_faults,
            unavailability_summary: summarize(&unavailability),
            unavailability,
            nodes: node_shares(&ops),
            // Fault events only: the `/status` samples are observations, not faults.
            nemesis_events: events
                .iter()
                .filter(|e| matches!(&e.process, Process::Named(n) if n == "nemesis"))
                .count(),
            bucket_s,
            series,
        }
    }
}

/// `561 fail: 330 unavailable, 231 cas_failed`: a count and its split by code, largest first.
fn split_words(n: usize, word: &str, codes: &BTreeMap<String, usize>) -> String {
    let mut by: Vec<(&String, &usize)> = codes.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = by.iter().map(|(c, k)| format!("{k} {c}")).collect();
    if parts.is_empty() {
        format!("{n} {word}")
    } else {
        format!("{n} {word}: {}", parts.join(", "))
    }
}

impl RunMetrics {
    /// Client op outcomes in words, `fail` and `info` split by code:
    /// `641 ok, 561 fail: 330 unavailable, 231 cas_failed, 0 info`.
    pub fn outcome_words(&self) -> String {
        let t = &self.totals;
        let mut s = format!(
            "{} ok, {}, {}",
            t.ok,
            split_words(t.fail, "fail", &self.fail_codes),
            split_words(t.info, "info", &self.info_codes)
        );
        if t.open > 0 {
            s.push_str(&format!(", {} open", t.open));
        }
        s
    }
}

fn availability(ops: &[ClientOp], faults: &[FaultSpan]) -> (Availability, Availability) {
    // [ops, ok, served] inside and outside the fault windows.
    let (mut inside, mut outside) = ([0; 3], [0; 3]);
    for op in ops {
        let t = op.invoke_ns as f64 / NS;
        let c = if faults.iter().any(|f| f.contains(t)) {
            &mut inside
        } else {
            &mut outside
        };
        c[0] += 1;
        c[1] += op.is_ok() as usize;
        c[2] += op.is_served() as usize;
    }
    (
        Availability::from_counts(inside[0], inside[1], inside[2]),
        Availability::from_counts(outside[0], outside[1], outside[2]),
    )
}

fn unavailability(ops: &[ClientOp], faults: &[FaultSpan]) -> Vec<Unavailability> {
    faults
        .iter()
        .filter(|f| is_leader_fault(&f.kind))
        .map(|f| {
            let start_ns = (f.start_s.max(0.0) * NS) as u64;
            // The first completion among ok ops invoked after the start: when service was seen again.
            let first_ok = |want: fn(&ClientOp) -> bool| {
                ops.iter()
                    .filter(|o| o.is_ok() && want(o) && o.invoke_ns >= start_ns)
                    .filter_map(|o| o.complete_ns)
                    .min()
                    .map(|c| c.saturating_sub(start_ns) as f64 / NS)
            };
            Unavailability {
                kind: f.kind.clone(),
                start_s: f.start_s,
                targets: f.targets.clone(),
                write_s: first_ok(|o| o.is_write()),
                read_s: first_ok(|o| o.is_read()),
            }
        })
        .collect()
}

fn summarize(u: &[Unavailability]) -> UnavailabilitySummary {
    let stats = |get: fn(&Unavailability) -> Option<f64>| {
        let mut v: Vec<f64> = u.iter().filter_map(get).collect();
        v.sort_by(f64::total_cmp);
        (percentile(&v, 50.0), v.last().copied())
    };
    let (write_median_s, write_max_s) = stats(|u| u.write_s);
    let (read_median_s, read_max_s) = stats(|u| u.read_s);
    UnavailabilitySummary {
        faults: u.len(),
        write_median_s,
        write_max_s,
        read_median_s,
        read_max_s,
    }
}

fn node_shares(ops: &[ClientOp]) -> BTreeMap<String, NodeShare> {
    let mut nodes: BTreeMap<String, NodeShare> = BTreeMap::new();
    for op in ops {
        if let Some(n) = op.node {
            let s = nodes.entry(n.to_string()).or_default();
            s.requests += 1;
            s.ok += op.is_ok() as usize;
        }
    }
    let total: usize = nodes.values().map(|s| s.requests).sum();
    for s in nodes.values_mut() {
        s.share = s.requests as f64 / total as f64;
    }
    nodes
}

fn series(ops: &[ClientOp], end_ns: u64) -> (f64, Vec<Bucket>) {
    if ops.is_empty() {
        return (1.0, Vec::new());
    }
    let width_s = (end_ns / NS as u64 / MAX_BUCKETS + 1).max(1);
    let width = width_s * NS as u64;
    let n = (end_ns / width + 1) as usize;
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            t_s: (i as u64 * width_s) as f64,
            ..Bucket::default()
        })
        .collect();
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); n];
    for op in ops {
        if let Some(c) = op.complete_ns {
            let b = &mut buckets[((c / width) as usize).min(n - 1)];
            match op.outcome {
                Some(EventType::Ok) => b.ok += 1,
                Some(EventType::Fail) => b.fail += 1,
                _ => b.info += 1,
            }
        }
        if let (true, Some(ms)) = (op.is_ok(), op.latency_ms()) {
            lat[((op.invoke_ns / width) as usize).min(n - 1)].push(ms);
        }
    }
    for (b, l) in buckets.iter_mut().zip(&mut lat) {
        b.ok_per_s = b.ok as f64 / width_s as f64;
        l.sort_by(f64::total_cmp);
        b.p50_ms = percentile(l, 50.0);
        b.p99_ms = percentile(l, 99.0);
    }
    (width_s as f64, buckets)
}

#[cfg(test)]
mod tests;
