//! Reading histories (our JSONL, Jepsen EDN) and pairing invocations with completions per process.

use crate::edn;
use crate::history::{Event, EventType, Process};
use crate::ops::{Format, History, Op, Outcome};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where in the input a problem is: a line of a file, or an event handed over in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Line(usize),
    /// 1-based position in the event slice.
    Event(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Event(n) => write!(f, "event #{n}"),
        }
    }
}

/// Why a history could not be read. Every variant about content names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the history is empty: it holds no events (a run that never started, or the wrong file?)"
    )]
    Empty,
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: {message}")]
    BadEvent { at: Location, message: String },
    #[error("{at}: process {process} completes an operation ({f}) it never invoked")]
    CompletionWithoutInvoke {
        at: Location,
        process: u64,
        f: String,
    },
    #[error("{at}: process {process} invokes {f} while its {open_f} invoked at {open_at} is still open (a process runs one operation at a time)")]
    DoubleInvoke {
        at: Location,
        process: u64,
        f: String,
        open_f: String,
        open_at: Location,
    },
    #[error("{at}: process {process} completes {f}, but its open operation (invoked at {open_at}) is {open_f}")]
    Mismatch {
        at: Location,
        process: u64,
        f: String,
        open_f: String,
        open_at: Location,
    },
    #[error("{at}: {message}")]
    UnsupportedOp { at: Location, message: String },
}

impl ParseError {
    /// The location the error refers to, if it is about content.
    pub fn location(&self) -> Option<Location> {
        match self {
            ParseError::Io { .. } | ParseError::Empty => None,
            ParseError::Syntax { at, .. }
            | ParseError::BadEvent { at, .. }
            | ParseError::CompletionWithoutInvoke { at, .. }
            | ParseError::DoubleInvoke { at, .. }
            | ParseError::Mismatch { at, .. }
            | ParseError::UnsupportedOp { at, .. } => Some(*at),
        }
    }
}

/// Reads a history file, detecting the format from its first character: `{"` is JSONL, `{:` or `[` EDN.
pub fn load_history(path: &Path) -> Result<History, ParseError> {
    let text = std::fs::read_to_string(path).map_err(|source| ParseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text)
}

/// Parses history text in either format.
pub fn parse_str(text: &str) -> Result<History, ParseError> {
    let body = text.trim_start();
    if body.is_empty() {
        return Err(ParseError::Empty);
    }
    let is_json = body.starts_with('{') && body[1..].trim_start().starts_with('"');
    if is_json {
        parse_jsonl(text)
    } else {
        parse_edn(text)
    }
}

/// Parses our `history.jsonl`. A last line without a newline that does not parse is taken to be cut
/// short by a crash and is ignored (the history is marked `truncated_tail`).
pub fn parse_jsonl(text: &str) -> Result<History, ParseError> {
    let mut events = Vec::new();
    let mut truncated = false;
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(e) => events.push(RawEvent::from_event(e, Location::Line(i + 1))),
            Err(_)
                if i + 1 == lines.len()
                    && !ends_with_newline
                    && serde_json::from_str::<Value>(line).is_err() =>
            {
                truncated = true;
            }
            Err(e) => {
                let suffix = format!(" at line {} column {}", e.line(), e.column());
                let msg = e.to_string();
                let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
                return Err(ParseError::Syntax {
                    at: Location::Line(i + 1),
                    message: format!("not a history event ({msg}, column {})", e.column()),
                });
            }
        }
    }
    let mut h = pair(events, Format::Jsonl)?;
    h.truncated_tail = truncated;
    Ok(h)
}

/// Parses a Jepsen EDN history (one map per line, optionally inside `[...]`).
pub fn parse_edn(text: &str) -> Result<History, ParseError> {
    let forms = edn::read_forms(text).map_err(|e| ParseError::Syntax {
        at: Location::Line(e.line),
        message: e.message,
    })?;
    let events = forms
        .into_iter()
        .map(|(line, v)| RawEvent::from_edn(line, v))
        .collect::<Result<Vec<_>, _>>()?;
    pair(events, Format::Edn)
}

/// Pairs events recorded in memory (as the workloads record them) into a history.
pub fn parse_events(events: &[Event]) -> Result<History, ParseError> {
    let raw = events
        .iter()
        .enumerate()
        .map(|(i, e)| RawEvent::from_event(e.clone(), Location::Event(i + 1)))
        .collect();
    pair(raw, Format::Jsonl)
}

/// One event in a format-neutral shape.
struct RawEvent {
    at: Location,
    index: u64,
    time: Option<u64>,
    process: Process,
    kind: EventType,
    f: String,
    key: Option<String>,
    value: Value,
    node: Option<String>,
    error: Option<String>,
    session: Option<u64>,
}

impl RawEvent {
    fn from_event(e: Event, at: Location) -> Self {
        RawEvent {
            at,
            index: e.index,
            time: Some(e.time),
            process: e.process,
            kind: e.kind,
            f: e.f,
            key: e.key,
            value: e.value,
            node: e.node,
            error: e.error,
            session: e.session,
        }
    }

    fn from_edn(line: usize, v: Value) -> Result<Self, ParseError> {
        let at = Location::Line(line);
        let bad = |message: String| ParseError::BadEvent { at, message };
        let Value::Object(mut m) = v else {
            return Err(bad(format!(
                "expected a map like {{:process 0, :type :invoke, :f :read, :value nil}}, got {v}"
            )));
        };
        let process = match m.remove("process") {
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                Process::Client(n.as_u64().unwrap_or_default())
            }
            Some(Value::String(s)) => Process::Named(s),
            Some(other) => {
                return Err(bad(format!(
                    ":process must be a non-negative integer or a keyword, got {other}"
                )))
            }
            None => return Err(bad("missing :process".into())),
        };
        let kind = match m.remove("type") {
            Some(Value::String(s)) => match s.as_str() {
                "invoke" => EventType::Invoke,
                "ok" => EventType::Ok,
                "fail" => EventType::Fail,
                "info" => EventType::Info,
                _ => {
                    return Err(bad(format!(
                        "unknown :type :{s} (expected :invoke, :ok, :fail or :info)"
                    )))
                }
            },
            Some(other) => return Err(bad(format!(":type must be a keyword, got {other}"))),
            None => return Err(bad("missing :type".into())),
        };
        let f = match m.remove("f") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(bad(format!(":f must be a keyword, got {other}"))),
            None => return Err(bad("missing :f".into())),
        };
        let key = match m.remove("key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        };
        let time = m.get("time").and_then(Value::as_u64);
        let node = m.get("node").and_then(Value::as_str).map(str::to_string);
        let error = m.get("error").map(|e| {
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string())
        });
        let value = m.remove("value").unwrap_or(Value::Null);
        let session = m.get("session").and_then(Value::as_u64);
        Ok(RawEvent {
            at,
            index: line as u64,
            time,
            process,
            kind,
            f,
            key,
            value,
            node,
            error,
            session,
        })
    }
}

fn pair(events: Vec<RawEvent>, format: Format) -> Result<History, ParseError> {
    let from_file = events
        .first()
        .is_some_and(|e| matches!(e.at, Location::Line(_)));
    if events.is_empty() {
        return Err(ParseError::Empty);
    }
    let total = events.len();
    let mut ops: Vec<Op> = Vec::new();
    let mut failed = Vec::new();
    let mut at_of: Vec<Location> = Vec::new();
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    let mut named = 0;
    for (pos, e) in events.into_iter().enumerate() {
        let process = match e.process {
            Process::Client(p) => p,
            Process::Named(_) => {
                named += 1;
                continue;
            }
        };
        if e.f.is_empty() {
            return Err(ParseError::BadEvent {
                at: e.at,
                message: "empty `f`: every operation needs a name such as read or write".into(),
            });
        }
        match e.kind {
            EventType::Invoke => {
                if let Some(&i) = open.get(&process) {
                    return Err(ParseError::DoubleInvoke {
                        at: e.at,
                        process,
                        f: e.f,
                        open_f: ops[i].f.clone(),
                        open_at: at_of[i],
                    });
                }
                open.insert(process, ops.len());
                at_of.push(e.at);
                ops.push(Op {
                    process,
                    f: e.f,
                    key: e.key,
                    value: e.value,
                    output: Value::Null,
                    outcome: Outcome::Info,
                    invoke_pos: pos,
                    complete_pos: None,
                    invoke_index: e.index,
                    complete_index: None,
                    invoke_line: match e.at {
                        Location::Line(n) | Location::Event(n) => n,
                    },
                    invoke_time_ns: e.time,
                    complete_time_ns: None,
                    node: e.node,
                    error: None,
                    session: Some(e.session.unwrap_or(process)),
                });
            }
            kind => {
                let Some(i) = open.remove(&process) else {
                    return Err(ParseError::CompletionWithoutInvoke {
                        at: e.at,
                        process,
                        f: e.f,
                    });
                };
                let op = &mut ops[i];
                if op.f != e.f {
                    return Err(ParseError::Mismatch {
                        at: e.at,
                        process,
                        f: e.f,
                        open_f: op.f.clone(),
                        open_at: at_of[i],
                    });
                }
                if op.key.is_none() {
                    op.key = e.key;
                }
                op.complete_pos = Some(pos);
                op.complete_index = Some(e.index);
                op.complete_time_ns = e.time;
                if e.node.is_some() {
                    op.node = e.node;
                }
                op.error = e.error;
                match kind {
                    EventType::Ok => {
                        op.outcome = Outcome::Ok;
                        op.output = e.value;
                    }
                    EventType::Fail => failed.push(i),
                    _ => {
                        op.outcome = Outcome::Info;
                        if op.value.is_null() && !matches!(op.f.as_str(), "read" | "get") {
                            op.value = e.value;
                        }
                    }
                }
            }
        }
    }
    let open_at_end = open.len();
    let failed_ops = failed.len();
    if !failed.is_empty() {
        let mut drop = vec![false; ops.len()];
        for i in failed {
            drop[i] = true;
        }
        let mut i = 0;
        ops.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    let has_time = ops.iter().all(|o| {
        o.invoke_time_ns.is_some() && (o.complete_pos.is_none() || o.complete_time_ns.is_some())
    });
    Ok(History {
        ops,
        format,
        has_time,
        events: total,
        failed_ops,
        named_events: named,
        open_at_end,
        truncated_tail: false,
        from_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> ParseError {
        parse_str(text).unwrap_err()
    }

    #[test]
    fn pairs_edn_and_drops_fail() {
        let h = parse_str(
            "{:process 0, :type :invoke, :f :write, :value 1}\n\
             {:process 1, :type :invoke, :f :cas, :value [1 2]}\n\
             {:process 0, :type :ok, :f :write, :value 1}\n\
             {:process 1, :type :fail, :f :cas, :value [1 2]}\n\
             {:process 2, :type :invoke, :f :read, :value nil}\n\
             {:process 2, :type :ok, :f :read, :value 1}\n\
             {:process 3, :type :invoke, :f :write, :value 5}\n",
        )
        .unwrap();
        assert_eq!(h.format, Format::Edn);
        assert_eq!(h.op_count(), 3);
        assert_eq!(h.failed_ops, 1);
        assert_eq!(h.open_at_end, 1);
        assert_eq!(h.ops[1].output, json!(1));
        assert_eq!(h.ops[1].invoke_pos, 4);
        assert_eq!(h.ops[2].outcome, Outcome::Info);
        assert_eq!(h.ops[2].complete_pos, None);
        assert_eq!(h.ops[0].invoke_index, 1);
        assert!(!h.has_time);
    }

    #[test]
    fn pairs_jsonl_skipping_nemesis_and_tolerating_a_cut_tail() {
        let text = concat!(
            r#"{"index":0,"time":10,"process":0,"type":"invoke","f":"write","key":"k","value":3}"#,
            "\n",
            r#"{"index":1,"time":20,"process":"nemesis","type":"info","f":"start-partition","value":{"isolated":["n1"]}}"#,
            "\n",
            r#"{"index":2,"time":30,"process":0,"type":"info","f":"write","key":"k","value":null,"error":"timeout"}"#,
            "\n",
            r#"{"index":3,"time":40,"process":1,"type":"inv"#
        );
        let h = parse_str(text).unwrap();
        assert_eq!(h.format, Format::Jsonl);
        assert!(h.truncated_tail);
        assert_eq!(h.named_events, 1);
        assert_eq!(h.ops.len(), 1);
        assert_eq!(
            h.ops[0].value,
            json!(3),
            "an info write keeps the invoked value"
        );
        assert_eq!(h.ops[0].complete_time_ns, Some(30));
        assert_eq!(h.ops[0].error.as_deref(), Some("timeout"));
        assert!(h.has_time);
    }

    #[test]
    fn bad_input_names_the_line() {
        let e = err("{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read :value 1\n");
        assert!(
            matches!(
                e,
                ParseError::Syntax {
                    at: Location::Line(2),
                    ..
                }
            ),
            "{e}"
        );
        let e = err("{:process 0, :type :ok, :f :read, :value 1}\n");
        assert!(
            matches!(
                e,
                ParseError::CompletionWithoutInvoke {
                    at: Location::Line(1),
                    process: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("line 1"), "{e}");
        let e =
            err("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :read}\n");
        assert!(
            matches!(
                e,
                ParseError::DoubleInvoke {
                    at: Location::Line(2),
                    ..
                }
            ),
            "{e}"
        );
        let e = err("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :write}\n");
        assert!(
            matches!(
                e,
                ParseError::Mismatch {
                    at: Location::Line(2),
                    ..
                }
            ),
            "{e}"
        );
        let e = err("{:process 0, :type :begin, :f :read}\n");
        assert!(
            e.to_string().contains("line 1") && e.to_string().contains(":begin"),
            "{e}"
        );
        let e = err("{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"index\":1,\"time\":1,\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n");
        assert!(
            matches!(
                e,
                ParseError::Syntax {
                    at: Location::Line(2),
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(err(""), ParseError::Empty));
        assert!(matches!(err("  \n\n"), ParseError::Empty));
        assert!(matches!(err("[]"), ParseError::Empty));
    }

    #[test]
    fn events_in_memory_pair_too() {
        let ev = |index, process, kind, value: Value| Event {
            index,
            time: index * 100,
            process: Process::Client(process),
            kind,
            f: "read".into(),
            key: None,
            value,
            node: Some("n2".into()),
            error: None,
            session: None,
        };
        let h = parse_events(&[
            ev(0, 4, EventType::Invoke, Value::Null),
            ev(1, 4, EventType::Ok, json!(7)),
        ])
        .unwrap();
        assert_eq!(h.ops[0].output, json!(7));
        assert_eq!(h.ops[0].node.as_deref(), Some("n2"));
        let e = parse_events(&[ev(0, 4, EventType::Ok, json!(7))]).unwrap_err();
        assert!(e.to_string().starts_with("event #1"), "{e}");
    }
}
