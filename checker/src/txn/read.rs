//! Reading Elle histories (`:f :txn` ops holding micro-ops) from EDN or JSON, with or without
//! `:process`, `:time` and invocations: Elle's own examples list completions only.

use super::history::{Mop, ReadValue, Status, Txn, TxnHistory, NO_POS};
use super::TxnModel;
use crate::edn::Forms;
use crate::pairing::Open;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Why a transactional history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TxnReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Bad { line: usize, message: String },
    #[error("the history holds no :txn operations")]
    Empty,
}

fn bad(line: usize, message: impl Into<String>) -> TxnReadError {
    TxnReadError::Bad {
        line,
        message: message.into(),
    }
}

/// Reads a history file (EDN, a JSON array, or JSON Lines).
pub fn load_txn_history(path: &Path, model: TxnModel) -> Result<TxnHistory, TxnReadError> {
    let io = |source| TxnReadError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    read_txn_history(BufReader::with_capacity(1 << 16, file), model).map_err(|e| match e {
        TxnReadError::Io { source, .. } => io(source),
        other => other,
    })
}

/// Reads a history from text (tests, small inputs).
pub fn parse_txn_history(text: &str, model: TxnModel) -> Result<TxnHistory, TxnReadError> {
    read_txn_history(text.as_bytes(), model)
}

/// Reads a history from a stream: one op map at a time is held, as [`Forms`] streams.
pub fn read_txn_history<R: BufRead>(mut r: R, model: TxnModel) -> Result<TxnHistory, TxnReadError> {
    let head = r.fill_buf().map_err(|source| TxnReadError::Io {
        path: "<input>".into(),
        source,
    })?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut it = head.iter().copied().filter(|b| !b.is_ascii_whitespace());
    let mut b = Builder::new(model);
    match (it.next(), it.next(), it.next()) {
        (None, _, _) => return Err(TxnReadError::Empty),
        (Some(b'{'), Some(b'"'), _) => {
            // JSON Lines (or concatenated objects): line numbers counted by object.
            let stream = serde_json::Deserializer::from_reader(r).into_iter::<Value>();
            for (i, v) in stream.enumerate() {
                let v = v.map_err(|e| bad(e.line(), e.to_string()))?;
                b.event(i + 1, v)?;
            }
        }
        (Some(b'['), Some(b'{'), Some(b'"')) | (Some(b'['), Some(b']'), _) => {
            let all: Vec<Value> =
                serde_json::from_reader(r).map_err(|e| bad(e.line(), e.to_string()))?;
            for (i, v) in all.into_iter().enumerate() {
                b.event(i + 1, v)?;
            }
        }
        _ => read_edn(r, &mut b)?,
    }
    b.finish()
}

fn read_edn(r: impl Read, b: &mut Builder) -> Result<(), TxnReadError> {
    let mut forms = Forms::new(r);
    while let Some((line, v)) = forms.next_form().map_err(|e| bad(e.line, e.message))? {
        b.event(line, v)?;
    }
    Ok(())
}

/// A keyword-ish string without its colon.
fn name(s: &str) -> &str {
    s.strip_prefix(':').unwrap_or(s)
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => name(s).to_string(),
        other => other.to_string(),
    }
}

/// An invocation waiting for its completion.
struct Pending {
    pos: u32,
    line: usize,
    value: Value,
}

struct Builder {
    model: TxnModel,
    h: TxnHistory,
    pending: Open<Pending>,
    pos: u32,
    scratch: Vec<i64>,
}

impl Builder {
    fn new(model: TxnModel) -> Self {
        Builder {
            model,
            h: TxnHistory::new(),
            pending: Open::default(),
            pos: 0,
            scratch: Vec::new(),
        }
    }

    fn event(&mut self, line: usize, v: Value) -> Result<(), TxnReadError> {
        let Value::Object(mut m) = v else {
            return Err(bad(
                line,
                "expected an op map like {:type :ok, :f :txn, :value [[:r :x nil]]}",
            ));
        };
        let pos = self.pos;
        self.pos += 1;
        let process = match m.get("process") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                bad(
                    line,
                    format!(":process must be a non-negative integer, got {n}"),
                )
            })?),
            // A named process (the nemesis) is not a client.
            Some(Value::String(_)) => return Ok(()),
            Some(other) => {
                return Err(bad(
                    line,
                    format!(":process must be an integer, got {other}"),
                ))
            }
        };
        match m.get("f") {
            None | Some(Value::Null) => {}
            Some(Value::String(f)) if name(f) == "txn" => {}
            Some(other) => {
                return Err(bad(
                    line,
                    format!(
                        "expected :f :txn (a transaction of micro-ops), got :f {}",
                        key_text(other)
                    ),
                ))
            }
        }
        let kind = match m.get("type") {
            Some(Value::String(t)) => name(t).to_string(),
            _ => return Err(bad(line, "missing :type (:invoke, :ok, :info or :fail)")),
        };
        let value = m.remove("value").unwrap_or(Value::Null);
        let status = match kind.as_str() {
            "invoke" => {
                let Some(p) = process else {
                    return Err(bad(
                        line,
                        "an :invoke needs a :process to pair it with its completion",
                    ));
                };
                let prev = self.pending.invoke(p, Pending { pos, line, value });
                if let Some(prev) = prev {
                    return Err(bad(
                        line,
                        format!(
                            "process {p} invoked again while its invocation on line {} was open",
                            prev.line
                        ),
                    ));
                }
                return Ok(());
            }
            "ok" => Status::Ok,
            "info" => Status::Info,
            "fail" => Status::Fail,
            other => return Err(bad(line, format!("unknown :type :{other}"))),
        };
        let invoked = process.and_then(|p| self.pending.complete(p));
        // Info and fail completions carry no reads; Jepsen repeats the invocation's value there.
        let value = match (&invoked, status, value.is_array()) {
            (Some(inv), Status::Info | Status::Fail, false) => inv.value.clone(),
            (_, _, _) => value,
        };
        let txn = Txn {
            process,
            status,
            invoke: invoked.as_ref().map_or(NO_POS, |i| i.pos),
            complete: pos,
            line: line as u32,
            mops_start: 0,
            mops_end: 0,
        };
        self.txn(txn, &value, line)
    }

    fn txn(&mut self, txn: Txn, value: &Value, line: usize) -> Result<(), TxnReadError> {
        let Value::Array(mops) = value else {
            return Err(bad(line, format!("a :txn value must be a vector of micro-ops like [[:append :x 1] [:r :y nil]], got {value}")));
        };
        let start = self.h.mops.len();
        let known = txn.status == Status::Ok;
        for m in mops {
            let mop = self.mop(m, known, line)?;
            self.h.mops.push(mop);
        }
        self.h.push(txn, start);
        Ok(())
    }

    fn mop(&mut self, m: &Value, known: bool, line: usize) -> Result<Mop, TxnReadError> {
        let shape = || {
            bad(
                line,
                format!(
                    "a micro-op must look like [:append :x 1], [:w :x 1] or [:r :x nil], got {m}"
                ),
            )
        };
        let Some([Value::String(f), k, v]) = m.as_array().map(Vec::as_slice) else {
            return Err(shape());
        };
        let key = self.h.key(&key_text(k));
        let int = |v: &Value| {
            v.as_i64()
                .ok_or_else(|| bad(line, format!("values must be integers, got {v} in {m}")))
        };
        Ok(match (name(f), self.model) {
            ("append", TxnModel::ListAppend) => Mop::Append {
                key,
                value: int(v)?,
            },
            ("w" | "write", TxnModel::RwRegister) => Mop::Write {
                key,
                value: int(v)?,
            },
            ("r" | "read", model) => {
                let value = match (known, v, model) {
                    (false, _, _) => ReadValue::Unknown,
                    // Elle reads nil as the empty list.
                    (true, Value::Null, TxnModel::ListAppend) => self.h.list(&[]),
                    (true, Value::Array(xs), TxnModel::ListAppend) => {
                        self.scratch.clear();
                        for x in xs {
                            let x = int(x)?;
                            self.scratch.push(x);
                        }
                        let s = std::mem::take(&mut self.scratch);
                        let r = self.h.list(&s);
                        self.scratch = s;
                        r
                    }
                    (true, Value::Null, TxnModel::RwRegister) => ReadValue::Register(None),
                    (true, x, TxnModel::RwRegister) => ReadValue::Register(Some(int(x)?)),
                    (true, other, TxnModel::ListAppend) => {
                        return Err(bad(
                            line,
                            format!("a list-append read must return a vector, got {other} in {m}"),
                        ))
                    }
                };
                Mop::Read { key, value }
            }
            (other, model) => {
                return Err(bad(
                    line,
                    format!(
                        "micro-op :{other} is not part of {} (it knows {})",
                        model.as_str(),
                        match model {
                            TxnModel::ListAppend => ":append and :r",
                            TxnModel::RwRegister => ":w and :r",
                        }
                    ),
                ))
            }
        })
    }

    fn finish(mut self) -> Result<TxnHistory, TxnReadError> {
        // Invocations never completed: the transaction may or may not have happened.
        let mut open: Vec<(u64, Pending)> = self.pending.drain().collect();
        open.sort_by_key(|(_, p)| p.pos);
        for (p, inv) in open {
            let txn = Txn {
                process: Some(p),
                status: Status::Info,
                invoke: inv.pos,
                complete: NO_POS,
                line: inv.line as u32,
                mops_start: 0,
                mops_end: 0,
            };
            self.txn(txn, &inv.value, inv.line)?;
        }
        if self.h.txns.is_empty() {
            return Err(TxnReadError::Empty);
        }
        // Invocation order (completion order where there was no invocation).
        let at = |t: &Txn| {
            if t.invoke != NO_POS {
                t.invoke
            } else {
                t.complete
            }
        };
        if !self.h.txns.windows(2).all(|w| at(&w[0]) <= at(&w[1])) {
            self.h.txns.sort_by_key(at);
        }
        Ok(self.h)
    }
}
