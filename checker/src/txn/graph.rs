//! The dependency graph between transactions, in compressed adjacency form, with an iterative Tarjan
//! (no recursion: a million transactions in one chain must not overflow the stack) and a 0-1 BFS for
//! shortest cycles.
//!
//! Real-time order is not stored as an edge per pair (that is quadratic in concurrency): each run of
//! completions becomes a *time node*, chained in time order; a transaction points to the time node
//! after its completion, and the latest time node before its invocation points to it. T1 reaches T2
//! through time nodes exactly when T1 completed before T2 began.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Edge kinds, as bits so searches can take a mask.
pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;
pub const DATA: u8 = WW | WR | RW;
pub const ALL: u8 = DATA | PROCESS | REALTIME;

/// One dependency. `key`/`value` say why: for ww the value `to` wrote after `from`'s; for wr the value
/// `from` wrote and `to` read; for rw the value `to` wrote that `from` read the state before
/// (`value` is `i64::MIN` with `key` `u32::MAX` for process and real-time edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    pub kind: u8,
    pub key: u32,
    pub value: i64,
}

/// Edges as they are found; [`EdgeList::build`] makes the searchable graph.
#[derive(Debug, Default)]
pub struct EdgeList {
    pub edges: Vec<Edge>,
}

impl EdgeList {
    pub fn add(&mut self, from: u32, to: u32, kind: u8, key: u32, value: i64) {
        if from != to {
            self.edges.push(Edge {
                from,
                to,
                kind,
                key,
                value,
            });
        }
    }

    /// `txns` transaction nodes plus `time_nodes` time nodes after them.
    pub fn build(self, txns: usize, time_nodes: usize) -> Graph {
        let nodes = txns + time_nodes;
        let mut offsets = vec![0u32; nodes + 1];
        for e in &self.edges {
            offsets[e.from as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut order = vec![0u32; self.edges.len()];
        for (i, e) in self.edges.iter().enumerate() {
            let slot = &mut fill[e.from as usize];
            order[*slot as usize] = i as u32;
            *slot += 1;
        }
        Graph {
            txns,
            nodes,
            edges: self.edges,
            offsets,
            order,
        }
    }
}

#[derive(Debug)]
pub struct Graph {
    /// Nodes `0..txns` are transactions; the rest are time nodes.
    pub txns: usize,
    pub nodes: usize,
    pub edges: Vec<Edge>,
    offsets: Vec<u32>,
    order: Vec<u32>,
}

const UNSEEN: u32 = u32::MAX;

impl Graph {
    /// Edge ids leaving `n`.
    pub fn out(&self, n: u32) -> &[u32] {
        &self.order[self.offsets[n as usize] as usize..self.offsets[n as usize + 1] as usize]
    }

    pub fn heap_bytes(&self) -> usize {
        self.edges.capacity() * std::mem::size_of::<Edge>()
            + (self.offsets.capacity() + self.order.capacity()) * 4
    }

    /// Strongly connected components with more than one node, among `nodes` (those for which
    /// `inside` holds), following edges whose kind is in `mask`.
    pub fn sccs(&self, nodes: &[u32], mask: u8, inside: &dyn Fn(u32) -> bool) -> Vec<Vec<u32>> {
        let sparse = nodes.len() < self.nodes / 8;
        let mut t = Tarjan {
            dense: if sparse {
                Vec::new()
            } else {
                vec![(UNSEEN, 0); self.nodes]
            },
            sparse: FxHashMap::default(),
            on_stack: FxHashMap::default(),
            counter: 0,
            stack: Vec::new(),
            out: Vec::new(),
        };
        let mut calls: Vec<(u32, u32)> = Vec::new();
        for &s in nodes {
            if t.index(s) != UNSEEN {
                continue;
            }
            t.open(s);
            calls.push((s, self.offsets[s as usize]));
            while let Some(top) = calls.last_mut() {
                let v = top.0;
                if top.1 < self.offsets[v as usize + 1] {
                    let e = &self.edges[self.order[top.1 as usize] as usize];
                    top.1 += 1;
                    let w = e.to;
                    if e.kind & mask == 0 || !inside(w) {
                        continue;
                    }
                    if t.index(w) == UNSEEN {
                        t.open(w);
                        calls.push((w, self.offsets[w as usize]));
                    } else if t.on_stack(w) {
                        let iw = t.index(w);
                        t.lower(v, iw);
                    }
                } else {
                    calls.pop();
                    let lv = t.low(v);
                    if let Some(&(u, _)) = calls.last() {
                        t.lower(u, lv);
                    }
                    if lv == t.index(v) {
                        t.close(v);
                    }
                }
            }
        }
        t.out
    }

    /// The shortest path from `src` to `dst` over edges in `mask` among nodes where `inside` holds,
    /// counting only steps into transactions (time nodes are free): 0-1 BFS. Edge ids, in order.
    pub fn shortest_path(
        &self,
        src: u32,
        dst: u32,
        mask: u8,
        inside: &dyn Fn(u32) -> bool,
    ) -> Option<Vec<u32>> {
        let mut dist: FxHashMap<u32, (u32, u32)> = FxHashMap::default();
        dist.insert(src, (0, u32::MAX));
        // For a cycle (src == dst): the edge that first closed it.
        let mut closing = None;
        let mut q = VecDeque::from([src]);
        'search: while let Some(v) = q.pop_front() {
            let dv = dist[&v].0;
            if v == dst && v != src {
                break;
            }
            for &e in self.out(v) {
                let edge = &self.edges[e as usize];
                let w = edge.to;
                if edge.kind & mask == 0 || !inside(w) {
                    continue;
                }
                if w == src {
                    if src == dst {
                        closing = Some(e);
                        break 'search;
                    }
                    continue;
                }
                let cost = u32::from((w as usize) < self.txns);
                if dist.get(&w).is_none_or(|&(d, _)| dv + cost < d) {
                    dist.insert(w, (dv + cost, e));
                    if cost == 0 {
                        q.push_front(w);
                    } else {
                        q.push_back(w);
                    }
                }
            }
        }
        let mut path = Vec::new();
        let mut at = match (src == dst, closing) {
            (true, Some(e)) => {
                path.push(e);
                self.edges[e as usize].from
            }
            (true, None) => return None,
            (false, _) => {
                dist.get(&dst)?;
                dst
            }
        };
        while at != src {
            let e = dist[&at].1;
            path.push(e);
            at = self.edges[e as usize].from;
        }
        path.reverse();
        Some(path)
    }
}

/// Tarjan's state; dense arrays for whole-graph passes, hash maps for small sub-searches.
struct Tarjan {
    dense: Vec<(u32, u32)>,
    sparse: FxHashMap<u32, (u32, u32)>,
    on_stack: FxHashMap<u32, ()>,
    counter: u32,
    stack: Vec<u32>,
    out: Vec<Vec<u32>>,
}

impl Tarjan {
    fn get(&self, n: u32) -> (u32, u32) {
        if self.dense.is_empty() {
            self.sparse.get(&n).copied().unwrap_or((UNSEEN, 0))
        } else {
            self.dense[n as usize]
        }
    }
    fn set(&mut self, n: u32, v: (u32, u32)) {
        if self.dense.is_empty() {
            self.sparse.insert(n, v);
        } else {
            self.dense[n as usize] = v;
        }
    }
    fn index(&self, n: u32) -> u32 {
        self.get(n).0
    }
    fn low(&self, n: u32) -> u32 {
        self.get(n).1 & !(1 << 31)
    }
    fn on_stack(&self, n: u32) -> bool {
        if self.dense.is_empty() {
            self.on_stack.contains_key(&n)
        } else {
            self.dense[n as usize].1 & (1 << 31) != 0
        }
    }
    fn open(&mut self, n: u32) {
        let i = self.counter;
        self.counter += 1;
        if self.dense.is_empty() {
            self.on_stack.insert(n, ());
            self.set(n, (i, i));
        } else {
            self.set(n, (i, i | (1 << 31)));
        }
        self.stack.push(n);
    }
    fn lower(&mut self, n: u32, to: u32) {
        let (i, l) = self.get(n);
        if to < (l & !(1 << 31)) {
            self.set(n, (i, to | (l & (1 << 31))));
        }
    }
    fn close(&mut self, v: u32) {
        let mut comp = Vec::new();
        while let Some(w) = self.stack.pop() {
            if self.dense.is_empty() {
                self.on_stack.remove(&w);
            } else {
                self.dense[w as usize].1 &= !(1 << 31);
            }
            comp.push(w);
            if w == v {
                break;
            }
        }
        if comp.len() > 1 {
            self.out.push(comp);
        }
    }
}
