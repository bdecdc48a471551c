//! The "First anomaly" view of a stale read that missed a write long after the value it returned was
//! written: the read, both writes the explanation names, and the ops concurrent with them are drawn on a
//! broken time axis, each labelled with its node's role and term from the `/status` samples; the
//! explanation says who served each op. With Chromium, a screenshot goes to
//! `target/test-output/report/anomaly-view.png`.

mod common;

use checker::{CheckOptions, Event, EventType, ModelKind, Process, Validity};
use report::{browser, render, write_report, ReportInput};
use serde_json::{json, Value};

fn op(ms: u64, p: u64, kind: EventType, f: &str, v: Value, node: &str) -> Event {
    Event {
        index: 0,
        time: ms * 1_000_000,
        process: Process::Client(p),
        kind,
        f: f.into(),
        key: Some("r".into()),
        value: v,
        node: (kind != EventType::Invoke).then(|| node.to_string()),
        error: None,
        session: None,
    }
}

/// n1 leads term 1 throughout; n2 is cut off from 1.5 s but still believes in n1; reads on n2 are local.
fn history() -> Vec<Event> {
    use EventType::*;
    let mut ev: Vec<Event> = (0..=35)
        .map(|i| Event {
            time: i * 100_000_000 + 3_000_000,
            ..Event::named(
                "status",
                "status",
                json!({
                    "n1": {"role": "leader", "term": 1, "leader": "n1"},
                    "n2": {"role": "follower", "term": 1, "leader": "n1"},
                    "n3": {"role": "follower", "term": 1, "leader": "n1"},
                }),
            )
        })
        .collect();
    ev.extend([
        op(1000, 0, Invoke, "write", json!(7), "n1"),
        op(1005, 1, Invoke, "read", Value::Null, "n3"),
        op(1010, 0, Ok, "write", json!(7), "n1"),
        op(1012, 1, Ok, "read", json!(7), "n3"),
        op(3000, 0, Invoke, "write", json!(9), "n1"),
        op(3004, 1, Invoke, "read", Value::Null, "n1"),
        op(3008, 1, Ok, "read", json!(9), "n1"),
        op(3012, 0, Ok, "write", json!(9), "n1"),
        op(3020, 2, Invoke, "read", Value::Null, "n2"),
        op(3024, 2, Ok, "read", json!(7), "n2"),
    ]);
    ev.sort_by_key(|e| e.time);
    for (i, e) in ev.iter_mut().enumerate() {
        e.index = i as u64;
    }
    ev
}

#[test]
fn the_stale_read_and_the_writes_it_contradicts_are_drawn_with_their_nodes() {
    let events = history();
    let h = checker::parse_events(&events).unwrap();
    let mut result = checker::check(&h, ModelKind::CasRegister, &CheckOptions::default());
    assert_eq!(result.valid, Validity::Invalid, "{}", result.explanation);
    report::roles::enrich(&mut result, &events, &h);
    let why = result.explanation.clone();
    assert!(
        why.contains(
            "read of r by process 2 (served by n2, a follower in term 1 whose leader was n1)"
        ),
        "{why}"
    );
    assert!(
        why.contains("write 9 to r by process 0 (served by n1, the leader in term 1)"),
        "{why}"
    );
    let faults = vec![report::FaultSpan::new(
        "partition-follower",
        1.5,
        Some(4.0),
        ["n2"],
    )];
    let mut input = ReportInput::new("stale read on a cut-off follower", &events, faults);
    input.check = Some(result);
    let html = render(&input);
    let section = &html[html.find(r#"id="anomaly-section""#).unwrap()..];
    let svg = &section[..section.find("</svg>").unwrap()];
    // Two stretches: 1.00–1.01 s and 3.00–3.02 s, with the two seconds between cut out.
    assert_eq!(svg.matches(r#"class="axis-break""#).count(), 1, "{svg}");
    let ops: Vec<&str> = svg.split(r#"<g class="op "#).skip(1).collect();
    let find = |class: &str, label: &str| {
        ops.iter()
            .find(|g| g.starts_with(class) && g.contains(&format!(">{label}<")))
            .unwrap_or_else(|| panic!("no {class} op {label} in {svg}"))
    };
    assert!(find("anomaly", "read → 7").contains(">n2 · follower t1<"));
    assert!(find("named", "write 9").contains(">n1 · leader t1<"));
    assert!(find("named", "write 7").contains(">n1 · leader t1<"));
    assert!(find("concurrent", "read → 9").contains(">n1 · leader t1<"));
    assert!(find("concurrent", "read → 7").contains(">n3 · follower t1<"));
    assert_eq!(
        ops.len(),
        5,
        "only the named ops and those concurrent with them"
    );
    // A row per node under the lanes: its role and term over time.
    assert_eq!(svg.matches(r#"class="lane node-row""#).count(), 3, "{svg}");
    assert!(svg.contains(r#"<text class="role follower""#) && svg.contains(">follower t1<"));
    assert!(svg.contains(r#"<text class="role leader""#) && svg.contains(">leader t1<"));
    assert!(
        section.contains("a follower in term 1 whose leader was n1"),
        "the table says it too"
    );

    let Some(bin) = browser::chromium() else {
        eprintln!("no Chromium: the screenshot is skipped (install the Debian package `chromium`)");
        return;
    };
    let dir = common::output_dir().join("anomaly-view");
    let page = write_report(&dir, &input).unwrap();
    let dom = browser::dump_dom(&bin, &page).unwrap();
    assert!(dom.contains(r#"class="axis-break""#) && dom.contains("n2 · follower t1"));
    let shot = common::output_dir().join("anomaly-view.png");
    browser::screenshot(&bin, &page, &shot, 1300, 1700).unwrap();
    eprintln!("screenshot {}", shot.display());
}
