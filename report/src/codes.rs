//! What a `fail` or `info` answer means: the error code of a completion, and whether it says the system
//! could not serve the request.
//!
//! Clients word errors as `<code>: <message>` (`not_leader: ...`, `cas_failed: ...`), or describe a
//! transport problem (`could not connect: ...`, `timeout: no answer in time`, `request failed: ...`).

/// The short code of an error: a server's code (`unavailable`, `not_leader`, `cas_failed`, `timeout`,
/// `bad_request`), `refused` (no connection), `transport` (the connection broke), `http_<status>`,
/// `etcd_<code>`, `other`; `unknown` when the completion carries no error.
pub fn code(error: Option<&str>) -> String {
    let Some(e) = error else {
        return "unknown".into();
    };
    let head = e.split(':').next().unwrap_or("").trim();
    if head.starts_with("could not connect") {
        return "refused".into();
    }
    if head.starts_with("request failed") || head.starts_with("reading the answer") {
        return "transport".into();
    }
    if let Some(status) = head.strip_prefix("HTTP ") {
        return format!("http_{status}");
    }
    if let Some(c) = head.strip_prefix("etcd code ") {
        return format!("etcd_{c}");
    }
    if !head.is_empty() && head.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return head.into();
    }
    "other".into()
}

/// Whether an answer with this code still means the system served the request: a `cas_failed` is a
/// correct answer (the precondition did not hold), so it counts as available. Every other failure
/// (unavailable, not_leader after the retry, refused, timeouts, broken connections) does not.
pub fn served(code: &str) -> bool {
    code == "cas_failed"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_every_client_wording() {
        for (error, want) in [
            ("not_leader: leader is n3", "not_leader"),
            ("unavailable: no leader", "unavailable"),
            ("cas_failed: value is 3", "cas_failed"),
            ("timeout: no answer in time", "timeout"),
            (
                "could not connect: Connection refused (os error 111)",
                "refused",
            ),
            ("request failed: connection reset", "transport"),
            ("reading the answer: eof", "transport"),
            ("HTTP 502: bad gateway", "http_502"),
            ("etcd code 14: unavailable", "etcd_14"),
            ("Something Else", "other"),
        ] {
            assert_eq!(code(Some(error)), want, "{error}");
        }
        assert_eq!(code(None), "unknown");
        assert!(served("cas_failed"));
        assert!(!served("unavailable") && !served("timeout") && !served("refused"));
    }
}
