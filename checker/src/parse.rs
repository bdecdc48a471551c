//! Reading histories (our JSONL, Jepsen EDN): picks the format's reader and hands its events to the
//! pairer.

use crate::edn;
use crate::history::Event;
use crate::json;
use crate::ops::{Format, History};
use crate::pairer::{Pairer, RawEvent};
use crate::parse_error::{Location, ParseError};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Reads a history file, detecting the format from its first characters: `{"` is JSON Lines, `[{"` a
/// JSON array, anything else EDN (maps one per line or spread over lines, optionally inside one
/// `[...]` or `(...)`). The file is streamed: only the operations are kept in memory.
pub fn load_history(path: &Path) -> Result<History, ParseError> {
    let io = |source| ParseError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // A pipe (`harness check <(zcat h.jsonl.gz)`, /dev/stdin) can be read only once: its lines are
    // not counted ahead, only a regular file's.
    let lines = if file.metadata().map_err(io)?.is_file() {
        let n = count_lines(&file).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        n
    } else {
        0
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{EventType, Process};
    use crate::ops::Outcome;
    use serde_json::json;
    use serde_json::Value;

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

    /// A valid first event, then one whose value nests `depth` levels, in every format we read.
    fn nested(depth: usize) -> Vec<(&'static str, String)> {
        let (open, close) = ("[".repeat(depth), "]".repeat(depth));
        let edn = |v: &str| {
            format!("{{:process 0, :type :invoke, :f :read, :value nil}}\n{{:process 1, :type :invoke, :f :write, :value {v}}}\n")
        };
        let ours = |v: &str| {
            format!(
                "{{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n\
                 {{\"index\":1,\"time\":2,\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{v}}}\n"
            )
        };
        let generic = |v: &str| {
            format!(
                "{{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n\
                 {{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":{v}}}\n"
            )
        };
        let inner = format!("{open}1{close}");
        vec![
            ("edn", edn(&inner)),
            ("edn in a vector", format!("[{}]", edn(&inner))),
            ("edn #_ chain", edn(&format!("{}1", "#_ 0 ".repeat(depth)))),
            ("edn tags", edn(&format!("{}1", "#t ".repeat(depth)))),
            (
                "edn map keys",
                edn(&format!("{}1{}", "{1 ".repeat(depth), "}".repeat(depth))),
            ),
            ("our jsonl", ours(&inner)),
            ("jepsen jsonl", generic(&inner)),
            (
                "json array",
                format!("[{}]", generic(&inner).trim_end().replace('\n', ",\n")),
            ),
        ]
    }

    #[test]
    fn deep_nesting_is_refused_naming_the_limit_and_line() {
        for (format, text) in nested(12_000) {
            let e = err(&text);
            let msg = e.to_string();
            assert!(
                matches!(
                    e,
                    ParseError::Syntax {
                        at: Location::Line(2),
                        ..
                    }
                ),
                "{format}: {msg}"
            );
            assert!(
                msg.contains("nested deeper than 128 levels"),
                "{format}: {msg}"
            );
            assert!(msg.len() < 200, "{format}: not short: {msg}");
        }
    }

    #[test]
    fn nesting_well_within_the_limit_is_read() {
        for (format, text) in nested(100) {
            let h = parse_str(&text).unwrap_or_else(|e| panic!("{format}: {e}"));
            assert_eq!(h.ops.len(), 2, "{format}");
        }
    }

    #[test]
    fn control_bytes_are_refused_where_they_stand() {
        let e = err("\0\0\0\0");
        assert!(
            matches!(
                e,
                ParseError::Syntax {
                    at: Location::Line(1),
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("unexpected character `\\u{0}`"),
            "{e}"
        );
    }

    /// A pipe is read once: its lines are not counted ahead (that emptied it).
    #[test]
    fn a_pipe_is_read_once() {
        use std::io::Write;
        let fifo = std::env::temp_dir().join(format!("lh-check-{}.fifo", std::process::id()));
        mkfifo(&fifo);
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all(b"{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value nil}\n")
                .unwrap();
        });
        let h = load_history(&fifo);
        writer.join().unwrap();
        std::fs::remove_file(&fifo).unwrap();
        assert_eq!(h.unwrap().op_count(), 1);
    }

    fn mkfifo(p: &Path) {
        let _ = std::fs::remove_file(p);
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap();
        assert!(ok.success());
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
