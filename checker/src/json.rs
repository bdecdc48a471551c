//! JSON histories, streamed: our JSON Lines (`history.jsonl`), Jepsen-style JSON Lines (op objects
//! without our `index`/`time`), and JSON arrays of op objects.

use crate::history::Event;
use crate::ops::{Format, History};
use crate::pairer::{Pairer, RawEvent};
use crate::parse_error::{quote, too_deep, Location, ParseError};
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::io::{BufRead, Read};
use std::rc::Rc;

fn io_error(source: std::io::Error) -> ParseError {
    ParseError::Io {
        path: "<input>".into(),
        source,
    }
}

/// A serde error without serde's own position suffix, cut to the quoting bound.
fn serde_message(e: &serde_json::Error) -> String {
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = e.to_string();
    quote(msg.strip_suffix(&suffix).unwrap_or(&msg))
}

/// Whether serde_json stopped at its recursion limit (our `MAX_DEPTH`).
fn is_too_deep(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

/// The limit said as such, not as serde's terse message.
fn too_deep_error(e: &serde_json::Error, at: Location) -> ParseError {
    ParseError::Syntax {
        at,
        message: format!("{} (column {})", too_deep(), e.column()),
    }
}

/// JSON Lines. The first event line decides the shape: our events (with `index` and `time`) are read
/// strictly, anything else as Jepsen-style op maps. A last line without a newline that does not parse
/// was cut short by a crash and is ignored.
pub(crate) fn read_lines(mut r: impl BufRead, mut p: Pairer) -> Result<History, ParseError> {
    let mut line = Vec::new();
    let (mut n, mut offset) = (0usize, 0usize);
    let mut generic: Option<bool> = None;
    loop {
        line.clear();
        let k = r.read_until(b'\n', &mut line).map_err(io_error)?;
        if k == 0 {
            break;
        }
        n += 1;
        let last_unended = line.last() != Some(&b'\n');
        let text = std::str::from_utf8(&line).map_err(|e| ParseError::Syntax {
            at: Location::Byte(offset + e.valid_up_to()),
            message: format!("the input is not UTF-8 text (line {n})"),
        })?;
        offset += k;
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        let at = Location::Line(n);
        let cut_short = || last_unended && serde_json::from_str::<Value>(t).is_err();
        if generic != Some(true) {
            match serde_json::from_str::<Event>(t) {
                Ok(e) => {
                    generic = Some(false);
                    p.push(RawEvent::from_event(e, at))?;
                    continue;
                }
                Err(e) if is_too_deep(&e) => return Err(too_deep_error(&e, at)),
                Err(_) if cut_short() => {
                    p.truncated_tail = true;
                    break;
                }
                Err(e) => {
                    let jepsen = generic.is_none()
                        && matches!(serde_json::from_str::<Value>(t),
                            Ok(Value::Object(m)) if !(m.contains_key("index") && m.contains_key("time")));
                    if !jepsen {
                        return Err(ParseError::Syntax {
                            at,
                            message: format!(
                                "not a history event ({}, column {}): {}",
                                serde_message(&e),
                                e.column(),
                                quote(t)
                            ),
                        });
                    }
                    generic = Some(true);
                }
            }
        }
        match serde_json::from_str::<Value>(t) {
            Ok(v) => p.push(RawEvent::from_map(at, n as u64, v)?)?,
            Err(e) if is_too_deep(&e) => return Err(too_deep_error(&e, at)),
            Err(_) if cut_short() => {
                p.truncated_tail = true;
                break;
            }
            Err(e) => {
                return Err(ParseError::Syntax {
                    at,
                    message: format!(
                        "not JSON ({}, column {}): {}",
                        serde_message(&e),
                        e.column(),
                        quote(t)
                    ),
                })
            }
        }
    }
    p.finish(if generic == Some(true) {
        Format::Json
    } else {
        Format::Jsonl
    })
}

/// Counts the newlines read, so an element of the array can be given its line.
struct Lines<R> {
    inner: R,
    newlines: Rc<Cell<usize>>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let nl = buf[..n].iter().filter(|&&b| b == b'\n').count();
        self.newlines.set(self.newlines.get() + nl);
        Ok(n)
    }
}

/// Feeds each element of the array to the pairer as soon as it is parsed.
struct Elements<'a> {
    p: &'a mut Pairer,
    newlines: Rc<Cell<usize>>,
    failed: &'a mut Option<ParseError>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of operation objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            // The parser has just read the element's last byte: its line.
            let line = self.newlines.get() + 1;
            let r = RawEvent::from_map(Location::Line(line), line as u64, v)
                .and_then(|e| self.p.push(e));
            if let Err(e) = r {
                *self.failed = Some(e);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// A JSON array of op objects (Jepsen's or Knossos's JSON export), streamed element by element.
pub(crate) fn read_array(r: impl BufRead, mut p: Pairer) -> Result<History, ParseError> {
    let newlines = Rc::new(Cell::new(0));
    let src = Lines {
        inner: r,
        newlines: newlines.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(src);
    let mut failed = None;
    let v = Elements {
        p: &mut p,
        newlines,
        failed: &mut failed,
    };
    let result = de.deserialize_seq(v).and_then(|()| de.end());
    if let Some(e) = failed {
        return Err(e);
    }
    if let Err(e) = result {
        if e.is_io() {
            return Err(io_error(std::io::Error::other(e.to_string())));
        }
        if is_too_deep(&e) {
            return Err(too_deep_error(&e, Location::Line(e.line())));
        }
        return Err(ParseError::Syntax {
            at: Location::Line(e.line()),
            message: format!(
                "not a JSON array of operations ({}, column {})",
                serde_message(&e),
                e.column()
            ),
        });
    }
    p.finish(Format::Json)
}
