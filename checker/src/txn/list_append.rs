//! List-append analysis: the version order of each key is the longest list read (every other read must
//! be a prefix of it), each value names its one writer, so ww, wr and rw edges follow directly; plus the
//! anomalies that need no cycle.

use super::anomaly::{list_words, t, Found, KEPT_TXNS};
use super::graph::{EdgeList, RW, WR, WW};
use super::history::{Mop, ReadValue, Status, TxnHistory};
use rustc_hash::{FxHashMap, FxHashSet};

/// The one transaction that appended a value to a key.
#[derive(Clone, Copy)]
struct Writer {
    txn: u32,
    /// Its last append to that key in the transaction (else a read ending here is intermediate).
    last: bool,
    /// Position in the key's version order; `UNSEEN` if no read shows it.
    pos: u32,
}

const UNSEEN: u32 = u32::MAX;

/// An ok read: transaction, key, list, and whether it is external (no earlier micro-op on the key in
/// its transaction).
struct Read {
    txn: u32,
    key: u32,
    start: u32,
    len: u32,
    external: bool,
}

/// Builds the ww/wr/rw edges and finds the non-cycle anomalies.
pub fn analyze(h: &TxnHistory, found: &mut Found) -> Result<EdgeList, String> {
    let key = |k: u32| h.keys[k as usize].as_str();
    let mut writers: FxHashMap<(u32, i64), Writer> = FxHashMap::default();
    writers.reserve(h.mops.len() / 2);
    let mut seen_keys: Vec<u32> = Vec::new();
    for (i, _) in h.txns.iter().enumerate() {
        seen_keys.clear();
        for m in h.mops_of(i).iter().rev() {
            if let Mop::Append { key: k, value } = *m {
                let last = !seen_keys.contains(&k);
                if last {
                    seen_keys.push(k);
                }
                let w = Writer {
                    txn: i as u32,
                    last,
                    pos: UNSEEN,
                };
                if let Some(prev) = writers.insert((k, value), w) {
                    return Err(format!(
                        "{value} was appended to {} twice (lines {} and {}): list-append needs each value appended once per key",
                        key(k),
                        h.txns[prev.txn as usize].line,
                        h.txns[i].line
                    ));
                }
            }
        }
    }

    // Reads of committed transactions, with internal consistency checked on the way.
    let mut reads: Vec<Read> = Vec::new();
    for (i, tx) in h.txns.iter().enumerate() {
        if tx.status != Status::Ok {
            continue;
        }
        let mops = h.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let Mop::Read {
                key: k,
                value: ReadValue::List { start, len },
            } = *m
            else {
                continue;
            };
            let got = &h.lists[start as usize..(start + len) as usize];
            let external = !mops[..j].iter().any(|p| p.key() == k);
            if !external {
                if let Some(expected) = internal_expectation(h, &mops[..j], k, got) {
                    found.add("internal", vec![i], || {
                        format!(
                            "{} read {}={} but its own earlier micro-ops imply {expected}",
                            t(i as u64),
                            key(k),
                            list_words(got)
                        )
                    });
                }
            }
            // A read cannot show what its own transaction appends only later.
            let future = mops[j + 1..].iter().find_map(|p| match *p {
                Mop::Append { key, value } if key == k && got.contains(&value) => Some(value),
                _ => None,
            });
            if let Some(v) = future {
                found.add("internal", vec![i], || {
                    format!(
                        "{} read {}={}, which holds {v}, an append it makes only later",
                        t(i as u64),
                        key(k),
                        list_words(got)
                    )
                });
            }
            reads.push(Read {
                txn: i as u32,
                key: k,
                start,
                len,
                external,
            });
        }
    }

    // Per-read anomalies, and the longest read of each key.
    let mut longest: Vec<Option<usize>> = vec![None; h.keys.len()];
    let mut bad_key = vec![false; h.keys.len()];
    let mut dup = FxHashSet::default();
    for (ri, r) in reads.iter().enumerate() {
        let got = &h.lists[r.start as usize..(r.start + r.len) as usize];
        let i = r.txn as usize;
        dup.clear();
        if let Some(&d) = got.iter().find(|&&x| !dup.insert(x)) {
            bad_key[r.key as usize] = true;
            found.add("duplicate-elements", vec![i], || {
                format!(
                    "{} read {}={}, which holds {d} more than once",
                    t(i as u64),
                    key(r.key),
                    list_words(got)
                )
            });
        }
        for &x in got {
            match writers.get(&(r.key, x)) {
                None => {
                    bad_key[r.key as usize] = true;
                    found.add("garbage-read", vec![i], || {
                        format!(
                            "{} read {}={}, but no transaction appended {x} to {}",
                            t(i as u64),
                            key(r.key),
                            list_words(got),
                            key(r.key)
                        )
                    });
                }
                Some(w) if h.txns[w.txn as usize].status == Status::Fail => {
                    found.add("G1a", vec![w.txn as usize, i], || {
                        format!("{} read {}={}, but {x} was appended by {}, which failed (aborted read)", t(i as u64), key(r.key), list_words(got), t(w.txn))
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(&x) = got.last() {
            if let Some(w) = writers.get(&(r.key, x)) {
                if r.external && !w.last && w.txn != r.txn {
                    found.add("G1b", vec![w.txn as usize, i], || {
                        format!("{} read {}={}, ending in {x}, an intermediate append of {}, which appended more to {} later (intermediate read)", t(i as u64), key(r.key), list_words(got), t(w.txn), key(r.key))
                    });
                }
            }
        }
        let slot = &mut longest[r.key as usize];
        if slot.is_none_or(|l| reads[l].len < r.len) {
            *slot = Some(ri);
        }
    }
    // Every read must be a prefix of the longest: else two reads disagree on the order.
    for r in &reads {
        let Some(l) = longest[r.key as usize] else {
            continue;
        };
        let long = &reads[l];
        let a = &h.lists[r.start as usize..(r.start + r.len) as usize];
        let b = &h.lists[long.start as usize..(long.start + long.len) as usize];
        if b[..a.len()] != *a && !bad_key[r.key as usize] {
            bad_key[r.key as usize] = true;
            found.add(
                "incompatible-order",
                vec![r.txn as usize, long.txn as usize],
                || {
                    format!(
                        "{} read {}={} but {} read {}={}: neither is a prefix of the other",
                        t(r.txn),
                        key(r.key),
                        list_words(a),
                        t(long.txn),
                        key(r.key),
                        list_words(b)
                    )
                },
            );
        }
    }

    // The version order: positions of observed values.
    let mut order: Vec<&[i64]> = vec![&[]; h.keys.len()];
    for (k, l) in longest.iter().enumerate() {
        let Some(l) = *l else { continue };
        if bad_key[k] {
            continue;
        }
        let r = &reads[l];
        let vals = &h.lists[r.start as usize..(r.start + r.len) as usize];
        order[k] = vals;
        for (p, &x) in vals.iter().enumerate() {
            if let Some(w) = writers.get_mut(&(k as u32, x)) {
                w.pos = p as u32;
            }
        }
    }
    let committed = |w: &Writer| h.txns[w.txn as usize].status != Status::Fail;
    // Committed appends no read shows come after every value shown, in some unknown order.
    let mut unseen: Vec<Vec<(u32, i64)>> = vec![Vec::new(); h.keys.len()];
    for (&(k, x), w) in &writers {
        if w.pos == UNSEEN && h.txns[w.txn as usize].status == Status::Ok && !bad_key[k as usize] {
            unseen[k as usize].push((w.txn, x));
        }
    }
    for u in &mut unseen {
        u.sort_unstable();
        u.dedup_by_key(|(tx, _)| *tx);
    }

    let mut edges = EdgeList::default();
    for (k, vals) in order.iter().enumerate() {
        let k32 = k as u32;
        let w = |x: i64| writers[&(k32, x)];
        for pair in vals.windows(2) {
            let (a, b) = (w(pair[0]), w(pair[1]));
            if committed(&a) && committed(&b) {
                edges.add(a.txn, b.txn, WW, k32, pair[1]);
            }
        }
        if let Some(&last) = vals.last() {
            let a = w(last);
            if committed(&a) {
                for &(u, x) in &unseen[k] {
                    edges.add(a.txn, u, WW, k32, x);
                }
            }
        }
    }
    let mut lost: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
    for r in reads
        .iter()
        .filter(|r| r.external && !bad_key[r.key as usize])
    {
        let vals = order[r.key as usize];
        let got = &vals[..r.len as usize];
        let mut source = None;
        if let Some(&x) = got.last() {
            let wr = writers[&(r.key, x)];
            if committed(&wr) {
                edges.add(wr.txn, r.txn, WR, r.key, x);
            }
            source = Some(wr.txn);
        }
        if let Some(&next) = vals.get(r.len as usize) {
            let nw = writers[&(r.key, next)];
            // Reading a writer's intermediate state is G1b, not a cycle through that writer.
            if committed(&nw) && source != Some(nw.txn) {
                edges.add(r.txn, nw.txn, RW, r.key, next);
            }
        } else {
            // Capped: a storm of unseen appends must not make the graph quadratic (any subset of
            // true edges is sound; only completeness suffers).
            for &(u, x) in unseen[r.key as usize].iter().take(super::MAX_FANOUT) {
                if source != Some(u) {
                    edges.add(r.txn, u, RW, r.key, x);
                }
            }
        }
        let appends = h
            .mops_of(r.txn as usize)
            .iter()
            .any(|m| matches!(*m, Mop::Append { key: k, .. } if k == r.key));
        if appends {
            lost.entry((r.key, r.len)).or_default().push(r.txn);
        }
    }
    let mut groups: Vec<((u32, u32), Vec<u32>)> =
        lost.into_iter().filter(|(_, v)| v.len() > 1).collect();
    groups.sort_unstable();
    for ((k, len), txns) in groups {
        let names = super::anomaly::some_names(&txns);
        let seen = list_words(&order[k as usize][..len as usize]);
        found.add("lost-update", txns.iter().take(KEPT_TXNS).map(|&x| x as usize).collect(), || {
            format!("{} all read {}={seen} and each appended to {}: all but one of their updates was made without seeing the others (lost update)", names, key(k), key(k))
        });
    }
    Ok(edges)
}

/// What a read after earlier micro-ops on the same key in its transaction must return, if `got` is not
/// it: the earlier read plus the appends since, or (with no earlier read) a list ending in the appends.
fn internal_expectation(h: &TxnHistory, before: &[Mop], k: u32, got: &[i64]) -> Option<String> {
    let mut appended: Vec<i64> = Vec::new();
    let mut prior: Option<&[i64]> = None;
    for m in before.iter().rev() {
        match *m {
            Mop::Append { key, value } if key == k => appended.push(value),
            Mop::Read { key, value } if key == k => {
                prior = h.list_of(value);
                break;
            }
            _ => {}
        }
    }
    appended.reverse();
    match prior {
        Some(p) => {
            let mut want = p.to_vec();
            want.extend_from_slice(&appended);
            (want != got).then(|| list_words(&want))
        }
        None => (!got.ends_with(&appended))
            .then(|| format!("a list ending in {}", list_words(&appended))),
    }
}
