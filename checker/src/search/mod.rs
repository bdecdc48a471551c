//! The WGL search (Wing & Gong, Lowe's just-in-time linearization, as in porcupine) over one partition.
//!
//! Calls and returns form a doubly linked list in real-time order. The search walks it: a call whose op
//! the model accepts is linearized (lifted out of the list with its return) unless the resulting
//! (linearized set, state) pair was seen before; reaching a return means its op was never linearized,
//! so the search undoes the last choice. Ops with no return (`info`) may stay unlinearized forever.
//!
//! The search is resumable: `run` does a bounded amount of work, so one thread can interleave many
//! partitions and stop them all as soon as one is invalid.

mod cache;

use crate::model::{EncodedOp, Model};
use cache::{Cache, Packed, PackedSet};
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Shared bounds and the stop signal for all searches of one check.
pub(crate) struct Control {
    pub stop: AtomicBool,
    pub deadline: Option<Instant>,
    pub memory_limit: Option<usize>,
    pub memory_used: AtomicUsize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Valid,
    Invalid,
    /// The budget ran out; call `run` again.
    Paused,
    /// Another partition asked everyone to stop.
    Stopped,
    TimeLimit,
    MemoryLimit,
}

struct Frame<S> {
    op: u32,
    state: S,
    hi: u32,
    /// A read linearized as soon as it could be: if it fails, so does the node it was taken from.
    forced: bool,
}

const NO_OP: u32 = u32::MAX;

pub(crate) struct Search<'m, M: Model> {
    model: &'m M,
    pub(crate) ops: Vec<EncodedOp<M::Input, M::Output>>,
    /// Node 0 is the head (and end) of a circular list; op i has call node 2i+1 and return node 2i+2.
    next: Vec<u32>,
    prev: Vec<u32>,
    bits: Vec<u64>,
    /// Per op: `read_only` (see `Model::read_only`).
    read_only: Vec<bool>,
    /// Per op: the previous and next unlinearized op (in call order) with the same twin key, or NO_OP.
    twin_prev: Vec<u32>,
    twin_next: Vec<u32>,
    zobrist: Vec<u64>,
    hash: u64,
    /// One past the highest linearized op.
    hi: u32,
    state: M::State,
    stack: Vec<Frame<M::State>>,
    cursor: u32,
    cache: Cache<M::State>,
    /// The pairs that pack into 16 bytes (most of them); `cache` holds the others.
    packed: PackedSet,
    /// For value models: which values pending ops still need and can still get.
    values: Option<Values>,
    /// The widest window of ops after `m` that `packed` takes (64; other widths, or none, only to test
    /// the two tables against each other).
    pack_window: Option<u32>,
    /// The longest linearization found, and how much of it the stack still shares.
    best: Vec<u32>,
    common: usize,
    pub(crate) steps: u64,
    reported_bytes: usize,
    status: Option<Status>,
}

/// Per value: how many pending ops may still write it and how many still need it (`ok` reads of it,
/// `ok` cas from it). A value that is needed but that nothing left writes can only be read while the
/// state still holds it: a path where the state holds another value is dead, whatever follows.
struct Values {
    /// Per op: the value it needs and the value it writes (NO_OP: none).
    uses: Vec<(u32, u32)>,
    writers: Vec<u32>,
    needers: Vec<u32>,
    /// Values needed with no writer left.
    stranded: u32,
}

impl Values {
    fn new<M: Model>(model: &M, ops: &[EncodedOp<M::Input, M::Output>]) -> Option<Self> {
        model.state_value(&model.init())?;
        let mut uses = Vec::with_capacity(ops.len());
        let mut top = 0u32;
        for o in ops {
            let u = model.value_use(&o.input, o.output.as_ref())?;
            let need = u.requires.filter(|_| o.output.is_some()).unwrap_or(NO_OP);
            let write = u.writes.unwrap_or(NO_OP);
            for v in [need, write] {
                if v != NO_OP {
                    top = top.max(v + 1);
                }
            }
            uses.push((need, write));
        }
        if top as usize > 4 * ops.len() + 1024 {
            // Sparse value numbers (a kv partition among many): not worth the tables.
            return None;
        }
        let mut v = Values {
            uses,
            writers: vec![0; top as usize],
            needers: vec![0; top as usize],
            stranded: 0,
        };
        for &(need, write) in &v.uses {
            if need != NO_OP {
                v.needers[need as usize] += 1;
            }
            if write != NO_OP {
                v.writers[write as usize] += 1;
            }
        }
        v.stranded = (0..top as usize)
            .filter(|&x| v.writers[x] == 0 && v.needers[x] > 0)
            .count() as u32;
        Some(v)
    }

    fn is_stranded(&self, x: u32) -> bool {
        self.writers[x as usize] == 0 && self.needers[x as usize] > 0
    }

    /// `op` linearized (`taken`) or given back.
    #[inline]
    fn take(&mut self, op: u32, taken: bool) {
        let (need, write) = self.uses[op as usize];
        let d: u32 = if taken { u32::MAX } else { 1 };
        if need != NO_OP {
            let x = need as usize;
            let before = self.writers[x] == 0 && self.needers[x] > 0;
            self.needers[x] = self.needers[x].wrapping_add(d);
            let after = self.writers[x] == 0 && self.needers[x] > 0;
            self.stranded = self.stranded + after as u32 - before as u32;
        }
        if write != NO_OP {
            let x = write as usize;
            let before = self.writers[x] == 0 && self.needers[x] > 0;
            self.writers[x] = self.writers[x].wrapping_add(d);
            let after = self.writers[x] == 0 && self.needers[x] > 0;
            self.stranded = self.stranded + after as u32 - before as u32;
        }
    }

    /// Whether a path whose state holds `state` is dead: another value is needed and nothing left
    /// writes it.
    fn doomed(&self, state: u32) -> bool {
        let here = (state as usize) < self.writers.len() && self.is_stranded(state);
        self.stranded > here as u32
    }
}

/// The 64 bits of `bits` from bit `p` on (zeros past the end).
fn window(bits: &[u64], p: usize) -> u64 {
    let (w, o) = (p / 64, p % 64);
    let lo = bits.get(w).copied().unwrap_or(0) >> o;
    if o == 0 {
        lo
    } else {
        lo | bits.get(w + 1).copied().unwrap_or(0) << (64 - o)
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<'m, M: Model> Search<'m, M> {
    pub(crate) fn new(model: &'m M, mut ops: Vec<EncodedOp<M::Input, M::Output>>) -> Self {
        ops.sort_by_key(|o| o.call);
        let n = ops.len();
        // Sort key: position, then forced returns of info ops before real returns at the same position.
        let mut order: Vec<(usize, u8, u32)> = Vec::with_capacity(2 * n);
        for (i, o) in ops.iter().enumerate() {
            let i = i as u32;
            order.push((o.call, 1, 2 * i + 1));
            match o.ret {
                Some(r) => order.push((r, if o.output.is_none() { 0 } else { 2 }, 2 * i + 2)),
                None => order.push((usize::MAX, 3, 2 * i + 2)),
            }
        }
        order.sort_unstable();
        let nodes = 2 * n + 1;
        let mut next = vec![0u32; nodes];
        let mut prev = vec![0u32; nodes];
        let mut last = 0u32;
        for &(_, _, node) in &order {
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        next[last as usize] = 0;
        prev[0] = last;
        let read_only = ops
            .iter()
            .map(|o| model.read_only(&o.input, o.output.as_ref()))
            .collect();
        let mut twin_prev = vec![NO_OP; n];
        let mut twin_next = vec![NO_OP; n];
        let mut last_twin: rustc_hash::FxHashMap<u64, u32> = Default::default();
        for (i, o) in ops.iter().enumerate() {
            if let Some(k) = model.twin_key(&o.input, o.output.as_ref()) {
                if let Some(p) = last_twin.insert(k, i as u32) {
                    twin_prev[i] = p;
                    twin_next[p as usize] = i as u32;
                }
            }
        }
        let values = Values::new(model, &ops);
        Search {
            read_only,
            twin_prev,
            twin_next,
            model,
            state: model.init(),
            zobrist: (0..n as u64).map(mix).collect(),
            bits: vec![0; n.div_ceil(64).max(1)],
            ops,
            cursor: next[0],
            next,
            prev,
            hash: 0,
            hi: 0,
            stack: Vec::new(),
            cache: Cache::new(),
            packed: PackedSet::new(),
            values,
            pack_window: Some(64),
            best: Vec::new(),
            common: 0,
            steps: 0,
            reported_bytes: 0,
            status: None,
        }
    }

    /// The longest linearization found (op indices into `ops`, in linearization order).
    pub(crate) fn best(&self) -> &[u32] {
        &self.best
    }

    pub(crate) fn cache_entries(&self) -> usize {
        self.cache.len() + self.packed.len()
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.cache.bytes()
            + self.packed.bytes()
            + self.stack.capacity() * std::mem::size_of::<Frame<M::State>>()
            + self.bits.len() * 8
            + self.next.len() * 8
    }

    fn lift(&mut self, op: u32) {
        if let Some(v) = &mut self.values {
            v.take(op, true);
        }
        let (c, r) = (2 * op as usize + 1, 2 * op as usize + 2);
        let (next, prev) = (&mut self.next, &mut self.prev);
        next[prev[c] as usize] = next[c];
        prev[next[c] as usize] = prev[c];
        next[prev[r] as usize] = next[r];
        prev[next[r] as usize] = prev[r];
        let (p, n) = (self.twin_prev[op as usize], self.twin_next[op as usize]);
        if p != NO_OP {
            self.twin_next[p as usize] = n;
        }
        if n != NO_OP {
            self.twin_prev[n as usize] = p;
        }
    }

    /// Another pending op with the same effect that returns no later than `op` (its twins before it in
    /// call order are all pending candidates too, since `op` is one).
    fn has_earlier_twin(&self, op: u32) -> bool {
        let ret = |i: u32| self.ops[i as usize].ret.unwrap_or(usize::MAX);
        let mine = ret(op);
        let mut t = self.twin_prev[op as usize];
        while t != NO_OP {
            if ret(t) <= mine {
                return true;
            }
            t = self.twin_prev[t as usize];
        }
        false
    }

    fn unlift(&mut self, op: u32) {
        if let Some(v) = &mut self.values {
            v.take(op, false);
        }
        let (c, r) = (2 * op as usize + 1, 2 * op as usize + 2);
        let (next, prev) = (&mut self.next, &mut self.prev);
        next[prev[r] as usize] = r as u32;
        prev[next[r] as usize] = r as u32;
        next[prev[c] as usize] = c as u32;
        prev[next[c] as usize] = c as u32;
        let (p, n) = (self.twin_prev[op as usize], self.twin_next[op as usize]);
        if p != NO_OP {
            self.twin_next[p as usize] = op;
        }
        if n != NO_OP {
            self.twin_prev[n as usize] = op;
        }
    }

    /// Does up to about `budget` steps of work.
    pub(crate) fn run(&mut self, budget: u64, ctl: &Control) -> Status {
        if let Some(s) = self.status {
            return s;
        }
        let s = self.search(budget, ctl);
        self.flush_memory(ctl);
        if !matches!(s, Status::Paused) {
            self.status = Some(s);
        }
        s
    }

    fn flush_memory(&mut self, ctl: &Control) -> usize {
        let bytes = self.memory_bytes();
        let total = if bytes >= self.reported_bytes {
            ctl.memory_used
                .fetch_add(bytes - self.reported_bytes, Ordering::Relaxed)
                + (bytes - self.reported_bytes)
        } else {
            ctl.memory_used
                .fetch_sub(self.reported_bytes - bytes, Ordering::Relaxed)
                - (self.reported_bytes - bytes)
        };
        self.reported_bytes = bytes;
        total
    }

    /// Gives back this search's share of the memory count (its memory is about to be freed).
    pub(crate) fn release(&mut self, ctl: &Control) {
        ctl.memory_used
            .fetch_sub(self.reported_bytes, Ordering::Relaxed);
        self.reported_bytes = 0;
    }

    fn search(&mut self, budget: u64, ctl: &Control) -> Status {
        let mut local: u64 = 0;
        loop {
            local += 1;
            if local & 1023 == 0 {
                self.steps += 1024;
                if ctl.stop.load(Ordering::Relaxed) {
                    return Status::Stopped;
                }
                if ctl.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Status::TimeLimit;
                }
                let total = self.flush_memory(ctl);
                if ctl.memory_limit.is_some_and(|l| total > l) {
                    return Status::MemoryLimit;
                }
                if local >= budget {
                    return Status::Paused;
                }
            }
            let e = self.cursor;
            if e == 0 {
                return Status::Valid;
            }
            let op = (e - 1) / 2;
            if e.is_multiple_of(2) {
                if self.ops[op as usize].ret.is_none() {
                    // Only returns of ops that may never happen are left: every other op is linearized.
                    return Status::Valid;
                }
                if let Some(s) = self.backtrack() {
                    return s;
                }
                continue;
            }
            if self.twin_prev[op as usize] != NO_OP && self.has_earlier_twin(op) {
                self.cursor = self.next[e as usize];
                continue;
            }
            let eo = &self.ops[op as usize];
            let Some(next_state) = self.model.step(&self.state, &eo.input, eo.output.as_ref())
            else {
                self.cursor = self.next[e as usize];
                continue;
            };
            let forced = self.read_only[op as usize];
            self.lift(op);
            let (w, b) = (op as usize / 64, 1u64 << (op % 64));
            self.bits[w] |= b;
            let hi = self.hi.max(op + 1);
            let m = if self.next[0] == 0 {
                self.ops.len() as u32
            } else {
                (self.next[0] - 1) / 2
            };
            let packed = if self.pack_window.is_some_and(|w| hi <= m + 1 + w) {
                self.model.pack_state(&next_state)
            } else {
                None
            };
            let doomed = self
                .values
                .as_ref()
                .is_some_and(|v| v.doomed(self.model.state_value(&next_state).unwrap_or(NO_OP)));
            if doomed && self.stack.len() + 1 > self.best.len() {
                // A dead end, but still a linearizable prefix: the longest one is reported.
                self.best.truncate(self.common);
                self.best
                    .extend(self.stack[self.common..].iter().map(|f| f.op));
                self.best.push(op);
                self.common = self.stack.len();
            }
            let fresh = !doomed
                && match packed {
                    Some(state) => self.packed.insert(Packed {
                        m,
                        state,
                        window: window(&self.bits, m as usize + 1),
                    }),
                    None => {
                        let slice: &[u64] = if hi > m {
                            &self.bits[m as usize / 64..=(hi as usize - 1) / 64]
                        } else {
                            &[]
                        };
                        let mut h = FxHasher::default();
                        next_state.hash(&mut h);
                        let hash = self.hash ^ self.zobrist[op as usize] ^ h.finish();
                        let heap = self.model.state_heap_bytes(&next_state);
                        self.cache.insert(hash, m, slice, &next_state, heap)
                    }
                };
            if fresh {
                let old = std::mem::replace(&mut self.state, next_state);
                self.stack.push(Frame {
                    op,
                    state: old,
                    hi: self.hi,
                    forced,
                });
                self.hash ^= self.zobrist[op as usize];
                self.hi = hi;
                if self.stack.len() > self.best.len() {
                    self.best.truncate(self.common);
                    self.best
                        .extend(self.stack[self.common..].iter().map(|f| f.op));
                    self.common = self.stack.len();
                }
                self.cursor = self.next[0];
            } else {
                self.bits[w] &= !b;
                self.unlift(op);
                if forced {
                    // Explored before and failed; the read was this node's only option.
                    if let Some(s) = self.backtrack() {
                        return s;
                    }
                } else {
                    self.cursor = self.next[e as usize];
                }
            }
        }
    }

    /// Undoes the last linearized op and moves on to the next candidate after it; a forced read takes
    /// its node down with it. `Some(Invalid)` when nothing is left to undo.
    fn backtrack(&mut self) -> Option<Status> {
        loop {
            let Some(f) = self.stack.pop() else {
                return Some(Status::Invalid);
            };
            self.state = f.state;
            self.hi = f.hi;
            self.hash ^= self.zobrist[f.op as usize];
            self.bits[f.op as usize / 64] &= !(1u64 << (f.op % 64));
            self.unlift(f.op);
            self.common = self.common.min(self.stack.len());
            if !f.forced {
                self.cursor = self.next[2 * f.op as usize + 1];
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reg_op::{RegOp, NIL};
    use crate::model::RegisterModel;
    use proptest::prelude::*;

    fn control() -> Control {
        Control {
            stop: AtomicBool::new(false),
            deadline: None,
            memory_limit: None,
            memory_used: AtomicUsize::new(0),
        }
    }

    fn run(s: &mut Search<RegisterModel>) -> Status {
        let ctl = control();
        loop {
            match s.run(1 << 20, &ctl) {
                Status::Paused => continue,
                st => return st,
            }
        }
    }

    /// Register ops on values 1..=8 that take effect at a point inside their interval (reads return
    /// what is there then), some `info` and some never completing, with a few long ops so that the
    /// window of pending ops passes 64; `corrupt` changes one read's result (often making it invalid).
    fn ops() -> impl Strategy<Value = Vec<EncodedOp<RegOp, u32>>> {
        (
            prop::collection::vec(
                (0u8..4, 0u32..9, 1u32..9, 0u32..1000, 0u32..1000, 0u8..8),
                1..160,
            ),
            any::<bool>(),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(raw, corrupt, which)| {
                let n = raw.len() as u32;
                let span = 4 * n + 8;
                // (call, point, ret, kind, a, b, info)
                let mut plan: Vec<(u32, u32, u32, u8, u32, u32, bool)> = raw
                    .into_iter()
                    .map(|(kind, a, b, x, y, z)| {
                        let call = x % span;
                        // Some long reads, taking effect late: they stay pending across many ops.
                        let (kind, len) = if z == 0 {
                            (0, 1 + y % span)
                        } else {
                            (kind, 1 + y % 12)
                        };
                        let point = if z == 0 {
                            call + len - 1
                        } else {
                            call + y % len
                        };
                        (call, point, call + len, kind, a, b, z <= 1 && kind != 0)
                    })
                    .collect();
                let mut by_point: Vec<usize> = (0..plan.len()).collect();
                by_point.sort_by_key(|&i| (plan[i].1, i));
                let mut state = NIL;
                let mut out = vec![NIL; plan.len()];
                for i in by_point {
                    let (_, _, _, kind, a, b, info) = plan[i];
                    match kind {
                        0 => out[i] = state,
                        1 | 2 => state = if info && a == 0 { state } else { b },
                        _ => {
                            if state == a {
                                state = b;
                            } else {
                                plan[i].3 = 0; // a failed cas: turned into a read
                                out[i] = state;
                            }
                        }
                    }
                }
                if corrupt {
                    let i = which.index(plan.len());
                    if plan[i].3 == 0 {
                        out[i] = (out[i] % 8) + 1;
                    }
                }
                let mut ops: Vec<EncodedOp<RegOp, u32>> = plan
                    .iter()
                    .enumerate()
                    .map(|(i, &(call, _, ret, kind, a, b, info))| {
                        let (input, output) = match kind {
                            0 => (RegOp::Read, Some(out[i])),
                            1 | 2 => (RegOp::Write(b), Some(NIL)),
                            _ => (RegOp::Cas(a, b), Some(NIL)),
                        };
                        EncodedOp {
                            op: i,
                            input,
                            output: if info { None } else { output },
                            call: 2 * call as usize,
                            ret: if info {
                                None
                            } else {
                                Some(2 * ret as usize + 1)
                            },
                        }
                    })
                    .collect();
                ops.sort_by_key(|o| o.call);
                ops
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
        ))]

        /// The packed table is exact: the search explores exactly the pairs it explores with the general
        /// table alone (a merge of two different pairs would make it explore fewer), and decides alike,
        /// whatever share of the pairs each table holds (windows of 64 ops, as used, or 8 or 0, which send
        /// most pairs of these histories to the general table).
        #[test]
        fn the_packed_cache_never_merges_two_pairs(ops in ops()) {
            let model = RegisterModel::cas_register();
            let mut plain = Search::new(&model, ops.clone());
            plain.pack_window = None;
            let st = run(&mut plain);
            prop_assert_eq!(plain.packed.len(), 0);
            for width in [64, 8, 0] {
                let mut packed = Search::new(&model, ops.clone());
                packed.pack_window = Some(width);
                prop_assert_eq!(run(&mut packed), st);
                prop_assert_eq!(packed.cache_entries(), plain.cache_entries());
                prop_assert_eq!(packed.best(), plain.best());
            }
        }
    }
}
