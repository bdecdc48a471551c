//! Transactions (`POST /txn`): evaluating micro-ops against the map in one step, and what a read-only
//! transaction reads. A transaction with a write is one log entry (`Command::Txn`); one with reads only
//! takes the read path of the node's read mode, reading every key from the same applied state. How a
//! transaction acts on the map is the state machine's (`state_machine::evaluate`).

use super::state_machine::{evaluate, KvState, NotAList};
use super::{ClientReply, Command, RaftNode, RequestId};
use crate::api::MicroOp;

/// What a read path serves: one key (`GET /kv/{key}`) or a read-only transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadQuery {
    Key(String),
    Txn(Vec<MicroOp>),
}

impl RaftNode {
    /// A transaction with a write goes through the log as one entry; one with reads only is a read.
    pub(super) fn client_txn(&mut self, id: RequestId, ops: Vec<MicroOp>) {
        if ops.iter().all(MicroOp::is_read) {
            self.client_read(id, ReadQuery::Txn(ops));
        } else {
            self.client_write(id, Command::Txn { ops }, None);
        }
    }

    /// The map as it will be once everything in the log is applied, for `keys` only: an async leader
    /// answers from its latest log (see `answer_local`).
    pub(super) fn latest_view<'a>(&self, keys: impl Iterator<Item = &'a str>) -> KvState {
        let tail = self.log.tail_after(self.log.applied());
        let mut view = KvState::default();
        for k in keys {
            view.set(k, self.kv.speculate(k, tail));
        }
        view
    }

    /// What `query` reads in `kv`.
    pub(super) fn read_in(kv: &KvState, query: &ReadQuery) -> ClientReply {
        match query {
            ReadQuery::Key(key) => ClientReply::of_read(kv.get(key).cloned()),
            ReadQuery::Txn(ops) => match evaluate(kv, ops) {
                Ok((ops, _)) => ClientReply::Txn { ops },
                // Reads only: no append to trip over.
                Err(NotAList) => unreachable!("a read-only transaction has no append"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::state_machine::Stored;
    use super::*;
    use crate::api::TxnRead;

    fn app(k: &str, v: i64) -> MicroOp {
        MicroOp::Append {
            key: k.into(),
            value: v,
        }
    }
    fn r(k: &str) -> MicroOp {
        MicroOp::Read {
            key: k.into(),
            value: None,
        }
    }
    fn read_of(k: &str, v: Option<TxnRead>) -> MicroOp {
        MicroOp::Read {
            key: k.into(),
            value: v,
        }
    }

    #[test]
    fn a_transaction_reads_its_own_writes_and_applies_all_or_nothing() {
        let mut kv = KvState::default();
        let t1 = Command::Txn {
            ops: vec![
                r("x"),
                app("x", 1),
                app("x", 2),
                r("x"),
                MicroOp::Write {
                    key: "y".into(),
                    value: 9,
                },
                r("y"),
            ],
        };
        let applied = kv.apply(&t1);
        let want = vec![
            read_of("x", None),
            app("x", 1),
            app("x", 2),
            read_of("x", Some(TxnRead::List(vec![1, 2]))),
            MicroOp::Write {
                key: "y".into(),
                value: 9,
            },
            read_of("y", Some(TxnRead::Int(9))),
        ];
        assert_eq!(applied, super::super::state_machine::Applied::Txn(want));
        // An append to the integer at y aborts the whole transaction: x keeps [1, 2].
        let t2 = Command::Txn {
            ops: vec![app("x", 3), app("y", 4)],
        };
        assert_eq!(
            kv.apply(&t2),
            super::super::state_machine::Applied::NotAList
        );
        assert_eq!(kv.get("x"), Some(&Stored::List(vec![1, 2])));
        assert_eq!(kv.get("y"), Some(&Stored::Int(9)));
    }

    #[test]
    fn speculation_follows_transactions_in_the_tail() {
        let kv = KvState::default();
        let tail = [super::super::Entry {
            term: 1,
            index: 1,
            command: Command::Txn {
                ops: vec![app("x", 5), r("z"), app("x", 6)],
            },
        }];
        assert_eq!(kv.speculate("x", &tail), Some(Stored::List(vec![5, 6])));
        assert_eq!(kv.speculate("z", &tail), None);
    }
}
