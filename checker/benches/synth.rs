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
    history(ops, processes, info_share, seed, None, false)
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
    history(ops, processes, 0.0, seed, Some(values), false)
}

/// [`repeated_register_history`] made invalid by one stale read: the first write after 10% of the ops
/// writes a value of its own (`values + 1`, written nowhere else), and the first read after 90% returns
/// it, though many writes began after that write completed and completed before the read began.
#[allow(dead_code)]
pub fn repeated_register_history_stale(
    ops: usize,
    processes: usize,
    values: i64,
    seed: u64,
) -> Vec<Event> {
    history(ops, processes, 0.0, seed, Some(values), true)
}

fn history(
    ops: usize,
    processes: usize,
    info_share: f64,
    seed: u64,
    values: Option<i64>,
    stale: bool,
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
    let lone = json!(values.unwrap_or(0) + 1);
    if stale {
        if let Some(p) = plans.iter_mut().skip(ops / 10).find(|p| p.f == "write") {
            p.value = lone.clone();
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
    if stale {
        let late = (ops * 9 / 10..plans.len())
            .find(|&i| plans[i].f == "read" && !plans[i].info && results[i].1 != lone);
        if let Some(i) = late {
            results[i].1 = lone.clone();
        }
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
