//! The term ceiling ([`MAX_TERM`]): a forged term is never adopted, whatever the message, and a node
//! whose stored term is already at or past the ceiling never campaigns (so `term + 1` never overflows).

use super::tests::{config, leader_of_three, ms};
use super::*;

fn from_n2(term: u64, body: MessageBody) -> Message {
    Message {
        from: "n2".into(),
        to: "n1".into(),
        term,
        body,
    }
}

/// One message of every kind that can carry a higher term.
fn every_kind() -> Vec<MessageBody> {
    vec![
        MessageBody::PreVote {
            last_index: u64::MAX,
            last_term: u64::MAX,
        },
        MessageBody::Vote {
            last_index: u64::MAX,
            last_term: u64::MAX,
        },
        MessageBody::PreVoteResp {
            granted: true,
            lease_remaining_us: 0,
        },
        MessageBody::VoteResp {
            granted: true,
            lease_remaining_us: 0,
        },
        MessageBody::Append {
            prev_index: 0,
            prev_term: 0,
            entries: vec![],
            commit: 0,
            round: 0,
        },
        MessageBody::AppendResp {
            success: false,
            match_index: 0,
            reject_index: 0,
            hint: 0,
            last_index: 0,
            round: 0,
        },
    ]
}

#[test]
fn a_term_past_the_ceiling_is_never_adopted_by_a_leader_or_a_follower() {
    for term in [u64::MAX, u64::MAX - 1, MAX_TERM + 1] {
        for body in every_kind() {
            let (mut leader, t) = leader_of_three(ReadMode::ReadIndex);
            leader.step(from_n2(term, body.clone()), t);
            let st = leader.status(t);
            assert_eq!((st.role, st.term), (Role::Leader, 1), "{term} {body:?}");
            assert!(leader.ready().hard_state.is_none(), "{term} {body:?}");

            let mut follower = RaftNode::new(
                config("n1", &["n1", "n2", "n3"], ReadMode::ReadIndex),
                Restored::default(),
                ms(0),
            );
            follower.step(from_n2(term, body.clone()), ms(1));
            assert_eq!(follower.status(ms(1)).term, 0, "{term} {body:?}");
            let r = follower.ready();
            assert!(r.hard_state.is_none() && r.messages.is_empty(), "{body:?}");
        }
    }
}

#[test]
fn the_ceiling_itself_is_still_a_term() {
    let mut follower = RaftNode::new(
        config("n1", &["n1", "n2", "n3"], ReadMode::ReadIndex),
        Restored::default(),
        ms(0),
    );
    let heartbeat = MessageBody::Append {
        prev_index: 0,
        prev_term: 0,
        entries: vec![],
        commit: 0,
        round: 0,
    };
    follower.step(from_n2(MAX_TERM, heartbeat), ms(1));
    let st = follower.status(ms(1));
    assert_eq!((st.term, st.leader.as_deref()), (MAX_TERM, Some("n2")));
}

#[test]
fn a_node_stored_at_or_past_the_ceiling_never_campaigns_nor_overflows() {
    for term in [MAX_TERM, u64::MAX] {
        let restored = Restored {
            hard_state: HardState {
                term,
                voted_for: None,
            },
            ..Restored::default()
        };
        let mut n = RaftNode::new(
            config("n1", &["n1", "n2", "n3"], ReadMode::ReadIndex),
            restored,
            ms(0),
        );
        for i in 1..=400 {
            n.tick(ms(5 * i));
            let r = n.ready();
            assert!(r.messages.is_empty(), "term {term}: {:?}", r.messages);
        }
        let st = n.status(ms(2000));
        assert_eq!((st.role, st.term), (Role::Follower, term));
    }
}
