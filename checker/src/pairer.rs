//! Events in a format-neutral shape, and pairing invocations with completions per process.

use crate::history::{Event, EventType, Process};
use crate::numbers::normalize_numbers;
use crate::ops::{Format, History, Op, Outcome};
use crate::pairing::Open;
use crate::parse_error::{quote, Location, ParseError};
use serde_json::Value;

/// A non-negative integer-valued float as an integer (for `:time 1.5e9`).
fn whole_f64(v: &Value) -> Option<u64> {
    v.as_f64()
        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
        .map(|f| f as u64)
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
    open: Open,
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
            open: Open::default(),
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
                if let Some(&i) = self.open.get(process) {
                    return Err(ParseError::DoubleInvoke {
                        at: e.at,
                        process,
                        f: quote(&e.f),
                        open_f: quote(&ops[i].f),
                        open_at: self.at_of(i),
                    });
                }
                self.open.invoke(process, ops.len());
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
                let Some(i) = self.open.complete(process) else {
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
