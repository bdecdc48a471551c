//! The inference's linearizability verdict as a [`CheckResult`], so `check(.., ModelKind::ListAppend, ..)`
//! and `harness check --model list-append` work like the other models.

use super::{
    check_append, normalize_txn_ops, AppendError, AppendOptions, AppendReport, LINEARIZABLE,
};
use crate::check::CheckResult;
use crate::explain::Counterexample;
use crate::ops::History;
use crate::parse_error::ParseError;
use std::time::Instant;

impl From<AppendError> for ParseError {
    fn from(e: AppendError) -> Self {
        ParseError::UnsupportedOp {
            at: e.location(),
            message: match &e {
                AppendError::BadOp { message, .. } => message.clone(),
                other => {
                    let full = other.to_string();
                    let prefix = format!("{}: ", other.location());
                    full.strip_prefix(&prefix).unwrap_or(&full).to_string()
                }
            },
        }
    }
}

/// Normalises Elle txns, runs the inference and reports linearizability.
pub(crate) fn check_result(history: &History) -> Result<CheckResult, ParseError> {
    let start = Instant::now();
    let h = if history.ops.iter().any(|o| o.f == "txn") {
        normalize_txn_ops(history.clone())?
    } else {
        history.clone()
    };
    let report = check_append(&h, &AppendOptions::default())?;
    Ok(to_result(&h, &report, start))
}

fn to_result(h: &History, report: &AppendReport, start: Instant) -> CheckResult {
    let first = report.first_violation(LINEARIZABLE);
    let valid = report.guarantees.linearizable;
    let counterexample = first.map(|v| Counterexample {
        key: Some(v.key.clone()),
        explanation: format!("key {}: {}.", v.key, v.sentence),
        // Its words are the append checker's, not built op by op; the ops are `op` and `window`.
        sentence: None,
        op: v.ops[0].clone(),
        prefix: Vec::new(),
        prefix_len: 0,
        state: String::new(),
        window: v.ops[1..].to_vec(),
    });
    let explanation = match &counterexample {
        Some(c) => c.explanation.clone(),
        None => format!(
            "every key's reads are prefixes of one order of appends that respects real time: {} ops on {} key(s)",
            report.ops, report.keys
        ),
    };
    CheckResult {
        valid,
        model: "list-append".into(),
        ops: h.op_count(),
        keys: report.keys,
        info_ops: h.info_count(),
        failed_ops: h.failed_ops,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
        counterexample,
        unknown_reason: None,
        explanation,
        // Keys are not listed one by one: the violations name them.
        per_key: Vec::new(),
    }
}
