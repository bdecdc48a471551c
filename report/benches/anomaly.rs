//! `cargo bench -p report --bench anomaly`: the cost the anomaly view adds to a large run: reading the
//! `/status` samples and enriching the explanation, and rendering the whole report.html, on a generated
//! 100k-op history with a planted stale read and a sample of three nodes every 100 ms.

#[path = "../tests/common/mod.rs"]
mod common;

use checker::{CheckOptions, Event, ModelKind, Validity};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

fn with_samples(mut events: Vec<Event>) -> Vec<Event> {
    let end = events.iter().map(|e| e.time).max().unwrap_or(0);
    let samples = (0..end / 100_000_000).map(|i| Event {
        time: i * 100_000_000 + 1,
        ..Event::named(
            "status",
            "status",
            json!({
                "n1": {"role": "leader", "term": 1 + i / 300, "leader": "n1"},
                "n2": {"role": "follower", "term": 1 + i / 300, "leader": "n1"},
                "n3": {"role": "follower", "term": 1 + i / 300, "leader": "n1"},
            }),
        )
    });
    events.extend(samples);
    events.sort_by_key(|e| e.time);
    for (i, e) in events.iter_mut().enumerate() {
        e.index = i as u64;
    }
    events
}

fn anomaly_view(c: &mut Criterion) {
    let g = common::generate(100_000, 120.0, 7, true);
    let events = with_samples(g.events);
    let history = checker::parse_events(&events).unwrap();
    let checked = checker::check(&history, ModelKind::CasRegister, &CheckOptions::default());
    assert_eq!(checked.valid, Validity::Invalid);
    let mut enriched = checked.clone();
    report::roles::enrich(&mut enriched, &events, &history);
    assert!(
        enriched.explanation.contains("(served by n"),
        "{}",
        enriched.explanation
    );

    let mut group = c.benchmark_group("anomaly-100k");
    group.sample_size(10);
    group.bench_function("enrich", |b| {
        b.iter(|| {
            let mut r = checked.clone();
            report::roles::enrich(&mut r, &events, &history);
            r
        })
    });
    let mut input = report::ReportInput::new("bench", &events, g.faults.clone());
    input.check = Some(enriched);
    group.bench_function("render report.html", |b| b.iter(|| report::render(&input)));
    group.finish();
}

criterion_group!(benches, anomaly_view);
criterion_main!(benches);
