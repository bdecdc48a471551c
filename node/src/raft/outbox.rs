//! What a turn produced for the outside, held until `ready()`: peer messages and client answers. A
//! leader's read answers carry its term so a step-down before `ready()` can still withdraw them.

use super::types::{ClientError, ClientResult, Message, RequestId};

#[derive(Debug, Default)]
pub(super) struct Outbox {
    messages: Vec<Message>,
    /// Answers, with the term of the leadership a leader-served read depends on.
    responses: Vec<(RequestId, ClientResult, Option<u64>)>,
}

impl Outbox {
    pub fn send(&mut self, msg: Message) {
        self.messages.push(msg);
    }

    /// Answer request `id`; `term`: a leader's read, valid only while that leadership lasts.
    pub fn respond(&mut self, id: RequestId, result: ClientResult, term: Option<u64>) {
        self.responses.push((id, result, term));
    }

    /// Leadership of `term` lost: its read answers not yet handed out become `error`.
    pub fn withdraw_reads(&mut self, term: u64, error: ClientError) {
        for (_, result, t) in self.responses.iter_mut() {
            if *t == Some(term) {
                *result = Err(error.clone());
                *t = None;
            }
        }
    }

    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.messages)
    }

    pub fn take_responses(&mut self) -> Vec<(RequestId, ClientResult)> {
        self.responses.drain(..).map(|(id, r, _)| (id, r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;
    use crate::raft::ClientReply;

    #[test]
    fn only_reads_of_the_lost_term_are_withdrawn() {
        let mut o = Outbox::default();
        let read = Ok(ClientReply::Read { value: Some(1) });
        o.respond(1, read.clone(), Some(3));
        o.respond(2, read.clone(), Some(2));
        o.respond(3, Ok(ClientReply::Written), None);
        let lost = ClientError {
            code: ErrorCode::Unavailable,
            message: "lost".into(),
            leader: None,
        };
        o.withdraw_reads(3, lost.clone());
        let got = o.take_responses();
        assert_eq!(got[0], (1, Err(lost)));
        assert_eq!(got[1], (2, read));
        assert_eq!(got[2], (3, Ok(ClientReply::Written)));
        assert!(o.take_responses().is_empty());
        assert!(o.take_messages().is_empty());
    }
}
