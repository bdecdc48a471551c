//! Client writes and log reads as proposals: appending, matching results by (term, index) at apply,
//! and answering what was pending when leadership is lost.

use super::leader_state::Proposal;
use super::state_machine::{Applied, Stored};
use super::{ClientError, ClientReply, Command, RaftNode, RequestId};
use crate::api::{ErrorCode, Replication, Role};

/// An append to an integer key is committed but changes nothing: a definite refusal.
const NOT_A_LIST: &str =
    "the key holds an integer, not a list; append needs a list key (or an absent one)";

impl RaftNode {
    pub(super) fn client_write(
        &mut self,
        id: RequestId,
        cmd: Command,
        cas: Option<(String, Option<i64>)>,
    ) {
        if self.role != Role::Leader {
            return self.refuse_not_leader(id);
        }
        if self.in_lease_wait() {
            return self.fail(
                id,
                ErrorCode::Unavailable,
                "new leader waiting for the previous leader's lease to expire",
            );
        }
        if self.cfg.replication == Replication::SyncAll {
            if let Some(peer) = self.unreachable_peer() {
                let msg = format!(
                    "sync-all: {peer} has not answered for an election timeout; a write cannot reach every node"
                );
                return self.fail(id, ErrorCode::Unavailable, msg);
            }
        }
        if self.cfg.replication == Replication::Async {
            // Async: acknowledge once in our own log (the Ready persists it before answering). A cas is
            // judged now against our latest log, applied or not, so its answer is final.
            let tail = self.log.tail_after(self.log.applied());
            if let Some((key, from)) = cas {
                let current = self.kv.speculate(&key, tail);
                if current != from.map(Stored::Int) {
                    return self.fail(id, ErrorCode::CasFailed, "cas precondition failed");
                }
            }
            if let Command::Append { key, .. } = &cmd {
                if !self.kv.accepts_append(key, tail) {
                    return self.fail(id, ErrorCode::BadRequest, NOT_A_LIST);
                }
            }
            // A transaction's reads are answered now, from the same latest log its writes follow.
            let reply = match &cmd {
                Command::Txn { ops } => {
                    let view = self.latest_view(ops.iter().map(|o| o.key()));
                    match super::state_machine::evaluate(&view, ops) {
                        Ok((ops, _)) => ClientReply::Txn { ops },
                        Err(_) => return self.fail(id, ErrorCode::BadRequest, NOT_A_LIST),
                    }
                }
                _ => ClientReply::Written,
            };
            self.propose(cmd);
            return self.respond(id, Ok(reply));
        }
        self.propose_for(id, cmd, false);
    }

    /// Leader: propose `cmd` for client request `id`, which is answered when that (term, index) applies.
    pub(super) fn propose_for(&mut self, id: RequestId, cmd: Command, is_read: bool) {
        let index = self.propose(cmd);
        let term = self.term;
        self.lead.track(index, Proposal { term, id, is_read });
    }

    /// Leader: append a command of the current term; replication goes out at the end of the turn.
    pub(super) fn propose(&mut self, cmd: Command) -> u64 {
        let index = self.log.append_new(self.term, cmd);
        let lag = self.cfg.replication == Replication::Async;
        self.lead.appended(index, self.clock.now(), lag);
        index
    }

    /// Apply committed entries and answer what waited for them.
    pub(super) fn apply(&mut self) {
        while let Some(entry) = self.log.next_to_apply() {
            let (index, term) = (entry.index, entry.term);
            let result = self.kv.apply(&entry.command);
            self.log.applied_to(index);
            let Some(p) = self.lead.take_proposal(index) else {
                continue;
            };
            let reply = if p.term != term {
                // Our entry was replaced by another leader's: it will never commit, but say "unknown"
                // (the contract: a proposal is never answered with a definite error once proposed).
                Err(timeout_error(
                    "the proposal was replaced by another leader's entry",
                ))
            } else {
                match result {
                    Applied::Written | Applied::Noop => Ok(ClientReply::Written),
                    Applied::Read(value) => Ok(ClientReply::of_read(value)),
                    Applied::Txn(ops) => Ok(ClientReply::Txn { ops }),
                    Applied::NotAList => Err(ClientError {
                        code: ErrorCode::BadRequest,
                        message: NOT_A_LIST.into(),
                        leader: None,
                    }),
                    Applied::CasFailed => Err(ClientError {
                        code: ErrorCode::CasFailed,
                        message: "cas precondition failed".into(),
                        leader: None,
                    }),
                }
            };
            let reply = match reply {
                Err(e) if p.is_read && e.code == ErrorCode::Timeout => Err(unavailable(
                    "the read's log entry was replaced; reads have no effect",
                )),
                other => other,
            };
            if self.cfg.replication == Replication::SyncAll && !p.is_read && reply.is_ok() {
                self.lead.sync_acks.defer(index, p.id, reply);
            } else {
                self.respond(p.id, reply);
            }
        }
        if self.cfg.replication == Replication::SyncAll && self.role == Role::Leader {
            self.release_sync_acks();
        }
        self.serve_applied_reads();
    }

    /// Answer the pending proposals on losing leadership: writes `Timeout` (they may still commit), log
    /// reads `Unavailable` (they have no effect).
    pub(super) fn fail_proposals(&mut self, proposals: Vec<Proposal>) {
        for p in proposals {
            let err = if p.is_read {
                unavailable("leadership lost before the read committed")
            } else {
                timeout_error("leadership lost with the proposal pending; it may still commit")
            };
            self.respond(p.id, Err(err));
        }
    }
}

fn timeout_error(msg: &str) -> ClientError {
    ClientError {
        code: ErrorCode::Timeout,
        message: msg.into(),
        leader: None,
    }
}

pub(super) fn unavailable(msg: &str) -> ClientError {
    ClientError {
        code: ErrorCode::Unavailable,
        message: msg.into(),
        leader: None,
    }
}
