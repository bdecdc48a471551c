use super::*;
use checker::EventType::{self, Fail, Info, Invoke, Ok};
use serde_json::{json, Value};

/// A small history builder: times in ms, indexes in order.
#[derive(Default)]
struct H(Vec<Event>);

impl H {
    fn push(&mut self, ms: f64, p: u64, kind: EventType, f: &str, v: Value, node: Option<&str>) {
        self.0.push(Event {
            index: self.0.len() as u64,
            time: (ms * 1e6) as u64,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: None,
            value: v,
            node: node.map(str::to_string),
            error: None,
            session: None,
        });
    }
    /// One complete op (events appended in order; fine while ops do not overlap in the builder).
    fn op(mut self, p: u64, f: &str, from_ms: f64, to_ms: f64, kind: EventType) -> Self {
        self.push(from_ms, p, Invoke, f, json!(null), None);
        self.push(to_ms, p, kind, f, json!(1), Some("n1"));
        self
    }
    fn events(mut self) -> Vec<Event> {
        self.0.sort_by_key(|e| e.time);
        self.0
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), Some(50.0));
    assert_eq!(percentile(&v, 99.0), Some(99.0));
    assert_eq!(percentile(&v, 100.0), Some(100.0));
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
    assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn latency_counts_and_throughput() {
    let mut h = H::default();
    for i in 0..10 {
        // Reads of 10, 20, ... 100 ms, one after another on process 0.
        let t = i as f64 * 200.0;
        h = h.op(0, "read", t, t + 10.0 * (i + 1) as f64, Ok);
    }
    let h = h
        .op(1, "write", 0.0, 5.0, Ok)
        .op(1, "cas", 10.0, 25.0, Ok)
        .op(1, "cas", 30.0, 1000.0, Fail)
        .op(1, "write", 1000.0, 1900.0, Info);
    let m = RunMetrics::from_events(&h.events(), &[]);
    let r = m.read_latency.unwrap();
    assert_eq!(
        (r.count, r.p50_ms, r.p99_ms, r.max_ms),
        (10, 50.0, 100.0, 100.0)
    );
    let w = m.write_latency.unwrap();
    assert_eq!((w.count, w.p50_ms, w.max_ms), (2, 5.0, 15.0));
    assert_eq!(m.by_f["read"].ok, 10);
    assert_eq!(
        m.by_f["cas"],
        OutcomeCounts {
            ok: 1,
            fail: 1,
            info: 0,
            open: 0
        }
    );
    assert_eq!(m.by_f["write"].info, 1);
    assert_eq!(m.totals.total(), 14);
    // First invoke at 0, last event at 1900 ms: 12 ok ops over 1.9 s.
    assert!((m.duration_s - 1.9).abs() < 1e-9);
    assert!((m.throughput_ok_per_s - 12.0 / 1.9).abs() < 1e-9);
}

#[test]
fn availability_inside_and_outside_faults() {
    let h = H::default()
        .op(0, "read", 500.0, 510.0, Ok) // outside
        .op(1, "read", 1200.0, 1210.0, Ok) // inside
        .op(2, "write", 1500.0, 2500.0, Info) // inside
        .op(3, "write", 2100.0, 2200.0, Fail) // outside (window is [1 s, 2 s))
        .op(4, "read", 3500.0, 3600.0, Ok); // inside the open fault from 3 s
    let mut ev = h.events();
    ev.push(Event {
        index: 99,
        time: 1_800_000_000,
        process: Process::Client(5),
        kind: Invoke,
        f: "read".into(),
        key: None,
        value: Value::Null,
        node: None,
        error: None,
        session: None,
    }); // open op, inside
    let faults = [
        FaultSpan::new("partition-halves", 1.0, Some(2.0), ["n1", "n2"]),
        FaultSpan::new("kill-random", 3.0, None, ["n3"]),
    ];
    let m = RunMetrics::from_events(&ev, &faults);
    assert_eq!(
        (m.availability_in_faults.ops, m.availability_in_faults.ok),
        (4, 2)
    );
    assert!(close(m.availability_in_faults.ratio, 0.5));
    assert_eq!(
        (
            m.availability_outside_faults.ops,
            m.availability_outside_faults.ok
        ),
        (2, 1)
    );
    assert_eq!(m.totals.open, 1);
    // No leader faults here.
    assert!(m.unavailability.is_empty());
    assert_eq!(m.unavailability_summary.faults, 0);
}

#[test]
fn unavailability_after_leader_faults() {
    let h = H::default()
        .op(0, "read", 900.0, 1500.0, Ok) // invoked before the fault: does not count
        .op(1, "write", 1100.0, 1150.0, Fail)
        .op(2, "write", 1200.0, 2500.0, Ok)
        .op(3, "cas", 1300.0, 2000.0, Ok) // first ok write completion: 1.0 s after the start
        .op(4, "read", 1400.0, 1600.0, Ok) // first ok read: 0.6 s
        .op(5, "write", 5500.0, 8000.0, Ok); // after the second fault: 3.0 s, no read
    let faults = [
        FaultSpan::new("partition-leader", 1.0, Some(3.0), ["n1"]),
        FaultSpan::new("partition-follower", 4.0, Some(4.5), ["n2"]),
        FaultSpan::new("kill-leader", 5.0, Some(6.0), ["n2"]),
    ];
    let m = RunMetrics::from_events(&h.events(), &faults);
    assert_eq!(m.unavailability.len(), 2);
    let u = &m.unavailability[0];
    assert_eq!(u.kind, "partition-leader");
    assert!(close(u.write_s, 1.0));
    assert!(close(u.read_s, 0.6));
    assert!(close(m.unavailability[1].write_s, 3.0));
    assert_eq!(m.unavailability[1].read_s, None);
    let s = m.unavailability_summary;
    assert_eq!(s.faults, 2);
    assert!(close(s.write_median_s, 1.0)); // nearest rank of [1, 3]
    assert!(close(s.write_max_s, 3.0));
    assert!(close(s.read_median_s, 0.6));
    assert!(close(s.read_max_s, 0.6));
}

#[test]
fn node_share_and_series() {
    let mut h = H::default();
    h.push(0.0, 0, Invoke, "read", json!(null), None);
    h.push(100.0, 0, Ok, "read", json!(3), Some("n1"));
    h.push(200.0, 0, Invoke, "write", json!(4), None);
    h.push(1300.0, 0, Ok, "write", json!(4), Some("n2"));
    h.push(1400.0, 0, Invoke, "write", json!(5), None);
    h.push(1500.0, 0, Fail, "write", json!(5), Some("n2"));
    h.push(1600.0, 0, Invoke, "read", json!(null), None);
    h.push(2600.0, 0, Info, "read", json!(null), None); // no node: not in the shares
    let m = RunMetrics::from_events(&h.events(), &[]);
    assert_eq!(m.nodes.len(), 2);
    assert_eq!(m.nodes["n1"].requests, 1);
    assert_eq!((m.nodes["n2"].requests, m.nodes["n2"].ok), (2, 1));
    assert!((m.nodes["n2"].share - 2.0 / 3.0).abs() < 1e-9);

    assert_eq!(m.bucket_s, 1.0);
    assert_eq!(m.series.len(), 3);
    let b = &m.series;
    assert_eq!((b[0].ok, b[0].fail, b[0].info), (1, 0, 0));
    assert_eq!((b[1].ok, b[1].fail, b[1].info), (1, 1, 0));
    assert_eq!((b[2].ok, b[2].info), (0, 1));
    // Latency by invoke time: the 1.1 s write was invoked in bucket 0.
    assert_eq!(b[0].p50_ms, Some(100.0));
    assert_eq!(b[0].p99_ms, Some(1100.0));
    assert_eq!(b[1].p50_ms, None);
    assert_eq!(b[1].ok_per_s, 1.0);
}

#[test]
fn empty_and_odd_histories_do_not_panic() {
    let m = RunMetrics::from_events(&[], &[FaultSpan::new("kill-leader", 1.0, None, ["n1"])]);
    assert_eq!(m.totals.total(), 0);
    assert!(m.series.is_empty());
    assert_eq!(m.read_latency, None);
    assert_eq!(m.availability_in_faults.ratio, None);
    assert_eq!(m.unavailability[0].write_s, None);
    assert_eq!(m.throughput_ok_per_s, 0.0);

    // Nemesis events only, a completion without an invoke, open ops, a completion before its invoke time.
    let ev: Vec<Event> = [
        r#"{"index":0,"time":5,"process":"nemesis","type":"info","f":"start-partition","value":{"isolated":["n1"]}}"#,
        r#"{"index":1,"time":10,"process":1,"type":"ok","f":"read","value":3}"#,
        r#"{"index":2,"time":20,"process":2,"type":"invoke","f":"read","value":null}"#,
        r#"{"index":3,"time":30,"process":3,"type":"invoke","f":"write","value":1}"#,
        r#"{"index":4,"time":25,"process":3,"type":"ok","f":"write","value":1,"node":"n1"}"#,
        r#"{"index":5,"time":40,"process":2,"type":"invoke","f":"read","value":null}"#,
    ]
    .iter()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let m = RunMetrics::from_events(&ev, &[]);
    assert_eq!(m.nemesis_events, 1);
    assert_eq!(
        m.totals,
        OutcomeCounts {
            ok: 1,
            fail: 0,
            info: 0,
            open: 2
        }
    );
    assert_eq!(m.write_latency.unwrap().max_ms, 0.0);
    let json = serde_json::to_string(&m).unwrap();
    let back: RunMetrics = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn huge_times_widen_buckets() {
    let h = H::default().op(0, "read", 0.0, 1e9, Ok); // a completion 1e6 s in
    let m = RunMetrics::from_events(&h.events(), &[]);
    assert!(m.series.len() as u64 <= MAX_BUCKETS + 1);
    assert!(m.bucket_s > 1.0);
}

#[test]
fn fail_codes_and_served_availability() {
    let mut h = H::default();
    let errors = [
        (Fail, "cas_failed: value is 2"),
        (Fail, "cas_failed: value is 3"),
        (Fail, "unavailable: no leader"),
        (Fail, "not_leader: leader is n2"),
        (Fail, "could not connect: refused"),
        (Info, "timeout: no answer in time"),
    ];
    for (i, (kind, err)) in errors.iter().enumerate() {
        let t = 1000.0 + i as f64 * 10.0;
        h.push(t, i as u64, Invoke, "cas", json!([1, 2]), None);
        h.push(t + 5.0, i as u64, *kind, "cas", json!([1, 2]), Some("n1"));
        h.0.last_mut().unwrap().error = Some(err.to_string());
    }
    let h = h.op(9, "read", 1100.0, 1105.0, Ok);
    let faults = [FaultSpan::new("partition-leader", 0.5, Some(2.0), ["n1"])];
    let m = RunMetrics::from_events(&h.events(), &faults);
    assert_eq!(m.fail_codes["cas_failed"], 2);
    assert_eq!(m.fail_codes["unavailable"], 1);
    assert_eq!(m.fail_codes["refused"], 1);
    assert_eq!(m.info_codes["timeout"], 1);
    // Served: the ok read and both correct cas refusals; not: unavailable, not_leader, refused, timeout.
    let a = m.availability_in_faults;
    assert_eq!((a.ops, a.ok, a.served), (7, 1, 3));
    assert!(close(a.ratio, 3.0 / 7.0));
    assert_eq!(
        m.outcome_words(),
        "1 ok, 5 fail: 2 cas_failed, 1 not_leader, 1 refused, 1 unavailable, 1 info: 1 timeout"
    );
}
