//! History events as recorded in `history.jsonl` (one JSON object per line).
//!
//! This is the wire format shared by the recorder (`workloads`), the store (`harness`) and the checker.
//! Field names and meanings follow `shared/design.md`; add fields only as optional ones.

use serde::{Deserialize, Serialize};

/// Who issued an event: a client process (a number) or a named actor such as `"nemesis"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    Client(u64),
    Named(String),
}

/// `invoke`, then exactly one of `ok` (it happened), `fail` (it definitely did not) or `info` (unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One line of `history.jsonl`.
///
/// `value`: reads carry the value read on `ok` (`null` = absent); writes the written value; `cas` `[from, to]`.
/// Nemesis events use `process: "nemesis"`, `type: "info"` and an object `value` describing the fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub index: u64,
    /// Nanoseconds since the test started (monotonic).
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default)]
    pub value: serde_json::Value,
    /// The node that served the request, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why an op ended `fail` or `info`, in the server's or client's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The worker (session) that issued the op; it outlives process ids, which change after `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
}

impl Event {
    /// An `info` event by a named actor (`"nemesis"`, `"status"`, `"router"`, ...) with no key, node,
    /// error or session; index and time are 0 until the recorder (or a test) sets them.
    pub fn named(
        actor: impl Into<String>,
        f: impl Into<String>,
        value: serde_json::Value,
    ) -> Event {
        Event {
            index: 0,
            time: 0,
            process: Process::Named(actor.into()),
            kind: EventType::Info,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
            session: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_event_is_an_info_line_with_nothing_optional() {
        let e = Event::named(
            "nemesis",
            "start-partition",
            serde_json::json!({"fault": "kill-all"}),
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"index":0,"time":0,"process":"nemesis","type":"info","f":"start-partition","value":{"fault":"kill-all"}}"#
        );
    }
}
