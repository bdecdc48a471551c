//! Read-write register analysis: writes are unique per key, so a read names its writer (wr); the
//! version order is what can be inferred: the initial nil precedes every write, and a transaction that
//! read v and then wrote v' puts v before v'. A read of v anti-depends (rw) on every write known to
//! follow v, which is sound even where the order between those writes is unknown.

use super::anomaly::{t, Found, KEPT_TXNS};
use super::graph::{EdgeList, RW, WR, WW};
use super::history::{Mop, ReadValue, Status, TxnHistory};
use rustc_hash::FxHashMap;

#[derive(Clone, Copy)]
struct Writer {
    txn: u32,
    /// Its last write to that key in the transaction (else a read of it is intermediate).
    last: bool,
}

fn show(x: Option<i64>) -> String {
    x.map_or("nil".into(), |v| v.to_string())
}

/// Builds the ww/wr/rw edges and finds the non-cycle anomalies.
pub fn analyze(h: &TxnHistory, found: &mut Found) -> Result<EdgeList, String> {
    let key = |k: u32| h.keys[k as usize].as_str();
    let mut writers: FxHashMap<(u32, i64), Writer> = FxHashMap::default();
    let mut writes_of: Vec<Vec<(i64, u32)>> = vec![Vec::new(); h.keys.len()];
    let mut seen: Vec<u32> = Vec::new();
    for (i, tx) in h.txns.iter().enumerate() {
        seen.clear();
        for m in h.mops_of(i).iter().rev() {
            if let Mop::Write { key: k, value } = *m {
                let last = !seen.contains(&k);
                if last {
                    seen.push(k);
                    if tx.status != Status::Fail {
                        writes_of[k as usize].push((value, i as u32));
                    }
                }
                if let Some(prev) = writers.insert(
                    (k, value),
                    Writer {
                        txn: i as u32,
                        last,
                    },
                ) {
                    return Err(format!(
                        "{value} was written to {} twice (lines {} and {}): rw-register needs each value written once per key",
                        key(k),
                        h.txns[prev.txn as usize].line,
                        tx.line
                    ));
                }
            }
        }
    }
    let committed = |w: &Writer| h.txns[w.txn as usize].status != Status::Fail;

    let mut edges = EdgeList::default();
    // Versions known to follow each (key, version read): writes-follow-reads within a transaction.
    let mut after: FxHashMap<(u32, Option<i64>), Vec<i64>> = FxHashMap::default();
    let mut ext_reads: Vec<(u32, u32, Option<i64>)> = Vec::new();
    for (i, tx) in h.txns.iter().enumerate() {
        if tx.status != Status::Ok {
            continue;
        }
        let mops = h.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let Mop::Read {
                key: k,
                value: ReadValue::Register(x),
            } = *m
            else {
                continue;
            };
            if let Some(prev) = mops[..j].iter().rev().find(|p| p.key() == k) {
                let want = match *prev {
                    Mop::Write { value, .. } => Some(value),
                    Mop::Read {
                        value: ReadValue::Register(v),
                        ..
                    } => v,
                    _ => x,
                };
                if want != x {
                    found.add("internal", vec![i], || {
                        format!(
                            "{} read {}={} but its own earlier micro-ops imply {}",
                            t(i as u64),
                            key(k),
                            show(x),
                            show(want)
                        )
                    });
                }
                continue;
            }
            ext_reads.push((i as u32, k, x));
            if let Some(v) = x {
                match writers.get(&(k, v)) {
                    None => found.add("garbage-read", vec![i], || {
                        format!(
                            "{} read {}={v}, but no transaction wrote {v} to {}",
                            t(i as u64),
                            key(k),
                            key(k)
                        )
                    }),
                    Some(w) if !committed(w) => found.add("G1a", vec![w.txn as usize, i], || {
                        format!(
                            "{} read {}={v}, written by {}, which failed (aborted read)",
                            t(i as u64),
                            key(k),
                            t(w.txn)
                        )
                    }),
                    Some(w) if w.txn == i as u32 => found.add("internal", vec![i], || {
                        format!(
                            "{} read {}={v}, a value it writes only later",
                            t(i as u64),
                            key(k)
                        )
                    }),
                    Some(w) => {
                        if !w.last && w.txn != i as u32 {
                            found.add("G1b", vec![w.txn as usize, i], || {
                                format!("{} read {}={v}, an intermediate write of {}, which wrote {} again later (intermediate read)", t(i as u64), key(k), t(w.txn), key(k))
                            });
                        } else {
                            edges.add(w.txn, i as u32, WR, k, v);
                        }
                    }
                }
            }
            let wrote = mops[j..].iter().rev().find_map(|p| match *p {
                Mop::Write { key, value } if key == k => Some(value),
                _ => None,
            });
            if let Some(v2) = wrote {
                if x.is_some() {
                    after.entry((k, x)).or_default().push(v2);
                }
            }
        }
    }
    for (&(k, x), nexts) in &after {
        let Some(a) = x.and_then(|v| writers.get(&(k, v))) else {
            continue;
        };
        for &v2 in nexts {
            let b = writers[&(k, v2)];
            if committed(a) {
                edges.add(a.txn, b.txn, WW, k, v2);
            }
        }
    }
    let mut lost: FxHashMap<(u32, Option<i64>), Vec<u32>> = FxHashMap::default();
    for &(r, k, x) in &ext_reads {
        let source = x.and_then(|v| writers.get(&(k, v))).map(|w| w.txn);
        // Nil precedes every write; a read of v precedes every write known to follow v.
        let nexts: Box<dyn Iterator<Item = (i64, u32)>> = match x {
            None => Box::new(writes_of[k as usize].iter().copied()),
            Some(_) => Box::new(
                after
                    .get(&(k, x))
                    .into_iter()
                    .flatten()
                    .map(|&v2| (v2, writers[&(k, v2)].txn)),
            ),
        };
        // Capped as in list-append: many readers of nil must not make the graph quadratic.
        for (v2, w) in nexts.take(super::MAX_FANOUT) {
            if Some(w) != source {
                edges.add(r, w, RW, k, v2);
            }
        }
        let writes = h
            .mops_of(r as usize)
            .iter()
            .any(|m| matches!(*m, Mop::Write { key, .. } if key == k));
        if writes {
            lost.entry((k, x)).or_default().push(r);
        }
    }
    let mut groups: Vec<_> = lost.into_iter().filter(|(_, v)| v.len() > 1).collect();
    groups.sort_unstable();
    for ((k, x), txns) in groups {
        let names = super::anomaly::some_names(&txns);
        found.add("lost-update", txns.iter().take(KEPT_TXNS).map(|&x| x as usize).collect(), || {
            format!("{} all read {}={} and each wrote {}: all but one of their updates was made without seeing the others (lost update)", names, key(k), show(x), key(k))
        });
    }
    Ok(edges)
}
