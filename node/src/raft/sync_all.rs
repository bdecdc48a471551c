//! `--replication sync-all`: a write is answered only once every node has it durable (the seed's
//! synchronous replication). Commit stays Raft's quorum rule (so safety and reads are unchanged); only
//! the acknowledgement waits here for the slowest follower.

use super::types::{ClientError, ClientResult, RequestId};
use crate::api::ErrorCode;
use std::collections::BTreeMap;

/// Applied writes whose answers wait for every follower's match index to reach them.
#[derive(Debug, Default)]
pub(super) struct SyncAcks {
    waiting: BTreeMap<u64, Vec<(RequestId, ClientResult)>>,
}

impl SyncAcks {
    pub fn defer(&mut self, index: u64, id: RequestId, result: ClientResult) {
        self.waiting.entry(index).or_default().push((id, result));
    }

    /// Answers for every write at or below `all_matched` (the lowest match index over all nodes).
    pub fn release(&mut self, all_matched: u64) -> Vec<(RequestId, ClientResult)> {
        let rest = self.waiting.split_off(&(all_matched + 1));
        std::mem::replace(&mut self.waiting, rest)
            .into_values()
            .flatten()
            .collect()
    }

    /// Leadership lost: the writes are committed on a quorum but not known to be everywhere, so their
    /// outcome (as sync-all defines it) is unknown.
    pub fn abandon(&mut self) -> Vec<(RequestId, ClientResult)> {
        std::mem::take(&mut self.waiting)
            .into_values()
            .flatten()
            .map(|(id, _)| {
                let err = ClientError {
                    code: ErrorCode::Timeout,
                    message: "leadership lost before every node confirmed the write (sync-all); \
                              it may have taken effect"
                        .into(),
                    leader: None,
                };
                (id, Err(err))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::ClientReply;

    #[test]
    fn answers_wait_for_the_lowest_match_index() {
        let mut s = SyncAcks::default();
        s.defer(3, 1, Ok(ClientReply::Written));
        s.defer(5, 2, Ok(ClientReply::Written));
        assert!(s.release(2).is_empty());
        assert_eq!(s.release(4).iter().map(|r| r.0).collect::<Vec<_>>(), [1]);
        let lost = s.abandon();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].1.as_ref().unwrap_err().code, ErrorCode::Timeout);
        assert!(s.release(u64::MAX - 1).is_empty());
    }
}
