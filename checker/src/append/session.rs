//! The four session guarantees, per key, each implied by linearizability (so a linearizable history
//! keeps them all): only acknowledged appends, completed before the later op began, constrain anything.
//!
//! - read your writes: a session's read of k contains every append to k the session had acknowledged.
//! - monotonic reads: a session's read of k contains everything its earlier reads of k returned.
//! - monotonic writes: in every read, a session's acknowledged append precedes its later appends, and
//!   a read holding a later append of that session also holds the acknowledged earlier ones.
//! - writes follow reads: if a session read k (the latest such read, R) and then appended y, every read
//!   holding y holds all of R before y.
//!
//! Pass A walks the key's ops in history order (each session's ops are in session order there); pass B
//! checks every read against all sessions' appends. Writes-follow-reads compares a read's prefix with R
//! by a prefix hash first, so the common case (reads agree) costs O(1) per value.

use super::index::{ret, session, KeyData, Read};
use super::staleness;
use super::{
    words, JudgedAll, Sink, MONOTONIC_READS, MONOTONIC_WRITES, READ_YOUR_WRITES,
    WRITES_FOLLOW_READS,
};
use crate::ops::{History, Outcome};
use rustc_hash::FxHashMap;

/// Per (session, key): what the session has done and seen so far.
struct SessionState {
    /// Acknowledged appends (value id, completion position), in order.
    acked: Vec<(u32, usize)>,
    /// Values its reads returned: (value id, the read that returned it and completed first, that
    /// read's completion position).
    union: Vec<(u32, u32, usize)>,
    /// Its ok reads (read numbers), in order.
    reads: Vec<u32>,
    /// Earliest completion of an acknowledged append, and of a read that returned something: a later
    /// read is judged by read-your-writes, resp. monotonic reads, only after one of them.
    first_ack: usize,
    first_seen: usize,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            acked: Vec::new(),
            union: Vec::new(),
            reads: Vec::new(),
            first_ack: usize::MAX,
            first_seen: usize::MAX,
        }
    }
}

/// Per value id: who appended it, in which place of that session's appends to the key.
#[derive(Clone, Copy)]
struct Writer {
    /// Session number within the key; `u32::MAX` for values nobody appended.
    sess: u32,
    seq: u32,
    ok: bool,
    /// Acknowledged appends of the same session to the key before this one.
    ok_before: u32,
    /// The session's latest read of the key before this append began.
    dep: Option<u32>,
}

const NOBODY: Writer = Writer {
    sess: u32::MAX,
    seq: 0,
    ok: false,
    ok_before: 0,
    dep: None,
};

const B: u64 = 0x9E37_79B9_7F4A_7C15;

fn hash_step(h: u64, id: u32) -> u64 {
    h.wrapping_mul(B).wrapping_add(id as u64 + 1)
}

/// Marks which values a read holds and where. Stamps are unique per read over the whole check, so
/// nothing is ever cleared.
#[derive(Default)]
struct Marks {
    stamp: Vec<u32>,
    pos: Vec<u32>,
}

impl Marks {
    fn fit(&mut self, n: usize) {
        if self.stamp.len() < n {
            self.stamp.resize(n, u32::MAX);
            self.pos.resize(n, 0);
        }
    }
    fn mark(&mut self, stamp: u32, list: &[u32]) {
        for (p, &id) in list.iter().enumerate() {
            self.stamp[id as usize] = stamp;
            self.pos[id as usize] = p as u32;
        }
    }
    fn has(&self, stamp: u32, id: u32) -> bool {
        self.stamp[id as usize] == stamp
    }
    fn at(&self, stamp: u32, id: u32) -> Option<u32> {
        self.has(stamp, id).then(|| self.pos[id as usize])
    }
}

/// Buffers reused from key to key (a history may hold many small keys).
#[derive(Default)]
pub(crate) struct Scratch {
    writers: Vec<Writer>,
    /// Session -> its number within the key.
    local: FxHashMap<u64, u32>,
    /// Session number -> its appends (value ids) in order.
    by_session: Vec<Vec<u32>>,
    states: Vec<SessionState>,
    /// `session * values + id` holds (`epoch`, place in the union) when the value is in that
    /// session's union.
    in_union: Vec<(u32, u32)>,
    epoch: u32,
    marks: Marks,
    /// Stamp of this key's read 0.
    read_base: u32,
    full: Vec<u64>,
    last: Vec<(u32, u32, u32)>,
    present_ok: Vec<u32>,
    touched: Vec<u32>,
    prefix: Vec<u64>,
    /// Per read: a dependency read -> the last position in this read of its values (`u32::MAX`
    /// when one is missing).
    reach: FxHashMap<u32, u32>,
}

pub(crate) fn check_key(
    h: &History,
    kd: &KeyData,
    sink: &mut Sink,
    stale: &mut staleness::Tally,
    sc: &mut Scratch,
    judged: &mut JudgedAll,
) {
    let n = kd.vals.len();
    sc.writers.clear();
    sc.writers.resize(n, NOBODY);
    sc.local.clear();
    for &i in &kd.ops {
        let next = sc.local.len() as u32;
        sc.local.entry(session(&h.ops[i as usize])).or_insert(next);
    }
    let sessions = sc.local.len();
    for (k, st) in sc.states.iter_mut().enumerate().take(sessions) {
        st.acked.clear();
        st.union.clear();
        st.reads.clear();
        st.first_ack = usize::MAX;
        st.first_seen = usize::MAX;
        sc.by_session[k].clear();
    }
    while sc.states.len() < sessions {
        sc.states.push(SessionState::default());
        sc.by_session.push(Vec::new());
    }
    sc.epoch += 1;
    let epoch = sc.epoch;
    if sc.in_union.len() < sessions * n {
        sc.in_union.resize(sessions * n, (0, 0));
    }
    sc.marks.fit(n);
    let base = sc.read_base;
    sc.read_base = sc.read_base.wrapping_add(kd.reads.len() as u32);
    let Scratch {
        writers,
        local,
        by_session,
        states,
        in_union,
        marks,
        full,
        last,
        present_ok,
        touched,
        prefix,
        reach,
        ..
    } = sc;
    let acks = staleness::Acks::new(h, kd);
    // Pass A: session order.
    for (m, &i) in kd.ops.iter().enumerate() {
        let op = &h.ops[i as usize];
        let ls = local[&session(op)];
        let st = &mut states[ls as usize];
        if kd.read_of[m] == u32::MAX {
            let id = kd.id_of[m];
            let mine = &mut by_session[ls as usize];
            let ok_before = mine
                .last()
                .map(|&p| writers[p as usize].ok_before + writers[p as usize].ok as u32)
                .unwrap_or(0);
            writers[id as usize] = Writer {
                sess: ls,
                seq: mine.len() as u32,
                ok: op.outcome == Outcome::Ok,
                ok_before,
                dep: latest_before(h, kd, &st.reads, op.invoke_pos),
            };
            mine.push(id);
            if op.outcome == Outcome::Ok {
                st.acked.push((id, ret(op)));
                st.first_ack = st.first_ack.min(ret(op));
                judged.read_your_writes.against += 1;
            }
            if ok_before > 0 {
                judged.monotonic_writes.against += 1;
            }
            let dep = writers[id as usize].dep;
            if dep.is_some_and(|d| kd.reads[d as usize].len > 0) {
                judged.writes_follow_reads.against += 1;
            }
            continue;
        }
        let rn = kd.read_of[m];
        let stamp = base.wrapping_add(rn);
        let r = &kd.reads[rn as usize];
        let list = kd.list(r);
        marks.mark(stamp, list);
        judged.read_your_writes.ops += (st.first_ack < op.invoke_pos) as usize;
        judged.monotonic_reads.ops += (st.first_seen < op.invoke_pos) as usize;
        if !list.is_empty() {
            st.first_seen = st.first_seen.min(ret(op));
            judged.monotonic_reads.against += 1;
        }
        if let Some(&(a, _)) = st
            .acked
            .iter()
            .find(|&&(a, done)| done < op.invoke_pos && !marks.has(stamp, a))
        {
            sink.push(READ_YOUR_WRITES, || {
                let w = &h.ops[kd.vals[a as usize].op.unwrap_or(0) as usize];
                let s = format!(
                    "{} returned {}, without {}: its own session's append, acknowledged before the read began ({})",
                    words::read(h, kd, op),
                    words::list(kd, list),
                    words::val(kd, a),
                    words::append(h, kd, w)
                );
                words::violation(READ_YOUR_WRITES, kd, &[op, w], s)
            });
        }
        let start = op.invoke_pos;
        if let Some(&(x, from, _)) = st
            .union
            .iter()
            .find(|&&(x, _, done)| done < start && !marks.has(stamp, x))
        {
            sink.push(MONOTONIC_READS, || {
                let earlier = &h.ops[kd.reads[from as usize].op as usize];
                let s = format!(
                    "{} returned {}, without {}, which {} had already returned ({}): the session went back in time",
                    words::read(h, kd, op),
                    words::list(kd, list),
                    words::val(kd, x),
                    words::read(h, kd, earlier),
                    words::list(kd, kd.list(&kd.reads[from as usize]))
                );
                words::violation(MONOTONIC_READS, kd, &[op, earlier], s)
            });
        }
        let row = ls as usize * n;
        let done = ret(op);
        for &id in list {
            let slot = &mut in_union[row + id as usize];
            if slot.0 != epoch {
                *slot = (epoch, st.union.len() as u32);
                st.union.push((id, rn, done));
            } else {
                // Keep the read that completed first: it constrains the most later reads.
                let e = &mut st.union[slot.1 as usize];
                if done < e.2 {
                    *e = (id, rn, done);
                }
            }
        }
        st.reads.push(rn);
    }
    // Pass B: every read against every session's appends.
    full.clear();
    full.extend(
        kd.reads
            .iter()
            .map(|r| kd.list(r).iter().fold(0, |a, &id| hash_step(a, id))),
    );
    // Per session: (stamp of the read, highest seq seen in it, the id with it).
    last.clear();
    last.resize(sessions, (u32::MAX, 0, 0));
    present_ok.clear();
    present_ok.resize(sessions, 0);
    for (rn, r) in kd.reads.iter().enumerate() {
        let rn = rn as u32;
        let stamp = base.wrapping_add(rn);
        let list = kd.list(r);
        marks.mark(stamp, list);
        stale.read(h, &acks, r, list, |id| marks.has(stamp, id));
        prefix.clear();
        prefix.push(0);
        for &id in list {
            let p = *prefix.last().unwrap_or(&0);
            prefix.push(hash_step(p, id));
        }
        touched.clear();
        reach.clear();
        let mut mw_reported = false;
        let mut wfr_reported = false;
        let (mut mw_judged, mut wfr_judged) = (false, false);
        for (p, &y) in list.iter().enumerate() {
            let w = writers[y as usize];
            if w.sess == u32::MAX {
                continue;
            }
            mw_judged |= w.ok_before > 0;
            wfr_judged |= w.dep.is_some_and(|d| kd.reads[d as usize].len > 0);
            // Monotonic writes, order: an acknowledged earlier append of the same session after y.
            let slot = &mut last[w.sess as usize];
            if slot.0 != stamp {
                *slot = (stamp, w.seq, y);
                present_ok[w.sess as usize] = 0;
                touched.push(w.sess);
            } else if w.seq < slot.1 {
                let later = slot.2;
                if w.ok && !mw_reported && before(h, kd, y, later) {
                    mw_reported = true;
                    monotonic_writes(h, kd, sink, r, (y, later), false);
                }
            } else {
                *slot = (stamp, w.seq, y);
            }
            present_ok[w.sess as usize] += w.ok as u32;
            // Writes follow reads.
            if let Some(d) = w.dep {
                let dr = &kd.reads[d as usize];
                let m = dr.len as usize;
                let fast = p >= m && prefix[m] == full[d as usize];
                if !fast && !wfr_reported {
                    let far = *reach.entry(d).or_insert_with(|| {
                        kd.list(dr)
                            .iter()
                            .map(|&x| marks.at(stamp, x).unwrap_or(u32::MAX))
                            .max()
                            .unwrap_or(0)
                    });
                    // Only when something of R is missing or not before y: find it (y itself in R
                    // would be a linearizability matter, not this one).
                    let missing = (far == u32::MAX || far as usize >= p)
                        .then(|| {
                            kd.list(dr).iter().copied().find(|&x| {
                                x != y && marks.at(stamp, x).is_none_or(|q| q as usize > p)
                            })
                        })
                        .flatten();
                    if let Some(x) = missing {
                        wfr_reported = true;
                        writes_follow_reads(h, kd, sink, r, y, x, d);
                    }
                }
            }
        }
        judged.monotonic_writes.ops += mw_judged as usize;
        judged.writes_follow_reads.ops += wfr_judged as usize;
        // Monotonic writes, gaps: the session's highest append here needs its acknowledged predecessors.
        for &s in touched.iter() {
            let (_, _, top) = last[s as usize];
            let w = writers[top as usize];
            let have = present_ok[s as usize] - w.ok as u32;
            if have < w.ok_before && !mw_reported {
                let missing = by_session[s as usize].iter().copied().find(|&a| {
                    writers[a as usize].ok
                        && writers[a as usize].seq < w.seq
                        && !marks.has(stamp, a)
                        && before(h, kd, a, top)
                });
                if let Some(a) = missing {
                    mw_reported = true;
                    monotonic_writes(h, kd, sink, r, (a, top), true);
                }
            }
        }
    }
}

/// The latest of a session's reads that completed before `start` (in a session that runs one op at a
/// time, simply its latest read).
fn latest_before(h: &History, kd: &KeyData, reads: &[u32], start: usize) -> Option<u32> {
    reads
        .iter()
        .rev()
        .copied()
        .find(|&rn| ret(&h.ops[kd.reads[rn as usize].op as usize]) < start)
}

/// Whether the append of value `a` completed before the append of value `b` began.
fn before(h: &History, kd: &KeyData, a: u32, b: u32) -> bool {
    let op = |id: u32| kd.vals[id as usize].op.map(|i| &h.ops[i as usize]);
    match (op(a), op(b)) {
        (Some(a), Some(b)) => ret(a) < b.invoke_pos,
        _ => false,
    }
}

/// A read shows a session's acknowledged append `earlier` after (`gap: false`) or without (`gap: true`)
/// that session's later append `later`.
fn monotonic_writes(
    h: &History,
    kd: &KeyData,
    sink: &mut Sink,
    r: &Read,
    (earlier, later): (u32, u32),
    gap: bool,
) {
    sink.push(MONOTONIC_WRITES, || {
        let op = &h.ops[r.op as usize];
        let a = &h.ops[kd.vals[earlier as usize].op.unwrap_or(0) as usize];
        let b = &h.ops[kd.vals[later as usize].op.unwrap_or(0) as usize];
        let (x, y) = (words::val(kd, earlier), words::val(kd, later));
        let what = if gap {
            format!("which holds {y} but not {x}, though the same session appended {x} first")
        } else {
            format!("with {y} before {x}, but one session issued them the other way round")
        };
        let s = format!(
            "{} returned {}, {what}: {}, then {}",
            words::read(h, kd, op),
            words::list(kd, kd.list(r)),
            words::append(h, kd, a),
            words::append(h, kd, b)
        );
        words::violation(MONOTONIC_WRITES, kd, &[op, a, b], s)
    });
}

fn writes_follow_reads(
    h: &History,
    kd: &KeyData,
    sink: &mut Sink,
    r: &Read,
    y: u32,
    x: u32,
    dep: u32,
) {
    sink.push(WRITES_FOLLOW_READS, || {
        let op = &h.ops[r.op as usize];
        let w = &h.ops[kd.vals[y as usize].op.unwrap_or(0) as usize];
        let d = &kd.reads[dep as usize];
        let dop = &h.ops[d.op as usize];
        let list = kd.list(r);
        let where_x = if list.contains(&x) { "only after it" } else { "not at all" };
        let s = format!(
            "{} returned {}, which holds {} but has {} {where_x}; yet {} was appended after its session had read {} ({} returned {})",
            words::read(h, kd, op),
            words::list(kd, list),
            words::val(kd, y),
            words::val(kd, x),
            words::append(h, kd, w),
            words::val(kd, x),
            words::read(h, kd, dop),
            words::list(kd, kd.list(d))
        );
        words::violation(WRITES_FOLLOW_READS, kd, &[op, w, dop], s)
    });
}
