//! Lease scenarios of read-modes.md, deterministic: a leader cut off with lease remaining, a new leader
//! elected before that lease ends (votes report the remainder) which serves nothing before it has passed;
//! the same with two quick leader changes (the first lease must not be forgotten); `lease-no-wait` under
//! the same schedules is caught by the checker; `--lease-votes refuse` elects nobody before the lease ends.

mod simnet;

use checker::{EventType, Validity};
use node::api::{LeaseVotes, ReadMode, Role};
use simnet::{OpKind, Sim, SimOptions, MS};

/// What one schedule showed.
struct Run {
    sim: Sim,
    /// Global time at which the cut-off leader's lease ends (its clock runs at rate 1).
    old_lease_end: u64,
    /// Leaders elected after the cut, with the time and the wait their /status showed then.
    elected: Vec<(usize, u64, f64)>,
    /// First acknowledged write on the last new leader.
    first_ok: u64,
    /// A read sent to the old leader shortly before its lease ends, after the new leader was tried.
    late_read: checker::Event,
}

/// Cut the leader off with its lease running; the first `changes - 1` new leaders crash the moment they
/// are elected (their messages lost with them); then write through the last one until it accepts.
fn cut_off_leader(
    mode: ReadMode,
    votes: LeaseVotes,
    nodes: usize,
    changes: usize,
    seed: u64,
) -> Run {
    let mut opts = SimOptions::new(mode, nodes, seed);
    opts.clients = 0;
    opts.drop_prob = 0.0;
    opts.delay = (500, 1500);
    opts.max_rate_skew = 0.0;
    opts.lease_ms = 1500; // 10x the election timeout: new leaders come well before the lease ends
    opts.lease_votes = votes;
    let mut sim = Sim::new(opts);
    let client = sim.add_client();
    let old = sim.wait_for_leader(None, 3000 * MS).expect("a leader");
    while sim.call(client, old, "k", OpKind::Write(1)).kind != EventType::Ok {
        let next = sim.t + 20 * MS;
        sim.run_until(next);
    }
    let next = sim.t + 300 * MS;
    sim.run_until(next);
    let st = sim.status(old).unwrap();
    assert!(st.lease.held, "{mode}: the leader holds no lease: {st:?}");
    let old_lease_end = sim.t + (st.lease.remaining_ms * MS as f64) as u64;
    sim.isolate(old);

    let mut elected: Vec<(usize, u64, f64)> = Vec::new();
    let mut down = vec![old];
    let last = loop {
        assert!(sim.t < old_lease_end + 3000 * MS, "{mode}: no new leader");
        let next = sim.t + 100; // finer than the smallest message delay
        sim.run_until(next);
        let Some(l) = (0..nodes)
            .find(|i| !down.contains(i) && sim.status(*i).is_some_and(|s| s.role == Role::Leader))
        else {
            continue;
        };
        elected.push((l, sim.t, sim.status(l).unwrap().lease_wait_ms));
        if elected.len() == changes {
            break l;
        }
        sim.crash_silently(l);
        down.push(l);
    };
    // Write through the new leader until it accepts, reading from the old one just before its lease ends.
    let mut late_read = None;
    let first_ok = loop {
        if late_read.is_none() && sim.t + 20 * MS >= old_lease_end {
            late_read = Some(sim.call(client, old, "k", OpKind::Read));
        }
        let w = sim.call(client, last, "k", OpKind::Write(2));
        if w.kind == EventType::Ok {
            if late_read.is_none() {
                let before = old_lease_end.saturating_sub(20 * MS);
                sim.run_until(before);
                late_read = Some(sim.call(client, old, "k", OpKind::Read));
            }
            break w.time / 1000; // ns -> sim µs
        }
        assert!(
            sim.t < old_lease_end + 3000 * MS,
            "{mode}: the new leader never served"
        );
        let next = sim.t + 5 * MS;
        sim.run_until(next);
    };
    Run {
        sim,
        old_lease_end,
        elected,
        first_ok,
        late_read: late_read.unwrap(),
    }
}

fn assert_waited_out(run: &Run, what: &str) {
    // Every new leader was elected while the old lease still ran, and knew it had to wait.
    for &(l, at, wait_ms) in &run.elected {
        assert!(
            at < run.old_lease_end,
            "{what}: n{} elected only at {at}",
            l + 1
        );
        let left_ms = (run.old_lease_end - at) as f64 / MS as f64;
        assert!(
            wait_ms >= left_ms,
            "{what}: n{} waits {wait_ms} ms but the old lease has {left_ms} ms left",
            l + 1
        );
    }
    assert!(
        run.first_ok >= run.old_lease_end,
        "{what}: the new leader served at {} before the old lease ended at {}",
        run.first_ok,
        run.old_lease_end
    );
    let result = run.sim.check_history();
    assert_eq!(
        result.valid,
        Validity::Valid,
        "{what}: {}",
        result.explanation
    );
}

fn assert_caught(run: &Run, what: &str) {
    assert!(
        run.first_ok < run.old_lease_end,
        "{what}: served only at {}",
        run.first_ok
    );
    assert_eq!(
        run.late_read.kind,
        EventType::Ok,
        "{what}: {:?}",
        run.late_read
    );
    assert_eq!(run.late_read.value.as_i64(), Some(1), "{what}: not stale");
    let result = run.sim.check_history();
    assert_eq!(
        result.valid,
        Validity::Invalid,
        "{what}: {}",
        result.explanation
    );
}

#[test]
fn new_leader_elected_during_the_old_lease_serves_nothing_before_it_ends() {
    for seed in 0..10 {
        let run = cut_off_leader(ReadMode::Lease, LeaseVotes::Report, 3, 1, seed);
        assert_waited_out(&run, &format!("lease, one change, seed {seed}"));
    }
}

#[test]
fn two_quick_leader_changes_still_wait_out_the_first_lease() {
    for seed in 0..10 {
        let run = cut_off_leader(ReadMode::Lease, LeaseVotes::Report, 5, 2, seed);
        assert_eq!(run.elected.len(), 2);
        assert_waited_out(&run, &format!("lease, two changes, seed {seed}"));
    }
}

#[test]
fn lease_no_wait_is_caught_under_the_same_schedules() {
    for seed in 0..10 {
        let run = cut_off_leader(ReadMode::LeaseNoWait, LeaseVotes::Report, 3, 1, seed);
        assert_caught(&run, &format!("lease-no-wait, one change, seed {seed}"));
        let run = cut_off_leader(ReadMode::LeaseNoWait, LeaseVotes::Report, 5, 2, seed);
        assert_caught(&run, &format!("lease-no-wait, two changes, seed {seed}"));
    }
}

#[test]
fn refusing_votes_elects_nobody_before_the_old_lease_ends() {
    for seed in 0..10 {
        let run = cut_off_leader(ReadMode::Lease, LeaseVotes::Refuse, 3, 1, seed);
        let (l, at, wait_ms) = run.elected[0];
        assert!(
            at >= run.old_lease_end,
            "seed {seed}: n{} elected at {at}",
            l + 1
        );
        assert_eq!(wait_ms, 0.0, "seed {seed}");
        let result = run.sim.check_history();
        assert_eq!(result.valid, Validity::Valid, "{}", result.explanation);
    }
}
