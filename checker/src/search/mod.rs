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
use cache::Cache;
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
    /// The longest linearization found, and how much of it the stack still shares.
    best: Vec<u32>,
    common: usize,
    pub(crate) steps: u64,
    reported_bytes: usize,
    status: Option<Status>,
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
        self.cache.len()
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.cache.bytes()
            + self.stack.capacity() * std::mem::size_of::<Frame<M::State>>()
            + self.bits.len() * 8
            + self.next.len() * 8
    }

    fn lift(&mut self, op: u32) {
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
            let slice: &[u64] = if hi > m {
                &self.bits[m as usize / 64..=(hi as usize - 1) / 64]
            } else {
                &[]
            };
            let mut h = FxHasher::default();
            next_state.hash(&mut h);
            let hash = self.hash ^ self.zobrist[op as usize] ^ h.finish();
            let heap = self.model.state_heap_bytes(&next_state);
            if self.cache.insert(hash, m, slice, &next_state, heap) {
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
