//! The transactional checker against a brute-force search over serial orders, on thousands of small
//! random list-append histories. Each history ends with a transaction reading every key, so every
//! append is observed and the version order is known: then the checker must agree exactly
//! (serializable iff some serial order explains every read); an extra history without that final read
//! checks only that an anomaly reported is real. A third run gives the transactions real-time intervals
//! and compares strict serializability; a fourth puts them in two sessions and compares strong-session
//! serializability.

use checker::txn::{check_txn, parse_txn_history, Consistency, TxnModel, TxnOptions};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
enum M {
    Append(usize, i64),
    Read(usize, Vec<i64>),
}

const KEYS: usize = 2;

/// Random transactions run in a random serial order, then some reads replaced by other prefixes of the
/// final lists (a stale or future read).
fn generate(seed: u64) -> Vec<Vec<M>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(2..=4);
    let mut next = 1;
    let mut txns: Vec<Vec<M>> = (0..n)
        .map(|_| {
            (0..rng.gen_range(1..=3))
                .map(|_| {
                    let k = rng.gen_range(0..KEYS);
                    if rng.gen_bool(0.5) {
                        next += 1;
                        M::Append(k, next)
                    } else {
                        M::Read(k, Vec::new())
                    }
                })
                .collect()
        })
        .collect();
    let mut state = vec![Vec::new(); KEYS];
    for t in &mut txns {
        for m in t.iter_mut() {
            match m {
                M::Append(k, v) => state[*k].push(*v),
                M::Read(k, r) => *r = state[*k].clone(),
            }
        }
    }
    for t in &mut txns {
        for m in t.iter_mut() {
            if let M::Read(k, r) = m {
                if rng.gen_bool(0.3) {
                    let len = rng.gen_range(0..=state[*k].len());
                    *r = state[*k][..len].to_vec();
                }
            }
        }
    }
    // Shuffle so the history order is not the serial order.
    for i in (1..txns.len()).rev() {
        txns.swap(i, rng.gen_range(0..=i));
    }
    txns.push((0..KEYS).map(|k| M::Read(k, state[k].clone())).collect());
    txns
}

/// Real-time intervals (invoke, complete) in which the serial order given is a valid linearization:
/// transaction `s` is invoked at 3s and completes 0 to 2 invocations later.
fn intervals(n: usize, seed: u64) -> Vec<(u32, u32)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    (0..n as u32)
        .map(|s| (3 * s, 3 * (s + rng.gen_range(0..3)) + 1))
        .collect()
}

/// The history with invocations and completions at those positions, one process per transaction.
fn edn_timed(txns: &[Vec<M>], at: &[(u32, u32)]) -> String {
    let text = edn(txns);
    let lines: Vec<&str> = text.lines().collect();
    let mut events: Vec<(u32, String)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let body = l.trim_start_matches("{:type :ok, ");
        events.push((at[i].0, format!("{{:process {i}, :type :invoke, {body}")));
        events.push((at[i].1, format!("{{:process {i}, :type :ok, {body}")));
    }
    events.sort();
    events.into_iter().map(|(_, l)| l + "\n").collect()
}

/// Whether some serial order consistent with real time explains every read.
fn strict_serializable(txns: &[Vec<M>], at: &[(u32, u32)]) -> bool {
    serializable_within(txns, &|j, i| at[j].1 < at[i].0)
}

/// Whether some serial order that keeps each session's transactions in history order explains every
/// read.
fn session_serializable(txns: &[Vec<M>], process: &[usize]) -> bool {
    serializable_within(txns, &|j, i| process[j] == process[i] && j < i)
}

/// Whether some serial order in which `before(j, i)` puts `j` ahead of `i` explains every read.
fn serializable_within(txns: &[Vec<M>], before: &dyn Fn(usize, usize) -> bool) -> bool {
    let mut order: Vec<usize> = Vec::new();
    fn go(
        txns: &[Vec<M>],
        before: &dyn Fn(usize, usize) -> bool,
        order: &mut Vec<usize>,
        state: &mut Vec<Vec<i64>>,
    ) -> bool {
        if order.len() == txns.len() {
            return true;
        }
        for i in 0..txns.len() {
            // Next may be i only if every transaction that must precede it is already placed.
            if order.contains(&i)
                || (0..txns.len()).any(|j| j != i && !order.contains(&j) && before(j, i))
            {
                continue;
            }
            let saved = state.clone();
            let ok = txns[i].iter().all(|m| match m {
                M::Append(k, v) => {
                    state[*k].push(*v);
                    true
                }
                M::Read(k, r) => state[*k] == *r,
            });
            if ok {
                order.push(i);
                if go(txns, before, order, state) {
                    return true;
                }
                order.pop();
            }
            *state = saved;
        }
        false
    }
    go(txns, before, &mut order, &mut vec![Vec::new(); KEYS])
}

fn edn(txns: &[Vec<M>]) -> String {
    let key = |k: usize| ["x", "y"][k];
    txns.iter()
        .map(|t| {
            let mops: Vec<String> = t
                .iter()
                .map(|m| match m {
                    M::Append(k, v) => format!("[:append :{} {v}]", key(*k)),
                    M::Read(k, r) => format!(
                        "[:r :{} [{}]]",
                        key(*k),
                        r.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
                    ),
                })
                .collect();
            format!("{{:type :ok, :f :txn, :value [{}]}}\n", mops.join(" "))
        })
        .collect()
}

/// Whether some serial order of all transactions explains every read.
fn serializable(txns: &[Vec<M>]) -> bool {
    fn go(txns: &[Vec<M>], used: &mut Vec<bool>, state: &mut Vec<Vec<i64>>) -> bool {
        if used.iter().all(|&u| u) {
            return true;
        }
        for i in 0..txns.len() {
            if used[i] {
                continue;
            }
            let saved = state.clone();
            let ok = txns[i].iter().all(|m| match m {
                M::Append(k, v) => {
                    state[*k].push(*v);
                    true
                }
                M::Read(k, r) => state[*k] == *r,
            });
            if ok {
                used[i] = true;
                if go(txns, used, state) {
                    return true;
                }
                used[i] = false;
            }
            *state = saved;
        }
        false
    }
    go(
        txns,
        &mut vec![false; txns.len()],
        &mut vec![Vec::new(); KEYS],
    )
}

fn checker_says(txns: &[Vec<M>]) -> (bool, String) {
    let text = edn(txns);
    let h = parse_txn_history(&text, TxnModel::ListAppend).expect("parses");
    let opts = TxnOptions {
        consistency: Consistency::Serializable,
    };
    let r = check_txn(&h, TxnModel::ListAppend, &opts).expect("checks");
    (r.valid, format!("{text}{:#?}", r.anomalies))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn agrees_with_brute_force(seed in any::<u64>()) {
        let txns = generate(seed);
        let (valid, why) = checker_says(&txns);
        prop_assert_eq!(valid, serializable(&txns), "{}", why);
        // Without the final read some appends go unseen: an anomaly must still be real.
        let partial = &txns[..txns.len() - 1];
        let (valid, why) = checker_says(partial);
        prop_assert!(valid || !serializable(partial), "{}", why);
    }

    #[test]
    fn agrees_with_brute_force_in_real_time(seed in any::<u64>()) {
        // Intervals in history order (the serial order was shuffled away, so some histories are
        // strict serializable and some not); the final read begins after everything completed.
        let txns = generate(seed);
        let mut at = intervals(txns.len(), seed);
        let last = txns.len() - 1;
        at[last] = (at.iter().map(|a| a.1).max().unwrap_or(0) + 1, u32::MAX - 1);
        let text = edn_timed(&txns, &at);
        let h = parse_txn_history(&text, TxnModel::ListAppend).expect("parses");
        let r = check_txn(&h, TxnModel::ListAppend, &TxnOptions::default()).expect("checks");
        prop_assert_eq!(r.valid, strict_serializable(&txns, &at), "{}{:#?}", text, r.anomalies);
    }

    #[test]
    fn agrees_with_brute_force_in_sessions(seed in any::<u64>()) {
        // Two sessions (history order is each session's order) and no times: strong-session
        // serializability, a serial order that keeps each session's own order. The final read is a
        // session of its own.
        let txns = generate(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e55);
        let mut process: Vec<usize> = (0..txns.len()).map(|_| rng.gen_range(0..2)).collect();
        *process.last_mut().unwrap() = 9;
        let text: String = edn(&txns)
            .lines()
            .zip(&process)
            .map(|(l, p)| format!("{{:process {p}, {}\n", l.trim_start_matches('{')))
            .collect();
        let h = parse_txn_history(&text, TxnModel::ListAppend).expect("parses");
        let opts = TxnOptions { consistency: Consistency::StrongSessionSerializable };
        let r = check_txn(&h, TxnModel::ListAppend, &opts).expect("checks");
        prop_assert_eq!(r.valid, session_serializable(&txns, &process), "{}{:#?}", text, r.anomalies);
    }
}
