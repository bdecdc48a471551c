//! A generated linearizable register history: many processes, unique written values, cas, and a share of
//! `info` ops (timeouts) that took effect or not. Shared by the benchmark and a test.

use checker::{Event, EventType, Process};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

struct Planned {
    process: u64,
    f: &'static str,
    value: Value,
    start: u64,
    end: u64,
    lin: u64,
    info: bool,
    takes_effect: bool,
}

pub fn register_history(ops: usize, processes: usize, info_share: f64, seed: u64) -> Vec<Event> {
    history(ops, processes, info_share, seed, None)
}

/// A linearizable read/write register history whose writes draw values from `1..=values`, so values
/// repeat and inference cannot decide it: the search's hard case (issue 24).
#[allow(dead_code)]
pub fn repeated_register_history(
    ops: usize,
    processes: usize,
    values: i64,
    seed: u64,
) -> Vec<Event> {
    history(ops, processes, 0.0, seed, Some(values))
}

fn history(
    ops: usize,
    processes: usize,
    info_share: f64,
    seed: u64,
    values: Option<i64>,
) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut free_at = vec![0u64; processes];
    let mut pid: Vec<u64> = (0..processes as u64).collect();
    let mut next_pid = processes as u64;
    let mut next_value = 1i64;
    let mut plans = Vec::with_capacity(ops);
    for _ in 0..ops {
        let slot = (0..processes).min_by_key(|&s| free_at[s]).unwrap_or(0);
        let start = free_at[slot] + rng.gen_range(1..20);
        let end = start + rng.gen_range(5..200);
        let lin = rng.gen_range(start..end);
        let roll: f64 = rng.gen();
        let (f, value) = if roll < 0.5 {
            ("read", Value::Null)
        } else if let Some(n) = values {
            ("write", json!(rng.gen_range(1..=n)))
        } else if roll < 0.8 {
            next_value += 1;
            ("write", json!(next_value))
        } else {
            let from = next_value - rng.gen_range(0..3);
            next_value += 1;
            ("cas", json!([from, next_value]))
        };
        let info = rng.gen_bool(info_share);
        let takes_effect = !info || rng.gen_bool(0.5);
        plans.push(Planned {
            process: pid[slot],
            f,
            value,
            start,
            end,
            lin,
            info,
            takes_effect,
        });
        free_at[slot] = end;
        if info {
            // A process whose op ended info never issues another one.
            pid[slot] = next_pid;
            next_pid += 1;
        }
    }
    // Apply effects in linearization order to learn what reads returned and which cas succeeded.
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|&i| plans[i].lin);
    let mut state = Value::Null;
    let mut results: Vec<(EventType, Value)> = vec![(EventType::Ok, Value::Null); plans.len()];
    for i in order {
        let p = &plans[i];
        let kind = if p.info {
            EventType::Info
        } else {
            EventType::Ok
        };
        results[i] = match p.f {
            "read" => (kind, if p.info { Value::Null } else { state.clone() }),
            "write" => {
                if p.takes_effect {
                    state = p.value.clone();
                }
                (kind, p.value.clone())
            }
            _ => {
                let ok = state == p.value[0];
                if ok && p.takes_effect {
                    state = p.value[1].clone();
                }
                let kind = if p.info {
                    EventType::Info
                } else if ok {
                    EventType::Ok
                } else {
                    EventType::Fail
                };
                (kind, p.value.clone())
            }
        };
    }
    let mut events: Vec<(u64, u8, Event)> = Vec::with_capacity(2 * plans.len());
    for (p, (kind, out)) in plans.iter().zip(results) {
        let ev = |time, kind, value| Event {
            index: 0,
            time,
            process: Process::Client(p.process),
            kind,
            f: p.f.to_string(),
            key: None,
            value,
            node: None,
            error: None,
            session: None,
        };
        events.push((
            p.start * 1000,
            0,
            ev(p.start * 1000, EventType::Invoke, p.value.clone()),
        ));
        events.push((p.end * 1000 + 1, 1, ev(p.end * 1000 + 1, kind, out)));
    }
    events.sort_by_key(|(t, k, _)| (*t, *k));
    events
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut e))| {
            e.index = i as u64;
            e
        })
        .collect()
}

/// [`repeated_register_history`] with one stale read late in the history (past 90% of the ops): it returns
/// a value every write of which was overwritten, in real time, before the read began. Not linearizable,
/// and inference cannot tell (values repeat): the search must exhaust what comes before it.
#[allow(dead_code)]
pub fn repeated_register_history_stale(
    ops: usize,
    processes: usize,
    values: i64,
    seed: u64,
) -> Vec<Event> {
    let mut events = history(ops, processes, 0.0, seed, Some(values));
    // Pair events into (invoke index, complete index) per op.
    let mut open: std::collections::HashMap<u64, usize> = Default::default();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Process::Client(p) = e.process else { continue };
        match e.kind {
            EventType::Invoke => {
                open.insert(p, i);
            }
            _ => {
                if let Some(s) = open.remove(&p) {
                    pairs.push((s, i));
                }
            }
        }
    }
    pairs.sort_unstable();
    let writes: Vec<(usize, usize, i64)> = pairs
        .iter()
        .filter(|&&(s, _)| events[s].f == "write")
        .map(|&(s, c)| (s, c, events[s].value.as_i64().unwrap_or(0)))
        .collect();
    let start = pairs.len() * 9 / 10;
    for &(s, c) in &pairs[start..] {
        if events[s].f != "read" {
            continue;
        }
        let current = events[c].value.as_i64();
        // Is every write of w followed, before this read began, by a completed write of another value?
        let stale = |w: i64| {
            writes.iter().filter(|x| x.2 == w).all(|&(_, wc, _)| {
                writes
                    .iter()
                    .any(|&(xs, xc, xv)| xv != w && xs > wc && xc < s)
            })
        };
        if let Some(w) = (1..=values).find(|&w| Some(w) != current && stale(w)) {
            events[c].value = json!(w);
            return events;
        }
    }
    panic!("no read could be made stale");
}
