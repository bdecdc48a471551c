//! Reading histories (our JSONL, Jepsen EDN) and pairing invocations with completions per process.

use crate::edn;
use crate::history::{Event, EventType, Process};
use crate::json;
use crate::ops::{Format, History, Op, Outcome};
use rustc_hash::FxHashMap;
use serde_json::{Number, Value};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Longest piece of input text an error message quotes.
pub(crate) const QUOTED: usize = 200;

/// `s`, cut to at most [`QUOTED`] characters (marked with `...`), for error messages.
pub(crate) fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTED) {
        None => s.to_string(),
        Some((i, _)) => format!("{}...", &s[..i]),
    }
}

/// A float as a JSON value: integer-valued floats become integers, so `1.0` and `1` are one value.
pub(crate) fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number((f as i64).into())
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A non-negative integer-valued float as an integer (for `:time 1.5e9`).
fn whole_f64(v: &Value) -> Option<u64> {
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
        .map(|f| f as u64)
}

/// Replaces integer-valued floats inside `v` by integers (see [`float_value`]).
pub(crate) fn normalize_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                *v = float_value(f);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_numbers),
        Value::Object(m) => m.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

/// Where in the input a problem is: a line of a file, or an event handed over in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Line(usize),
    /// 1-based position in the event slice (or in a JSON array whose elements span lines).
    Event(usize),
    /// Byte offset in the input (0-based), where it is not UTF-8 text.
    Byte(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Event(n) => write!(f, "event #{n}"),
            Location::Byte(n) => write!(f, "byte offset {n}"),
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

/// Reads a history file, detecting the format from its first characters: `{"` is JSON Lines, `[{"` a
/// JSON array, anything else EDN (maps one per line or spread over lines, optionally inside one
/// `[...]` or `(...)`). The file is streamed: only the operations are kept in memory.
pub fn load_history(path: &Path) -> Result<History, ParseError> {
    let io = |source| ParseError::Io {
        path: path.to_path_buf(),
        source,
    };
    let lines = count_lines(std::fs::File::open(path).map_err(io)?).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    parse_reader(BufReader::with_capacity(1 << 16, file), lines)
}

/// Parses history text in any of the formats [`load_history`] reads.
pub fn parse_str(text: &str) -> Result<History, ParseError> {
    parse_reader(
        text.as_bytes(),
        text.bytes().filter(|&b| b == b'\n').count(),
    )
}

fn count_lines(mut r: impl Read) -> std::io::Result<usize> {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += buf[..k].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Which reader a text needs, from its first non-blank characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    JsonLines,
    JsonArray,
    Edn,
}

fn shape(head: &[u8]) -> Option<Shape> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut it = head.iter().copied().filter(|b| !b.is_ascii_whitespace());
    match (it.next()?, it.next(), it.next()) {
        (b'{', Some(b'"'), _) => Some(Shape::JsonLines),
        (b'[', Some(b'{'), Some(b'"')) => Some(Shape::JsonArray),
        (b'[', Some(b']'), _) => Some(Shape::JsonArray),
        _ => Some(Shape::Edn),
    }
}

/// Parses a stream; `lines` (the number of lines, if known) sizes the operation list up front.
fn parse_reader<R: BufRead>(mut r: R, lines: usize) -> Result<History, ParseError> {
    let head = r.fill_buf().map_err(|source| ParseError::Io {
        path: PathBuf::from("<input>"),
        source,
    })?;
    let Some(shape) = shape(head) else {
        return Err(ParseError::Empty);
    };
    let capacity = (lines / 2 + 1).min(1 << 26);
    match shape {
        Shape::JsonLines => json::read_lines(r, Pairer::new(capacity)),
        Shape::JsonArray => json::read_array(r, Pairer::new(capacity)),
        Shape::Edn => read_edn(r, Pairer::new(capacity)),
    }
}

/// Parses our `history.jsonl` (or Jepsen-style JSON Lines). A last line without a newline that does
/// not parse is taken to be cut short by a crash and is ignored (the history is marked
/// `truncated_tail`).
pub fn parse_jsonl(text: &str) -> Result<History, ParseError> {
    json::read_lines(text.as_bytes(), Pairer::new(0))
}

/// Parses a Jepsen EDN history (maps one per line or spread over lines, optionally inside `[...]` or
/// `(...)`).
pub fn parse_edn(text: &str) -> Result<History, ParseError> {
    read_edn(text.as_bytes(), Pairer::new(0))
}

fn read_edn(r: impl Read, mut p: Pairer) -> Result<History, ParseError> {
    let mut forms = edn::Forms::new(r);
    loop {
        let form = forms.next_form().map_err(|e| ParseError::Syntax {
            at: e.offset.map_or(Location::Line(e.line), Location::Byte),
            message: match e.offset {
                Some(_) => format!("{} (line {})", e.message, e.line),
                None => e.message,
            },
        })?;
        let Some((line, v)) = form else { break };
        p.push(RawEvent::from_map(Location::Line(line), line as u64, v)?)?;
    }
    p.finish(Format::Edn)
}

/// Pairs events recorded in memory (as the workloads record them) into a history.
pub fn parse_events(events: &[Event]) -> Result<History, ParseError> {
    let mut p = Pairer::new(events.len() / 2 + 1);
    for (i, e) in events.iter().enumerate() {
        p.push(RawEvent::from_event(e.clone(), Location::Event(i + 1)))?;
    }
    p.finish(Format::Jsonl)
}

/// One event in a format-neutral shape.
pub(crate) struct RawEvent {
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
    pub(crate) fn from_event(mut e: Event, at: Location) -> Self {
        normalize_numbers(&mut e.value);
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

    /// From a map (an EDN map, or a JSON object in Jepsen's shape); `index` is used for positions.
    /// Keyword-like strings (`":invoke"`) are accepted where names are expected.
    pub(crate) fn from_map(at: Location, index: u64, v: Value) -> Result<Self, ParseError> {
        let bad = |message: String| ParseError::BadEvent { at, message };
        let Value::Object(mut m) = v else {
            return Err(bad(format!(
                "expected a map like {{:process 0, :type :invoke, :f :read, :value nil}}, got {}",
                quote(&v.to_string())
            )));
        };
        let name = |s: String| match s.strip_prefix(':') {
            Some(k) => k.to_string(),
            None => s,
        };
        let process = match m.remove("process") {
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                Process::Client(n.as_u64().unwrap_or_default())
            }
            Some(Value::String(s)) => Process::Named(name(s)),
            Some(other) => {
                return Err(bad(format!(
                    ":process must be a non-negative integer or a keyword, got {}",
                    quote(&other.to_string())
                )))
            }
            None => return Err(bad("missing :process".into())),
        };
        let kind = match m.remove("type") {
            Some(Value::String(s)) => match name(s).as_str() {
                "invoke" => EventType::Invoke,
                "ok" => EventType::Ok,
                "fail" => EventType::Fail,
                "info" => EventType::Info,
                s => {
                    return Err(bad(format!(
                        "unknown :type :{} (expected :invoke, :ok, :fail or :info)",
                        quote(s)
                    )))
                }
            },
            Some(other) => {
                return Err(bad(format!(
                    ":type must be a keyword, got {}",
                    quote(&other.to_string())
                )))
            }
            None => return Err(bad("missing :type".into())),
        };
        let f = match m.remove("f") {
            Some(Value::String(s)) => name(s),
            Some(other) => {
                return Err(bad(format!(
                    ":f must be a keyword, got {}",
                    quote(&other.to_string())
                )))
            }
            None => return Err(bad("missing :f".into())),
        };
        let key = match m.remove("key") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(mut other) => {
                normalize_numbers(&mut other);
                Some(other.to_string())
            }
        };
        let time = match m.get("time") {
            None | Some(Value::Null) => None,
            Some(t) => Some(t.as_u64().or_else(|| whole_f64(t)).ok_or_else(|| {
                bad(format!(
                    ":time must be a non-negative integer (nanoseconds), got {}",
                    quote(&t.to_string())
                ))
            })?),
        };
        let node = m.get("node").and_then(Value::as_str).map(str::to_string);
        let error = m.get("error").map(|e| {
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| quote(&e.to_string()))
        });
        let mut value = m.remove("value").unwrap_or(Value::Null);
        normalize_numbers(&mut value);
        let session = m.get("session").and_then(Value::as_u64);
        Ok(RawEvent {
            at,
            index,
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

/// Pairs invocations with completions per process as events arrive.
pub(crate) struct Pairer {
    ops: Vec<Op>,
    failed: Vec<usize>,
    open: FxHashMap<u64, usize>,
    named: usize,
    total: usize,
    /// How positions are shown: the first event's kind of location.
    from_file: Option<bool>,
    pub(crate) truncated_tail: bool,
}

impl Pairer {
    pub(crate) fn new(capacity: usize) -> Self {
        Pairer {
            ops: Vec::with_capacity(capacity),
            failed: Vec::new(),
            open: FxHashMap::default(),
            named: 0,
            total: 0,
            from_file: None,
            truncated_tail: false,
        }
    }

    fn at_of(&self, i: usize) -> Location {
        let n = self.ops[i].invoke_line;
        match self.from_file {
            Some(false) => Location::Event(n),
            _ => Location::Line(n),
        }
    }

    pub(crate) fn push(&mut self, e: RawEvent) -> Result<(), ParseError> {
        let pos = self.total;
        self.total += 1;
        if self.from_file.is_none() {
            self.from_file = Some(!matches!(e.at, Location::Event(_)));
        }
        let ops = &mut self.ops;
        let process = match e.process {
            Process::Client(p) => p,
            Process::Named(_) => {
                self.named += 1;
                return Ok(());
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
                if let Some(&i) = self.open.get(&process) {
                    return Err(ParseError::DoubleInvoke {
                        at: e.at,
                        process,
                        f: quote(&e.f),
                        open_f: quote(&ops[i].f),
                        open_at: self.at_of(i),
                    });
                }
                self.open.insert(process, ops.len());
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
                        Location::Line(n) | Location::Event(n) | Location::Byte(n) => n,
                    },
                    invoke_time_ns: e.time,
                    complete_time_ns: None,
                    node: e.node,
                    error: None,
                    session: Some(e.session.unwrap_or(process)),
                });
            }
            kind => {
                let Some(i) = self.open.remove(&process) else {
                    return Err(ParseError::CompletionWithoutInvoke {
                        at: e.at,
                        process,
                        f: quote(&e.f),
                    });
                };
                if ops[i].f != e.f {
                    return Err(ParseError::Mismatch {
                        at: e.at,
                        process,
                        f: quote(&e.f),
                        open_f: quote(&ops[i].f),
                        open_at: self.at_of(i),
                    });
                }
                let op = &mut self.ops[i];
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
                    EventType::Fail => self.failed.push(i),
                    _ => {
                        op.outcome = Outcome::Info;
                        if op.value.is_null() && !matches!(op.f.as_str(), "read" | "get") {
                            op.value = e.value;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self, format: Format) -> Result<History, ParseError> {
        let Pairer {
            mut ops,
            failed,
            open,
            named,
            total,
            from_file,
            truncated_tail,
        } = self;
        if total == 0 {
            return Err(ParseError::Empty);
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
        if ops.capacity() > ops.len() + ops.len() / 4 + 16 {
            ops.shrink_to_fit();
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
            truncated_tail,
            from_file: from_file.unwrap_or(false),
        })
    }
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
