//! Focused unit tests of the core; the randomized cluster simulation lives in `node/tests/sim.rs`.

use super::*;
use crate::api::Replication;
use rand::{Rng, SeedableRng};

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn config(id: &str, members: &[&str], mode: ReadMode) -> Config {
    Config {
        id: id.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        read_mode: mode,
        replication: Replication::Quorum,
        heartbeat_interval: ms(50),
        election_timeout: ms(300),
        lease: ms(1500),
        lease_votes: Default::default(),
        max_drift: 0.05,
        pre_vote: true,
        check_quorum: true,
        max_batch: 4,
        async_lag: Duration::ZERO,
        snapshot_every: 0,
        seed: 1,
    }
}

/// Tick a node until it leads (one-node cluster) and hand back its Ready stream's leftovers.
fn one_node_leader(mode: ReadMode) -> (RaftNode, Duration) {
    let mut n = RaftNode::new(config("n1", &["n1"], mode), Restored::default(), ms(0));
    let mut t = ms(0);
    while n.status(t).role != Role::Leader {
        t += ms(5);
        n.tick(t);
        n.ready();
    }
    (n, t)
}

#[test]
fn one_node_answers_writes_and_reads_in_the_ready_that_persists_them() {
    for mode in ReadMode::ALL {
        let (mut n, t) = one_node_leader(mode);
        n.client(
            1,
            ClientRequest::Write {
                key: "a".into(),
                value: 7,
            },
            t,
        );
        let r = n.ready();
        assert_eq!(r.append.len(), 1, "{mode}");
        assert_eq!(r.responses, vec![(1, Ok(ClientReply::Written))], "{mode}");
        n.client(2, ClientRequest::Read { key: "a".into() }, t);
        let r = n.ready();
        assert_eq!(
            r.responses,
            vec![(2, Ok(ClientReply::Read { value: Some(7) }))],
            "{mode}"
        );
        n.client(
            3,
            ClientRequest::Cas {
                key: "a".into(),
                from: None,
                to: 1,
            },
            t,
        );
        let r = n.ready();
        assert_eq!(
            r.responses[0].1.as_ref().unwrap_err().code,
            ErrorCode::CasFailed
        );
    }
}

#[test]
fn restarted_lease_node_waits_out_a_full_lease_before_serving() {
    let restored = || Restored {
        hard_state: HardState {
            term: 3,
            voted_for: None,
        },
        snapshot: None,
        entries: vec![],
    };
    // refuse: no campaign while its own guard runs.
    let mut cfg = config("n1", &["n1"], ReadMode::Lease);
    cfg.lease_votes = api::LeaseVotes::Refuse;
    let mut n = RaftNode::new(cfg, restored(), ms(10));
    n.tick(ms(1000));
    let st = n.status(ms(1000));
    assert_eq!(st.role, Role::Follower);
    assert!(st.lease.follower_countdown_ms > 500.0, "{st:?}");
    n.tick(ms(1700));
    assert_eq!(n.status(ms(1700)).role, Role::Leader);

    // report: it campaigns after an election timeout, then leads but serves nothing until the guard,
    // scaled by the drift bound, has passed; /status shows the wait.
    let guard = 1500.0 * 1.05 * 1.05 / 0.95;
    let mut n = RaftNode::new(config("n1", &["n1"], ReadMode::Lease), restored(), ms(10));
    let mut t = ms(10);
    while n.status(t).role != Role::Leader {
        t += ms(5);
        n.tick(t);
        n.ready();
    }
    assert!(t < ms(700), "took {t:?}");
    let st = n.status(t);
    assert!(st.lease_wait_ms > guard - 700.0, "{st:?}");
    let write = |n: &mut RaftNode, id, t| {
        let req = ClientRequest::Write {
            key: "a".into(),
            value: 1,
        };
        n.client(id, req, t);
        n.ready().responses
    };
    let refused = write(&mut n, 1, t);
    assert_eq!(
        refused[0].1.as_ref().unwrap_err().code,
        ErrorCode::Unavailable
    );
    let after = ms(10) + Duration::from_secs_f64(guard / 1000.0) + ms(5);
    n.tick(after);
    assert_eq!(n.status(after).lease_wait_ms, 0.0);
    assert_eq!(write(&mut n, 2, after), vec![(2, Ok(ClientReply::Written))]);
}

pub(super) fn leader_of_three(mode: ReadMode) -> (RaftNode, Duration) {
    leader_of_three_with(config("n1", &["n1", "n2", "n3"], mode))
}

fn leader_of_three_with(cfg: Config) -> (RaftNode, Duration) {
    let mut n = RaftNode::new(cfg, Restored::default(), ms(0));
    let mut t = ms(0);
    while n.status(t).role != Role::PreCandidate {
        t += ms(5);
        n.tick(t);
    }
    n.ready();
    let grant = |from: &str, term, body| Message {
        from: from.into(),
        to: "n1".into(),
        term,
        body,
    };
    let yes = MessageBody::PreVoteResp {
        granted: true,
        lease_remaining_us: 0,
    };
    n.step(grant("n2", 1, yes), t);
    assert_eq!(n.status(t).role, Role::Candidate);
    let yes = MessageBody::VoteResp {
        granted: true,
        lease_remaining_us: 0,
    };
    n.step(grant("n2", 1, yes), t);
    assert_eq!(n.status(t).role, Role::Leader);
    n.ready();
    // n2 acknowledges the empty entry: committed, the leader is ready.
    n.step(n2_acks(0), t);
    n.ready();
    assert_eq!(n.status(t).commit_index, 1);
    (n, t)
}

/// n2, in term 1, acknowledges heartbeat round `round` and holds entry 1 (the leader's empty entry).
fn n2_acks(round: u64) -> Message {
    Message {
        from: "n2".into(),
        to: "n1".into(),
        term: 1,
        body: MessageBody::AppendResp {
            success: true,
            match_index: 1,
            reject_index: 0,
            hint: 0,
            last_index: 1,
            round,
        },
    }
}

fn rounds_sent(r: &Ready) -> Vec<u64> {
    r.messages
        .iter()
        .filter_map(|m| match m.body {
            MessageBody::Append { round, .. } if m.to == "n2" => Some(round),
            _ => None,
        })
        .collect()
}

#[test]
fn read_index_needs_a_quorum_ack_of_a_round_sent_after_the_read() {
    let (mut n, t) = leader_of_three(ReadMode::ReadIndex);
    let ack = n2_acks;
    n.client(9, ClientRequest::Read { key: "x".into() }, t);
    let r = n.ready();
    assert!(r.responses.is_empty());
    let round = *rounds_sent(&r)
        .iter()
        .max()
        .expect("a round goes out at once");
    // An ack of an earlier round does not count.
    n.step(ack(round - 1), t);
    assert!(n.ready().responses.is_empty());
    n.step(ack(round), t);
    assert_eq!(
        n.ready().responses,
        vec![(9, Ok(ClientReply::Read { value: None }))]
    );
}

#[test]
fn a_replaced_proposal_is_answered_timeout_and_a_lost_leader_fails_reads() {
    let (mut n, t) = leader_of_three(ReadMode::ReadIndex);
    n.client(
        5,
        ClientRequest::Write {
            key: "a".into(),
            value: 1,
        },
        t,
    );
    n.client(6, ClientRequest::Read { key: "a".into() }, t);
    n.ready();
    // A new leader of term 2 replaces index 2 with its own entry and commits it.
    let entry = Entry {
        term: 2,
        index: 2,
        command: Command::Noop,
    };
    let append = MessageBody::Append {
        prev_index: 1,
        prev_term: 1,
        entries: vec![entry],
        commit: 2,
        round: 1,
    };
    n.step(
        Message {
            from: "n3".into(),
            to: "n1".into(),
            term: 2,
            body: append,
        },
        t,
    );
    let r = n.ready();
    let codes: Vec<(RequestId, ErrorCode)> = r
        .responses
        .iter()
        .map(|(id, res)| (*id, res.as_ref().unwrap_err().code))
        .collect();
    assert!(codes.contains(&(5, ErrorCode::Timeout)), "{codes:?}");
    assert!(codes.contains(&(6, ErrorCode::Unavailable)), "{codes:?}");
    assert_eq!(n.status(t).leader.as_deref(), Some("n3"));
    assert_eq!(r.truncate_from, Some(2));
}

#[test]
fn garbage_input_and_backward_clocks_never_panic() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for mode in ReadMode::ALL {
        let mut n = RaftNode::new(
            config("n1", &["n1", "n2", "n3"], mode),
            Restored::default(),
            ms(0),
        );
        for i in 0..3000u64 {
            let now = ms(rng.gen_range(0..5000));
            let big = |rng: &mut rand_chacha::ChaCha8Rng| {
                if rng.gen_bool(0.1) {
                    u64::MAX
                } else {
                    rng.gen_range(0..6)
                }
            };
            let from = ["n2", "n3", "zz", "n1"][rng.gen_range(0..4)].to_string();
            let body = match rng.gen_range(0..8) {
                0 => MessageBody::PreVote {
                    last_index: big(&mut rng),
                    last_term: big(&mut rng),
                },
                1 => MessageBody::Vote {
                    last_index: big(&mut rng),
                    last_term: big(&mut rng),
                },
                2 => MessageBody::PreVoteResp {
                    granted: rng.gen(),
                    lease_remaining_us: big(&mut rng),
                },
                3 => MessageBody::VoteResp {
                    granted: rng.gen(),
                    lease_remaining_us: big(&mut rng),
                },
                4 => MessageBody::Append {
                    prev_index: big(&mut rng),
                    prev_term: big(&mut rng),
                    entries: (0..rng.gen_range(0..3))
                        .map(|k| Entry {
                            term: big(&mut rng),
                            index: k + 1,
                            command: Command::Noop,
                        })
                        .collect(),
                    commit: big(&mut rng),
                    round: big(&mut rng),
                },
                5 => MessageBody::AppendResp {
                    success: rng.gen(),
                    match_index: big(&mut rng),
                    reject_index: big(&mut rng),
                    hint: big(&mut rng),
                    last_index: big(&mut rng),
                    round: big(&mut rng),
                },
                6 => MessageBody::ReadIndexReq { id: big(&mut rng) },
                _ => MessageBody::ReadIndexResp {
                    id: big(&mut rng),
                    read_index: Some(big(&mut rng)),
                },
            };
            let term = big(&mut rng).min(8);
            n.step(
                Message {
                    from,
                    to: "n1".into(),
                    term,
                    body,
                },
                now,
            );
            match i % 4 {
                0 => n.tick(now),
                1 => n.client(i, ClientRequest::Read { key: "k".into() }, now),
                2 => n.client(
                    i,
                    ClientRequest::Write {
                        key: "k".into(),
                        value: 1,
                    },
                    now,
                ),
                _ => {}
            }
            n.ready();
            n.status(now);
        }
    }
}

#[test]
fn async_replication_acknowledges_at_once_and_ships_only_after_the_lag() {
    let mut cfg = config("n1", &["n1", "n2", "n3"], ReadMode::ReadIndex);
    cfg.replication = Replication::Async;
    cfg.async_lag = ms(200);
    // Peers stay silent here: a long election timeout keeps CheckQuorum from deposing the leader meanwhile.
    cfg.election_timeout = ms(5000);
    let (mut n, t0) = leader_of_three_with(cfg);
    let shipped = |r: &Ready| {
        r.messages.iter().any(|m| {
            matches!(&m.body, MessageBody::Append { entries, .. }
                if entries.iter().any(|e| matches!(e.command, Command::Put { .. })))
        })
    };
    // Let the empty entry age past the lag, so older entries are shippable when the write comes.
    let t = t0 + ms(300);
    n.tick(t);
    n.ready();
    n.client(
        1,
        ClientRequest::Write {
            key: "a".into(),
            value: 7,
        },
        t,
    );
    let r = n.ready();
    assert_eq!(
        r.responses,
        vec![(1, Ok(ClientReply::Written))],
        "acknowledged in the Ready that appends it"
    );
    assert!(!shipped(&r), "not shipped with the write");
    for later in [60, 120, 180] {
        n.tick(t + ms(later));
        assert!(
            !shipped(&n.ready()),
            "shipped {later} ms after the write, within the lag"
        );
    }
    n.tick(t + ms(260));
    assert!(
        shipped(&n.ready()),
        "shipped with the first heartbeat after the lag"
    );
}

#[test]
fn a_follower_refusing_what_it_acknowledged_is_repaired_from_its_hint() {
    let (mut n, t) = leader_of_three(ReadMode::ReadIndex);
    for v in 0..3 {
        let req = ClientRequest::Write {
            key: "a".into(),
            value: v,
        };
        n.client(10 + v as u64, req, t);
    }
    n.ready();
    // n2 acknowledged everything (index 4), then lost its log back to index 1 and refuses prev 4.
    let resp = |success, match_index, reject_index, hint, round| Message {
        from: "n2".into(),
        to: "n1".into(),
        term: 1,
        body: MessageBody::AppendResp {
            success,
            match_index,
            reject_index,
            hint,
            last_index: hint.max(match_index),
            round,
        },
    };
    let round = n.read_only.round();
    n.step(resp(true, 4, 0, 0, round), t);
    n.ready();
    n.step(resp(false, 0, 4, 1, round), t);
    let r = n.ready();
    let probe = r
        .messages
        .iter()
        .find_map(|m| match &m.body {
            MessageBody::Append {
                prev_index,
                entries,
                ..
            } if m.to == "n2" && !entries.is_empty() => Some((*prev_index, entries.len())),
            _ => None,
        })
        .expect("the leader resends the lost entries");
    assert_eq!(probe, (1, 3), "{:?}", r.messages);
    // An older, reordered reject is not taken for lost state again.
    n.step(resp(true, 4, 0, 0, round), t);
    n.ready();
    n.step(resp(false, 0, 4, 1, round - 1), t);
    assert!(n.ready().messages.is_empty());
}
