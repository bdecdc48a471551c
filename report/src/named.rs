//! The ops a checker explanation names. The checker records them in the counterexample's sentence
//! ([`checker::Sentence`]: each op by its history index, with its role), so they are read from there.
//! Older results.json have no sentence: for them the English is matched instead. The checker words every
//! op it names as `<op> by process <p>` ([`checker::explain::describe_op`]), usually followed by a time
//! (`at 1.23 s`, `began at`, `completed at`); a served-by note this crate inserted after a mention is
//! skipped.

use checker::explain::describe_op;
use checker::{Counterexample, History, Op, Sentence};
use std::collections::HashMap;

/// One op named in an explanation: where its mention ends in the text (just after `by process <p>`),
/// and the op (an index into `History::ops`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention {
    pub end: usize,
    pub op: usize,
}

/// The words an explanation uses for `op`.
pub fn words(op: &Op) -> String {
    format!("{} by process {}", describe_op(op), op.process)
}

/// The explanation's words without the notes a report adds, and the ops they name, in order: from the
/// counterexample's sentence when it has one, else found in its explanation's English.
pub fn named(cx: &Counterexample, history: &History) -> (String, Vec<Mention>) {
    match &cx.sentence {
        Some(s) => (s.render(), from_sentence(s, history, cx.key.as_deref())),
        None => {
            let found = mentions(
                &cx.explanation,
                history,
                cx.key.as_deref(),
                cx.op.invoke_time_ns,
            );
            (cx.explanation.clone(), found)
        }
    }
}

/// The ops a sentence names, found by their history index (the one whose words match, should two ops
/// share an index), with where each mention ends in the rendered sentence.
fn from_sentence(s: &Sentence, history: &History, key: Option<&str>) -> Vec<Mention> {
    let wanted: Vec<u64> = s.ops().map(|(i, _)| i).collect();
    let mut by_index: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, o) in history.ops.iter().enumerate() {
        if wanted.contains(&o.invoke_index) && (key.is_none() || o.key.as_deref() == key) {
            by_index.entry(o.invoke_index).or_default().push(i);
        }
    }
    let mut found = Vec::new();
    let mut end = 0;
    for part in &s.parts {
        end += part.text.len();
        let Some(ops) = part.op.and_then(|i| by_index.get(&i)) else {
            continue;
        };
        let pick = ops
            .iter()
            .find(|&&i| words(&history.ops[i]) == part.text)
            .or(ops.first());
        if let Some(&op) = pick {
            found.push(Mention { end, op });
        }
    }
    found
}

/// Every op of `key` (all ops when `None`) that `text` names, in the order of the text. An op named
/// twice is listed twice. `near_ns` breaks ties between ops with the same words (the anomaly's time).
pub fn mentions(text: &str, history: &History, key: Option<&str>, near_ns: u64) -> Vec<Mention> {
    // Only the processes the text names are looked at, so this stays linear in the history.
    let mut by_process: HashMap<u64, Vec<usize>> = HashMap::new();
    const BY: &str = " by process ";
    let named: Vec<(usize, u64)> = text
        .match_indices(BY)
        .filter_map(|(at, _)| {
            let digits = text[at + BY.len()..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let end = at + BY.len() + digits;
            let p = text[at + BY.len()..end].parse().ok()?;
            // `by process 1` must not match inside `by process 1x`.
            (!text[end..].starts_with(|c: char| c.is_ascii_alphanumeric())).then_some((end, p))
        })
        .collect();
    for (i, o) in history.ops.iter().enumerate() {
        if named.iter().any(|(_, p)| *p == o.process) && (key.is_none() || o.key.as_deref() == key)
        {
            by_process.entry(o.process).or_default().push(i);
        }
    }
    let mut found = Vec::new();
    for (end, p) in named {
        let Some(ops) = by_process.get(&p) else {
            continue;
        };
        let same: Vec<(usize, &Op)> = ops
            .iter()
            .map(|&i| (i, &history.ops[i]))
            .filter(|(_, o)| text[..end].ends_with(&words(o)))
            .collect();
        let pick = match time_after(&text[end..]) {
            Some((invoked, t)) => same
                .iter()
                .find(|(_, o)| {
                    let ns = if invoked {
                        o.invoke_time_ns
                    } else {
                        o.complete_time_ns
                    };
                    ns.is_some_and(|ns| format!("{:.2}", ns as f64 / 1e9) == t)
                })
                .copied()
                .or_else(|| nearest(&same, near_ns)),
            None => nearest(&same, near_ns),
        };
        if let Some((i, _)) = pick {
            found.push(Mention { end, op: i });
        }
    }
    found
}

fn nearest<'a>(same: &[(usize, &'a Op)], near_ns: u64) -> Option<(usize, &'a Op)> {
    same.iter()
        .min_by_key(|(_, o)| o.invoke_time_ns.unwrap_or(0).abs_diff(near_ns))
        .copied()
}

/// The length of a served-by note at the start of `rest` (` (served by ...)`, ` (sent to ...)`), or 0.
pub fn note_len(rest: &str) -> usize {
    if !(rest.starts_with(" (served by ") || rest.starts_with(" (sent to ")) {
        return 0;
    }
    rest.find(')').map_or(0, |i| i + 1)
}

/// The time that follows a mention: `(true, "1.23")` for `at 1.23 s` or `began at 1.23 s` (an
/// invocation), `(false, ..)` for `completed at`.
fn time_after(rest: &str) -> Option<(bool, &str)> {
    let rest = &rest[note_len(rest)..];
    let rest = rest.strip_prefix(')').unwrap_or(rest);
    let (invoked, rest) = if let Some(r) = rest
        .strip_prefix(" completed at ")
        .or_else(|| rest.strip_prefix(" had completed at "))
    {
        (false, r)
    } else if let Some(r) = rest.strip_prefix(" began at ") {
        (true, r)
    } else {
        (true, rest.strip_prefix(" at ")?)
    };
    let n = rest.find(" s")?;
    let t = &rest[..n];
    t.chars()
        .all(|c| c.is_ascii_digit() || c == '.')
        .then_some((invoked, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::{Event, EventType, Process};
    use serde_json::{json, Value};

    fn ev(ms: u64, p: u64, kind: EventType, f: &str, v: Value) -> Event {
        Event {
            index: 0,
            time: ms * 1_000_000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: Some("r".into()),
            value: v,
            node: Some("n1".into()),
            error: None,
            session: None,
        }
    }

    pub(crate) fn history() -> History {
        use EventType::*;
        let mut e = vec![
            ev(100, 1, Invoke, "write", json!(7)),
            ev(110, 1, Ok, "write", json!(7)),
            ev(500, 12, Invoke, "write", json!(9)),
            ev(530, 12, Ok, "write", json!(9)),
            ev(540, 2, Invoke, "read", Value::Null),
            ev(545, 2, Ok, "read", json!(7)),
            ev(900, 2, Invoke, "read", Value::Null),
            ev(905, 2, Ok, "read", json!(9)),
        ];
        for (i, x) in e.iter_mut().enumerate() {
            x.index = i as u64;
        }
        checker::parse_events(&e).unwrap()
    }

    #[test]
    fn finds_each_named_op_by_words_and_time() {
        let h = history();
        let text = "key r: read of r by process 2 at 0.54 s returned 7, but write 9 to r by process 12 \
                    completed at 0.53 s before that began, and write 7 to r by process 1 had completed at 0.11 s.";
        let m = mentions(text, &h, Some("r"), 540_000_000);
        let ops: Vec<(u64, &str)> = m
            .iter()
            .map(|m| (h.ops[m.op].process, h.ops[m.op].f.as_str()))
            .collect();
        assert_eq!(ops, vec![(2, "read"), (12, "write"), (1, "write")]);
        // The read at 0.54 s, not the one at 0.90 s with the same words.
        assert_eq!(h.ops[m[0].op].invoke_time_ns, Some(540_000_000));
        // A served-by note between the mention and its time does not hide the time.
        let noted =
            "read of r by process 2 (served by n1, the leader in term 2) at 0.90 s returned 9.";
        let m = mentions(noted, &h, Some("r"), 0);
        assert_eq!(h.ops[m[0].op].invoke_time_ns, Some(900_000_000));
        assert!(mentions("nothing named here", &h, Some("r"), 0).is_empty());
    }

    /// A counterexample's sentence names its ops by history index; the English of older results.json
    /// finds the same ones.
    #[test]
    fn the_sentence_names_the_ops_and_older_english_still_finds_them() {
        let h = history();
        let r = checker::check(
            &h,
            checker::ModelKind::Register,
            &checker::CheckOptions::default(),
        );
        let mut cx = r.counterexample.expect("a stale read");
        let (text, from_data) = named(&cx, &h);
        assert_eq!(text, cx.explanation);
        let ops: Vec<u64> = from_data.iter().map(|m| h.ops[m.op].process).collect();
        assert_eq!(ops, vec![2, 12, 1], "{text}");
        for m in &from_data {
            assert!(text[..m.end].ends_with(&words(&h.ops[m.op])), "{text}");
        }
        cx.sentence = None;
        assert_eq!(named(&cx, &h).1, from_data, "the English fallback agrees");
    }
}
