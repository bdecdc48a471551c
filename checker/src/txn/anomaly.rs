//! What the checker found: anomalies, each with the transactions involved and a sentence.

use serde::Serialize;

/// One anomaly. `name` is Elle's: `G0`, `G1a`, `G1b`, `G1c`, `G-single`, `G2-item` (cycles may carry
/// `-process` or `-realtime`), `internal`, `lost-update`, `incompatible-order`, `duplicate-elements`,
/// `garbage-read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub name: String,
    /// Transactions involved (indexes into the history), in the order the sentence names them.
    pub txns: Vec<usize>,
    pub sentence: String,
}

/// Anomalies found, keeping every count but only the first few of each name in full.
#[derive(Debug, Default)]
pub struct Found {
    pub list: Vec<Anomaly>,
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// How many anomalies of one name are kept in full.
pub const KEPT_PER_NAME: usize = 8;

impl Found {
    pub fn add(&mut self, name: &str, txns: Vec<usize>, sentence: impl FnOnce() -> String) {
        let n = self.counts.entry(name.to_string()).or_insert(0);
        *n += 1;
        if *n <= KEPT_PER_NAME {
            self.list.push(Anomaly {
                name: name.to_string(),
                txns,
                sentence: sentence(),
            });
        }
    }
}

/// `T12`: how sentences name a transaction (its index in the history).
pub fn t(i: impl Into<u64>) -> String {
    format!("T{}", i.into())
}

/// A list as EDN shows it: `[1 2 3]`, long lists cut in the middle.
pub fn list_words(xs: &[i64]) -> String {
    let show = |s: &[i64]| s.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    if xs.len() <= 12 {
        format!("[{}]", show(xs))
    } else {
        format!(
            "[{} ... {}] ({} values)",
            show(&xs[..4]),
            show(&xs[xs.len() - 4..]),
            xs.len()
        )
    }
}

/// How many transactions an anomaly about a group (a lost update) names.
pub const KEPT_TXNS: usize = 8;

/// `T1, T4, T9` or, for a large group, the first few `and 1234 more`.
pub fn some_names(txns: &[u32]) -> String {
    let shown: Vec<String> = txns.iter().take(KEPT_TXNS).map(|&x| t(x)).collect();
    match txns.len().saturating_sub(KEPT_TXNS) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
