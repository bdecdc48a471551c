//! The workloads as SQL on one table, and what PostgreSQL's errors mean for an op's outcome.
//!
//! Every op is one statement in its own (autocommit) transaction: a register is `v`, an append key's list
//! is `l` (`bigint[]`), one row per key. Compare-and-set is an `UPDATE ... WHERE v = old` (no row
//! updated: a certain failure); an append is an upsert extending the array, which PostgreSQL applies on
//! the row's latest version under its lock, so concurrent appends cannot overwrite each other.

use crate::client::{unknown, Outcome, ReadValue};
use crate::generator::{OpKind, OpSpec};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

/// Made once per run, through the primary.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS lh (k text PRIMARY KEY, v bigint, l bigint[])";
pub const READ: &str = "SELECT v, l FROM lh WHERE k = $1";
const WRITE: &str =
    "INSERT INTO lh (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v";
const CAS: &str = "UPDATE lh SET v = $3 WHERE k = $1 AND v = $2";
const APPEND: &str = "INSERT INTO lh (k, l) VALUES ($1, ARRAY[$2::bigint]) \
                      ON CONFLICT (k) DO UPDATE SET l = coalesce(lh.l, '{}') || $2::bigint";

/// What to run for `op` (reads are queries, see [`READ`]) and its parameters. Transactions are refused
/// before this (`no_txn`); one here reads.
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

/// Whether PostgreSQL refused the statement because the server is not (or no longer) the primary.
pub fn not_primary(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION)
}

/// An error of a statement. The server rolled the statement back for errors in the statement itself
/// (data, integrity, syntax, a read-only server, a serialization conflict): certain. Anything else (the
/// connection dropped, the server shut down, possibly while the commit waited for a standby) may come
/// after the commit: unknown.
pub fn failed(op: &OpSpec, e: &tokio_postgres::Error) -> Outcome {
    let error = match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    };
    match e.code().map(SqlState::code) {
        Some(c) if rolled_back(c) => Outcome::Fail { error },
        _ => unknown(op, error),
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
}
