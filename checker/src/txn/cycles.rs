//! Cycles in the dependency graph, classified as Elle does: for each strongly connected component, the
//! most telling cycle: G0 (ww only), G1c (ww and wr), G-single (exactly one rw), G2-item (more rw); with
//! `-process` or `-realtime` when the cycle needs process or real-time order.

use super::graph::{Graph, ALL, DATA, PROCESS, REALTIME, RW, WR, WW};
use rustc_hash::FxHashSet;

/// A cycle: its name (e.g. `G-single-realtime`) and its edges in order (ids into `Graph::edges`).
#[derive(Debug, Clone)]
pub struct Cycle {
    pub name: String,
    pub edges: Vec<u32>,
}

/// How many anti-dependency edges a G-single search tries per component before settling for G2-item;
/// fewer in a huge component, where each try is a search over all of it.
const SINGLE_TRIES: usize = 256;
const SINGLE_TRIES_HUGE: usize = 8;
const HUGE: usize = 10_000;

/// One cycle for each strongly connected component of the whole graph.
pub fn find_cycles(g: &Graph) -> Vec<Cycle> {
    let all: Vec<u32> = (0..g.nodes as u32).collect();
    let mut out = Vec::new();
    for comp in g.sccs(&all, ALL, &|_| true) {
        let set: FxHashSet<u32> = comp.iter().copied().collect();
        let inside = |n: u32| set.contains(&n);
        for (suffix, extra) in [
            ("", 0),
            ("-process", PROCESS),
            ("-realtime", PROCESS | REALTIME),
        ] {
            if let Some(c) = classify(g, &comp, &inside, extra) {
                let name = format!("{}{suffix}", name_of(g, &c));
                out.push(Cycle { name, edges: c });
                break;
            }
        }
    }
    out
}

/// Elle's name for a cycle's data edges.
fn name_of(g: &Graph, cycle: &[u32]) -> &'static str {
    let kinds = cycle.iter().map(|&e| g.edges[e as usize].kind);
    let rw = kinds.clone().filter(|&k| k == RW).count();
    let wr = kinds.filter(|&k| k == WR).count();
    match (rw, wr) {
        (0, 0) => "G0",
        (0, _) => "G1c",
        (1, _) => "G-single",
        _ => "G2-item",
    }
}

fn classify(g: &Graph, comp: &[u32], inside: &dyn Fn(u32) -> bool, extra: u8) -> Option<Vec<u32>> {
    for mask in [WW | extra, WW | WR | extra] {
        if let Some(c) = any_cycle(g, comp, inside, mask) {
            return Some(c);
        }
    }
    // G-single: an rw edge u -> v closed by a path v ~> u without rw.
    let budget = if comp.len() > HUGE {
        SINGLE_TRIES_HUGE
    } else {
        SINGLE_TRIES
    };
    let mut tries = 0;
    for &u in comp {
        for &e in g.out(u) {
            let edge = &g.edges[e as usize];
            if edge.kind != RW || !inside(edge.to) {
                continue;
            }
            if let Some(mut path) = g.shortest_path(edge.to, u, WW | WR | extra, inside) {
                path.insert(0, e);
                return Some(path);
            }
            tries += 1;
            if tries >= budget {
                break;
            }
        }
        if tries >= budget {
            break;
        }
    }
    any_cycle(g, comp, inside, DATA | extra)
}

/// The shortest cycle through one transaction of a sub-component that `mask` leaves strongly connected.
fn any_cycle(g: &Graph, comp: &[u32], inside: &dyn Fn(u32) -> bool, mask: u8) -> Option<Vec<u32>> {
    let sub = g.sccs(comp, mask, inside).into_iter().next()?;
    let set: FxHashSet<u32> = sub.iter().copied().collect();
    let start = *sub.iter().filter(|&&n| (n as usize) < g.txns).min()?;
    g.shortest_path(start, start, mask, &|n| set.contains(&n))
}
