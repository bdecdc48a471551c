//! A small EDN reader: just enough of the format for Jepsen histories.
//!
//! Values become `serde_json::Value`: keywords and symbols become strings without the colon, `nil` null,
//! vectors, lists and sets arrays, maps objects (keys turned into strings).

use serde_json::{Map, Number, Value};

/// A syntax error at a line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    pub line: usize,
    pub message: String,
}

/// Reads a whole file: either a sequence of top-level forms, or one vector holding them.
/// Returns each top-level element with the line it starts on.
pub fn read_forms(text: &str) -> Result<Vec<(usize, Value)>, EdnError> {
    let mut r = Reader {
        s: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    r.skip_ws();
    let wrapped = r.peek() == Some(b'[');
    if wrapped {
        r.pos += 1;
    }
    loop {
        r.skip_ws();
        match r.peek() {
            None if wrapped => return Err(r.err("the history opened with `[` but never closed it")),
            None => break,
            Some(b']') if wrapped => {
                r.pos += 1;
                r.skip_ws();
                if r.peek().is_some() {
                    return Err(r.err("unexpected text after the closing `]` of the history"));
                }
                break;
            }
            Some(_) => {
                let line = r.line;
                let v = r.value()?;
                out.push((line, v));
            }
        }
    }
    Ok(out)
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn err(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            line: self.line,
            message: message.into(),
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

    fn value(&mut self) -> Result<Value, EdnError> {
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
                        // A tagged literal such as `#inst "..."`: keep the value, drop the tag.
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
                    return Err(self.err(format!("unexpected character `{}`", c as char)));
                }
                atom(tok).ok_or_else(|| EdnError {
                    line,
                    message: format!("cannot read `{tok}`"),
                })
            }
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace()
                || matches!(
                    c,
                    b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'"' | b';'
                )
            {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
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
                            let hex = self
                                .s
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok());
                            let ch = hex
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(ch) = ch else {
                                return Err(self.err("bad \\u escape in string"));
                            };
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not valid UTF-8"))
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
        let t = tok.strip_suffix('N').unwrap_or(tok);
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::Number(i.into()));
        }
        let t = tok.strip_suffix('M').unwrap_or(tok);
        return t
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number);
    }
    // A symbol: keep its name.
    Some(Value::String(tok.to_string()))
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
