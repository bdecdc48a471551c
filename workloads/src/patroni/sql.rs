//! The workloads as SQL on one table, and what PostgreSQL's errors mean for an op's outcome.
//!
//! Every op is one statement in its own (autocommit) transaction: a register is `v`, an append key's list
//! is `l` (`bigint[]`), one row per key. Compare-and-set is an `UPDATE ... WHERE v = old` (no row
//! updated: a certain failure); an append is an upsert extending the array, which PostgreSQL applies on
//! the row's latest version under its lock, so concurrent appends cannot overwrite each other.
//!
//! A transaction (the txn workloads) is one simple-query message: `SET TRANSACTION ISOLATION LEVEL
//! SERIALIZABLE` and a statement per micro-op. PostgreSQL runs the statements of one message as one
//! implicit transaction, committed at its end and rolled back whole on any error, and the message holds
//! the shared connection for its whole length, so other workers' statements cannot land inside it.

use crate::client::{unknown, Outcome, ReadValue};
use crate::generator::{OpKind, OpSpec};
use protocol::{MicroOp, TxnRead};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, SimpleQueryMessage};

/// Made once per run, through the primary.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS lh (k text PRIMARY KEY, v bigint, l bigint[])";
pub const READ: &str = "SELECT v, l FROM lh WHERE k = $1";
const WRITE: &str =
    "INSERT INTO lh (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v";
const CAS: &str = "UPDATE lh SET v = $3 WHERE k = $1 AND v = $2";
const APPEND: &str = "INSERT INTO lh (k, l) VALUES ($1, ARRAY[$2::bigint]) \
                      ON CONFLICT (k) DO UPDATE SET l = coalesce(lh.l, '{}') || $2::bigint";

/// What to run for `op` (reads are queries, see [`READ`]) and its parameters. Transactions are one
/// message instead ([`txn_batch`]); one here reads.
pub fn statement(op: &OpSpec) -> (&'static str, Vec<i64>) {
    match op.kind {
        OpKind::Read | OpKind::Txn(_) => (READ, vec![]),
        OpKind::Write(v) => (WRITE, vec![v]),
        OpKind::Cas { from, to } => (CAS, vec![from, to]),
        OpKind::Append(v) => (APPEND, vec![v]),
    }
}

/// The outcome of a statement that affected `rows` rows: only a compare-and-set can miss.
pub fn done(op: &OpSpec, rows: u64) -> Outcome {
    match op.kind {
        OpKind::Cas { .. } if rows == 0 => Outcome::Fail {
            error: "cas_failed: the value was not the expected one".into(),
        },
        _ => Outcome::Ok { read: None },
    }
}

/// A read's row: the list when the key holds one, else the register (`None`: absent).
pub fn read_value(row: Option<&Row>) -> Result<Option<ReadValue>, String> {
    let Some(row) = row else { return Ok(None) };
    let v: Option<i64> = row.try_get(0).map_err(|e| format!("reading v: {e}"))?;
    let l: Option<Vec<i64>> = row.try_get(1).map_err(|e| format!("reading l: {e}"))?;
    Ok(match (l, v) {
        (Some(l), _) => Some(ReadValue::List(l)),
        (None, Some(v)) => Some(ReadValue::Int(v)),
        (None, None) => None,
    })
}

/// The one message that runs a transaction's micro-ops (see the module doc). Keys and values are
/// inlined, as a simple query takes no parameters: values are integers, keys quoted.
pub fn txn_batch(mops: &[MicroOp]) -> String {
    let mut q = String::from("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;");
    for m in mops {
        let k = quote(m.key());
        q.push_str(&match m {
            // Exactly one row whether or not the key exists, so rows pair with reads in order.
            MicroOp::Read { .. } => {
                format!(" SELECT v, l FROM (SELECT 1) one LEFT JOIN lh ON k = {k};")
            }
            MicroOp::Write { value, .. } => format!(
                " INSERT INTO lh (k, v) VALUES ({k}, {value}) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
            ),
            MicroOp::Append { value, .. } => format!(
                " INSERT INTO lh (k, l) VALUES ({k}, ARRAY[{value}::bigint]) \
                 ON CONFLICT (k) DO UPDATE SET l = coalesce(lh.l, '{{}}') || {value}::bigint;"
            ),
        });
    }
    q
}

/// A key as an SQL string literal.
fn quote(key: &str) -> String {
    format!("'{}'", key.replace('\'', "''"))
}

/// The transaction's micro-ops with its reads filled in from the rows of [`txn_batch`].
pub fn txn_result(mops: &[MicroOp], msgs: &[SimpleQueryMessage]) -> Result<Vec<MicroOp>, String> {
    let mut rows = msgs.iter().filter_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    });
    let mut done = Vec::with_capacity(mops.len());
    for m in mops {
        let MicroOp::Read { key, .. } = m else {
            done.push(m.clone());
            continue;
        };
        let row = rows.next().ok_or("fewer rows than reads")?;
        let value = match (row.get(1), row.get(0)) {
            (Some(l), _) => Some(TxnRead::List(int_array(l)?)),
            (None, Some(v)) => Some(TxnRead::Int(
                v.parse()
                    .map_err(|_| format!("v {v:?} is not an integer"))?,
            )),
            (None, None) => None,
        };
        done.push(MicroOp::Read {
            key: key.clone(),
            value,
        });
    }
    Ok(done)
}

/// A `bigint[]` in PostgreSQL's text form, `{1,2,3}`.
fn int_array(text: &str) -> Result<Vec<i64>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("l {text:?} is not an array"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|v| {
            v.parse()
                .map_err(|_| format!("l {text:?} holds a non-integer"))
        })
        .collect()
}

/// Whether PostgreSQL refused the statement because the server is not (or no longer) the primary.
pub fn not_primary(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
}

/// An error of a statement. The server rolled the statement back for errors in the statement itself
/// (data, integrity, syntax, a read-only server, a serialization conflict): certain. Anything else (the
/// connection dropped, the server shut down, possibly while the commit waited for a standby) may come
/// after the commit: unknown.
pub fn failed(op: &OpSpec, e: &tokio_postgres::Error) -> Outcome {
    let error = describe(e);
    match e.code().map(SqlState::code) {
        Some(c) if rolled_back(c) => Outcome::Fail { error },
        _ => unknown(op, error),
    }
}

/// The server's own words for an error: tokio-postgres displays a server error as just "db error".
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// SQLSTATEs (or classes) after which the statement certainly took no effect.
fn rolled_back(code: &str) -> bool {
    code == SqlState::READ_ONLY_SQL_TRANSACTION.code()
        || ["22", "23", "40", "42"].iter().any(|c| code.starts_with(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_failures_and_misses_map_to_outcomes() {
        let cas = OpSpec {
            key: "k".into(),
            kind: OpKind::Cas { from: 1, to: 2 },
        };
        assert_eq!(statement(&cas), (CAS, vec![1, 2]));
        assert!(matches!(done(&cas, 0), Outcome::Fail { .. }));
        assert_eq!(done(&cas, 1), Outcome::Ok { read: None });
        assert!(rolled_back("25006") && rolled_back("23505") && rolled_back("40001"));
        // Shutdown and connection errors may come after the commit.
        assert!(!rolled_back("57P01") && !rolled_back("08006") && !rolled_back("XX000"));
        assert_eq!(read_value(None), Ok(None));
    }

    #[test]
    fn a_transaction_is_one_message_and_its_rows_fill_the_reads() {
        let mops = vec![
            MicroOp::Read {
                key: "x".into(),
                value: None,
            },
            MicroOp::Append {
                key: "it's".into(),
                value: 7,
            },
        ];
        let q = txn_batch(&mops);
        assert!(q.starts_with("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;"));
        assert!(
            q.contains("'it''s'") && q.contains("ARRAY[7::bigint]"),
            "{q}"
        );
        assert_eq!(int_array("{}"), Ok(vec![]));
        assert_eq!(int_array("{1,22,3}"), Ok(vec![1, 22, 3]));
        assert!(int_array("1,2").is_err() && int_array("{1,x}").is_err());
        assert!(txn_result(&mops, &[]).is_err(), "a read with no row");
    }
}
