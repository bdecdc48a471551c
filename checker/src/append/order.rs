//! Version order inference and linearizability.
//!
//! With unique values, the longest ok read of a key fixes the order of every observed append; every other
//! ok read must be a prefix of it ("incompatible orders" otherwise). Then a linearization, if any, is
//! forced up to ties: reads of length 0, the 1st observed append, reads of length 1, the 2nd append, ...,
//! and last the acknowledged appends no read observed (an unobserved `info` append is taken never to have
//! happened, which only removes constraints). Such a chain of groups respects real time iff no op of a
//! later group completed before an op of an earlier group began; suffix minima of completion positions
//! find the worst such pair for every op in linear time.

use super::index::{ret, KeyData};
use super::{words, Sink, LINEARIZABLE};
use crate::ops::{History, Op, Outcome};

/// Checks one key for linearizability.
pub(crate) fn check_key(h: &History, kd: &KeyData, sink: &mut Sink) {
    if !consistent_reads(h, kd, sink) {
        return;
    }
    let Some(longest) = kd.reads.iter().max_by_key(|r| r.len) else {
        // No reads: appends alone are always linearizable.
        return;
    };
    let order = kd.list(longest);
    let n = order.len();
    // position in the order (1-based), 0 = unobserved
    let mut pos = vec![0u32; kd.vals.len()];
    for (j, &id) in order.iter().enumerate() {
        pos[id as usize] = j as u32 + 1;
    }
    // Group of each op: read of length k -> 2k; j-th append -> 2j-1; unobserved ok append -> 2n+1.
    let unobserved = 2 * n + 1;
    let mut group: Vec<Option<usize>> = Vec::with_capacity(kd.ops.len());
    for (m, &i) in kd.ops.iter().enumerate() {
        let op = &h.ops[i as usize];
        let g = if kd.read_of[m] != u32::MAX {
            Some(2 * kd.reads[kd.read_of[m] as usize].len as usize)
        } else {
            match pos[kd.id_of[m] as usize] {
                0 if op.outcome == Outcome::Ok => Some(unobserved),
                0 => None,
                j => Some(2 * j as usize - 1),
            }
        };
        group.push(g);
    }
    // best[g] = the op with the earliest completion among groups >= g.
    let mut best: Vec<(usize, u32)> = vec![(usize::MAX, 0); unobserved + 2];
    for (m, g) in group.iter().enumerate() {
        if let Some(g) = *g {
            let r = ret(&h.ops[kd.ops[m] as usize]);
            if r < best[g].0 {
                best[g] = (r, m as u32);
            }
        }
    }
    for g in (0..=unobserved).rev() {
        if best[g + 1].0 < best[g].0 {
            best[g] = best[g + 1];
        }
    }
    for (m, g) in group.iter().enumerate() {
        let Some(g) = *g else { continue };
        let y = &h.ops[kd.ops[m] as usize];
        let (x_ret, xm) = best[g + 1];
        if x_ret >= y.invoke_pos {
            continue;
        }
        let x = &h.ops[kd.ops[xm as usize] as usize];
        sink.push(LINEARIZABLE, || {
            let s = real_time_sentence(h, kd, x, xm as usize, y, m, order);
            words::violation(LINEARIZABLE, kd, &[y, x], s)
        });
    }
}

/// Reads that name unknown values, repeat a value, or are not prefixes of the longest read.
fn consistent_reads(h: &History, kd: &KeyData, sink: &mut Sink) -> bool {
    let mut fine = true;
    for r in &kd.reads {
        let op = &h.ops[r.op as usize];
        let list = kd.list(r);
        if let Some(&id) = list.iter().find(|&&id| kd.vals[id as usize].op.is_none()) {
            fine = false;
            sink.push(LINEARIZABLE, || {
                let s = format!(
                    "{} returned {}, which holds {}, a value no append to {} wrote (or whose append failed)",
                    words::read(h, kd, op),
                    words::list(kd, list),
                    words::val(kd, id),
                    kd.key
                );
                words::violation(LINEARIZABLE, kd, &[op], s)
            });
        } else if let Some(id) = r.dup {
            fine = false;
            sink.push(LINEARIZABLE, || {
                let s = format!(
                    "{} returned {}, which holds {} twice, though it was appended once",
                    words::read(h, kd, op),
                    words::list(kd, list),
                    words::val(kd, id)
                );
                words::violation(LINEARIZABLE, kd, &[op], s)
            });
        }
    }
    if !fine {
        return false;
    }
    let Some(longest) = kd.reads.iter().max_by_key(|r| r.len) else {
        return true;
    };
    let order = kd.list(longest);
    let lop = &h.ops[longest.op as usize];
    for r in &kd.reads {
        let list = kd.list(r);
        if order[..list.len()] == *list {
            continue;
        }
        fine = false;
        let op = &h.ops[r.op as usize];
        sink.push(LINEARIZABLE, || {
            let at = list
                .iter()
                .zip(order)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let s = format!(
                "incompatible orders: {} returned {}, but {} returned {}: they differ at position {} ({} vs {}), so no single order of the appends has both as prefixes",
                words::read(h, kd, op),
                words::list(kd, list),
                words::read(h, kd, lop),
                words::list(kd, order),
                at + 1,
                words::val(kd, list[at]),
                words::val(kd, order[at]),
            );
            words::violation(LINEARIZABLE, kd, &[op, lop], s)
        });
    }
    fine
}

/// `x` completed before `y` began, yet the lists put `x` after `y`.
fn real_time_sentence(
    h: &History,
    kd: &KeyData,
    x: &Op,
    xm: usize,
    y: &Op,
    ym: usize,
    order: &[u32],
) -> String {
    let x_read = kd.read_of[xm] != u32::MAX;
    let y_read = kd.read_of[ym] != u32::MAX;
    let read_list = |m: usize| kd.list(&kd.reads[kd.read_of[m] as usize]);
    match (x_read, y_read) {
        (true, true) => {
            let (xl, yl) = (read_list(xm), read_list(ym));
            format!(
                "{} returned {} and completed at {}, but {}, which began later at {}, returned the shorter {}: it misses {}",
                words::read(h, kd, x),
                words::list(kd, xl),
                words::ended(h, x),
                words::read(h, kd, y),
                words::began(h, y),
                words::list(kd, yl),
                words::val(kd, xl[yl.len()])
            )
        }
        (true, false) => format!(
            "{} returned {} and completed at {}, but that list holds {}, and {} only began at {}",
            words::read(h, kd, x),
            words::list(kd, read_list(xm)),
            words::ended(h, x),
            y.input_value(),
            words::append(h, kd, y),
            words::began(h, y)
        ),
        (false, true) => format!(
            "{} completed before {} began, but that read returned {}, without {}",
            words::append(h, kd, x),
            words::read(h, kd, y),
            words::list(kd, read_list(ym)),
            x.input_value()
        ),
        (false, false) => {
            let observed = order.contains(&kd.id_of[xm]);
            let tail = if observed {
                format!(
                    "yet reads put {} before {}",
                    y.input_value(),
                    x.input_value()
                )
            } else {
                format!(
                    "yet reads observed {} and never {}",
                    y.input_value(),
                    x.input_value()
                )
            };
            format!(
                "{} completed before {} began, {tail}",
                words::append(h, kd, x),
                words::append(h, kd, y)
            )
        }
    }
}
