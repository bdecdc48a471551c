//! A small EDN reader: just enough of the format for Jepsen histories.
//!
//! Values become `serde_json::Value`: keywords and symbols become strings without the colon, `nil` null,
//! vectors, lists and sets arrays, maps objects (keys turned into strings). `#_` discards the next form;
//! tagged literals keep their value. The reader streams: only the form being read is held in memory.

use crate::parse_error::{too_deep, MAX_DEPTH};
use serde_json::{Map, Value};

/// A syntax error at a line (1-based); `offset` is the byte offset where the input is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    pub line: usize,
    pub offset: Option<usize>,
    pub message: String,
}

/// At most this many bytes are kept in memory beyond the form being read.
const CHUNK: usize = 1 << 16;

/// Reads a whole text (for tests and small inputs): either a sequence of top-level forms, or one
/// vector or list holding them. Returns each element with the line it starts on.
#[cfg(test)]
pub fn read_forms(text: &str) -> Result<Vec<(usize, Value)>, EdnError> {
    let mut forms = Forms::new(text.as_bytes());
    let mut out = Vec::new();
    while let Some(f) = forms.next_form()? {
        out.push(f);
    }
    Ok(out)
}

/// The top-level elements of an EDN history, read one at a time from a stream, so a large file
/// never sits in memory whole.
pub struct Forms<R: std::io::Read> {
    r: Reader<R>,
    /// The closing bracket of a `[...]` or `(...)` around the whole history, once seen.
    wrapped: Option<u8>,
    started: bool,
    done: bool,
}

impl<R: std::io::Read> Forms<R> {
    pub fn new(src: R) -> Self {
        Forms {
            r: Reader {
                src,
                buf: Vec::new(),
                pos: 0,
                base: 0,
                eof: false,
                line: 1,
                io_error: None,
                depth: 0,
            },
            wrapped: None,
            started: false,
            done: false,
        }
    }

    /// The next element and the line it starts on; `None` at the end.
    pub fn next_form(&mut self) -> Result<Option<(usize, Value)>, EdnError> {
        if self.done {
            return Ok(None);
        }
        let r = &mut self.r;
        r.compact();
        r.skip_ws();
        if !self.started {
            self.started = true;
            match r.peek() {
                Some(b'[') => self.wrapped = Some(b']'),
                Some(b'(') => self.wrapped = Some(b')'),
                _ => {}
            }
            if self.wrapped.is_some() {
                r.pos += 1;
                r.skip_ws();
            }
        }
        let item = match (r.peek(), self.wrapped) {
            (None, Some(close)) => Err(r.err(format!(
                "the history opened with `{}` but never closed it",
                if close == b']' { '[' } else { '(' }
            ))),
            (None, None) => {
                self.done = true;
                Ok(None)
            }
            (Some(c), Some(close)) if c == close => {
                r.pos += 1;
                r.skip_ws();
                self.done = true;
                if r.peek().is_some() {
                    Err(r.err("unexpected text after the closing bracket of the history"))
                } else {
                    Ok(None)
                }
            }
            (Some(_), _) => {
                let line = r.line;
                r.value().map(|v| Some((line, v)))
            }
        };
        if let Some(e) = r.io_error.take() {
            return Err(r.err(format!("cannot read the input: {e}")));
        }
        item
    }
}

struct Reader<R> {
    src: R,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes dropped from the front of `buf` so far.
    base: usize,
    eof: bool,
    line: usize,
    io_error: Option<std::io::Error>,
    /// How many values are being read, one inside another: each is a level of recursion.
    depth: usize,
}

impl<R: std::io::Read> Reader<R> {
    fn peek(&mut self) -> Option<u8> {
        if self.pos >= self.buf.len() && !self.fill() {
            return None;
        }
        self.buf.get(self.pos).copied()
    }

    /// Appends the next chunk of input; false at the end.
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        loop {
            match self.src.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.eof = true;
                    self.buf.truncate(old);
                    return false;
                }
                Ok(n) => {
                    self.buf.truncate(old + n);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.io_error = Some(e);
                    self.eof = true;
                    self.buf.truncate(old);
                    return false;
                }
            }
        }
    }

    /// Drops what was read (only between top-level forms, so positions inside a form stay valid).
    fn compact(&mut self) {
        if self.pos >= CHUNK {
            self.buf.drain(..self.pos);
            self.base += self.pos;
            self.pos = 0;
        }
    }

    fn err(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            line: self.line,
            offset: None,
            message: message.into(),
        }
    }

    fn not_utf8(&self, at: usize) -> EdnError {
        EdnError {
            line: self.line,
            offset: Some(self.base + at),
            message: "the input is not UTF-8 text".into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | b',' => self.pos += 1,
                b';' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// The next value; refused past [`MAX_DEPTH`] levels (also of `#_` and tags, which recurse too),
    /// so no input can exhaust the stack.
    fn value(&mut self) -> Result<Value, EdnError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(too_deep()));
        }
        self.depth += 1;
        let v = self.one_value();
        self.depth -= 1;
        v
    }

    fn one_value(&mut self) -> Result<Value, EdnError> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Err(self.err("unexpected end of input: a value is missing"));
        };
        match c {
            b'{' => {
                self.pos += 1;
                self.map()
            }
            b'[' => {
                self.pos += 1;
                Ok(Value::Array(self.seq(b']')?))
            }
            b'(' => {
                self.pos += 1;
                Ok(Value::Array(self.seq(b')')?))
            }
            b'#' => {
                self.pos += 1;
                match self.peek() {
                    Some(b'{') => {
                        self.pos += 1;
                        Ok(Value::Array(self.seq(b'}')?))
                    }
                    Some(b'_') => {
                        // `#_form` discards the next form.
                        self.pos += 1;
                        self.value()?;
                        self.value()
                    }
                    _ => {
                        // A tagged literal such as `#inst "..."` or `#jepsen.history.Op{...}`: keep
                        // the value, drop the tag.
                        self.token();
                        self.value()
                    }
                }
            }
            b'"' => {
                self.pos += 1;
                self.string().map(Value::String)
            }
            b'}' | b']' | b')' => Err(self.err(format!("unexpected `{}`", c as char))),
            _ => {
                let line = self.line;
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.err(format!(
                        "unexpected character `{}`",
                        (c as char).escape_default()
                    )));
                }
                let text = match std::str::from_utf8(&self.buf[tok.clone()]) {
                    Ok(t) => t,
                    Err(e) => return Err(self.not_utf8(tok.start + e.valid_up_to())),
                };
                atom(text).ok_or_else(|| EdnError {
                    line,
                    offset: None,
                    message: format!("cannot read `{}`", crate::parse_error::quote(text)),
                })
            }
        }
    }

    /// The bytes of the next token (a symbol, keyword, number or tag).
    fn token(&mut self) -> std::ops::Range<usize> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            // A control byte ends it too (and is then refused): `/dev/zero` must not be one endless token.
            if c.is_ascii_whitespace()
                || c.is_ascii_control()
                || matches!(
                    c,
                    b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'"' | b';'
                )
            {
                break;
            }
            self.pos += 1;
        }
        start..self.pos
    }

    fn seq(&mut self, close: u8) -> Result<Vec<Value>, EdnError> {
        // An unclosed form is reported where it opened, not at the end of the file.
        let open_line = self.line;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    let message = format!(
                        "unexpected end of input: this form is never closed with `{}`",
                        close as char
                    );
                    return Err(EdnError {
                        line: open_line,
                        offset: None,
                        message,
                    });
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn map(&mut self) -> Result<Value, EdnError> {
        let items = self.seq(b'}')?;
        if items.len() % 2 != 0 {
            return Err(self.err("a map has a key without a value"));
        }
        let mut m = Map::new();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let k = match k {
                Value::String(s) => s,
                other => other.to_string(),
            };
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }

    fn string(&mut self) -> Result<String, EdnError> {
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\n' => {
                    self.line += 1;
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'u' => {
                            let mut hex = [0u8; 4];
                            for h in &mut hex {
                                *h = self.peek().unwrap_or(b'?');
                                self.pos += 1;
                            }
                            let ch = std::str::from_utf8(&hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(ch) = ch else {
                                return Err(self.err("bad \\u escape in string"));
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|e| {
            // Escapes only shorten the text, so the first bad byte is at least this far in.
            self.not_utf8(start + e.utf8_error().valid_up_to())
        })
    }
}

fn atom(tok: &str) -> Option<Value> {
    match tok {
        "nil" => return Some(Value::Null),
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(kw) = tok.strip_prefix(':') {
        return (!kw.is_empty()).then(|| Value::String(kw.to_string()));
    }
    let first = tok.as_bytes()[0];
    let numeric = first.is_ascii_digit()
        || (matches!(first, b'-' | b'+') && tok.len() > 1 && tok.as_bytes()[1].is_ascii_digit());
    if numeric {
        return number(tok);
    }
    // A symbol: keep its name.
    Some(Value::String(tok.to_string()))
}

/// An EDN number: integers (`N` marks a big one), floats and decimals (`M`). Integers beyond 64 bits
/// keep their digits as a string, so equal big integers still compare equal; integer-valued floats
/// become integers, so `1.0` equals `1`.
fn number(tok: &str) -> Option<Value> {
    let t = tok.strip_prefix('+').unwrap_or(tok);
    if let Some(int) = t.strip_suffix('N').or(Some(t)).filter(|s| {
        let d = s.strip_prefix('-').unwrap_or(s);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    }) {
        if let Ok(i) = int.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        if let Ok(u) = int.parse::<u64>() {
            return Some(Value::Number(u.into()));
        }
        return Some(Value::String(int.to_string()));
    }
    let f = t.strip_suffix('M').unwrap_or(t).parse::<f64>().ok()?;
    Some(crate::numbers::float_value(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_jepsen_lines() {
        let text = "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n{:process :nemesis, :type :info, :f :start, :value nil}\n";
        let forms = read_forms(text).unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(
            forms[0],
            (
                1,
                json!({"process": 0, "type": "invoke", "f": "cas", "value": [1, 2]})
            )
        );
        assert_eq!(forms[1].0, 2);
        assert_eq!(forms[1].1["process"], json!("nemesis"));
    }

    #[test]
    fn reads_wrapped_vector_strings_and_comments() {
        let text = "[{:value \"x \\\"1\\\" y\", :key \"k\"} ; first\n {:value -3 :time 12N}]\n";
        let forms = read_forms(text).unwrap();
        assert_eq!(forms[0].1, json!({"value": "x \"1\" y", "key": "k"}));
        assert_eq!(forms[1], (2, json!({"value": -3, "time": 12})));
    }

    #[test]
    fn reports_line_of_errors() {
        let e = read_forms("{:a 1}\n{:a [1 2}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = read_forms("{:a 1}\n\n{:a \"open\n").unwrap_err();
        assert!(e.message.contains("unterminated"), "{e:?}");
        assert!(read_forms("[{:a 1}").is_err());
        assert!(read_forms("{:a}").is_err());
    }
}
