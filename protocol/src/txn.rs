//! `POST /txn`: a transaction of micro-ops in Elle's shape, so the history records them as they travel.
//! `["append", key, value]`, `["w", key, value]`, `["r", key, null]` in a request; the answer repeats the
//! micro-ops with each read filled in (the list at the key, or a register's integer, or `null`).

use serde::de::Error as _;
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Value;

/// What a read micro-op saw: a register's integer, or the list at an append key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TxnRead {
    Int(Value),
    List(Vec<Value>),
}

/// One micro-op. On the wire a three-element array: `[f, key, value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroOp {
    Append {
        key: String,
        value: Value,
    },
    Write {
        key: String,
        value: Value,
    },
    /// `value`: `None` in a request (and for an absent key in an answer).
    Read {
        key: String,
        value: Option<TxnRead>,
    },
}

impl MicroOp {
    pub fn key(&self) -> &str {
        match self {
            MicroOp::Append { key, .. }
            | MicroOp::Write { key, .. }
            | MicroOp::Read { key, .. } => key,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MicroOp::Read { .. })
    }
}

impl Serialize for MicroOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        match self {
            MicroOp::Append { key, value } => {
                t.serialize_element("append")?;
                t.serialize_element(key)?;
                t.serialize_element(value)?;
            }
            MicroOp::Write { key, value } => {
                t.serialize_element("w")?;
                t.serialize_element(key)?;
                t.serialize_element(value)?;
            }
            MicroOp::Read { key, value } => {
                t.serialize_element("r")?;
                t.serialize_element(key)?;
                t.serialize_element(value)?;
            }
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for MicroOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (f, key, value) = <(String, String, Option<TxnRead>)>::deserialize(d)?;
        let int = |what: &str| match value.clone() {
            Some(TxnRead::Int(v)) => Ok(v),
            _ => Err(D::Error::custom(format!(
                "[\"{what}\", key, value] needs an integer value"
            ))),
        };
        Ok(match f.as_str() {
            "append" => MicroOp::Append {
                value: int("append")?,
                key,
            },
            "w" => MicroOp::Write {
                value: int("w")?,
                key,
            },
            "r" => MicroOp::Read { key, value },
            other => {
                return Err(D::Error::custom(format!(
                    "unknown micro-op \"{other}\"; expected \"append\", \"w\" or \"r\""
                )))
            }
        })
    }
}

/// `POST /txn` body: `{"txn": [["append", "k1", 5], ["r", "k2", null]]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRequest {
    pub txn: Vec<MicroOp>,
}

/// `200` answer: the micro-ops in order, reads filled in, and the node that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResponse {
    pub txn: Vec<MicroOp>,
    pub node: String,
}

/// Most micro-ops in one transaction (a bound on one log entry, not a workload's need).
pub const MAX_TXN_OPS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_ops_travel_as_elle_triples() {
        let text = r#"{"txn":[["append","k1",5],["r","k2",null],["w","k3",7],["r","k1",[5]],["r","k3",7]]}"#;
        let req: TxnRequest = serde_json::from_str(text).unwrap();
        assert_eq!(
            req.txn[1],
            MicroOp::Read {
                key: "k2".into(),
                value: None
            }
        );
        assert_eq!(
            req.txn[3],
            MicroOp::Read {
                key: "k1".into(),
                value: Some(TxnRead::List(vec![5]))
            }
        );
        assert_eq!(serde_json::to_string(&req).unwrap(), text);
        for bad in [
            r#"{"txn":[["append","k1",null]]}"#,
            r#"{"txn":[["cas","k1",1]]}"#,
            r#"{"txn":[["w","k1",[1]]]}"#,
            r#"{"txn":[["r","k1"]]}"#,
        ] {
            assert!(serde_json::from_str::<TxnRequest>(bad).is_err(), "{bad}");
        }
    }
}
