//! Inference for porcupine-style string keys: `put` sets the value, `append` adds to it, `get` returns it.
//!
//! A get's string splits into an optional put followed by appends; when it splits in one way, it names
//! the put that began its *epoch* and the order of the appends since, as Elle reads list-append
//! histories. Each epoch is a chain: the put, then one version per append (a cas from the version
//! before). Appends no get saw must still have happened (when `ok`) and can only sit at the end of an
//! epoch, where no get sees them: each is a chain of its own, placed between chains. `info` ops no get
//! saw are left out: not happening explains at least as much.
//!
//! Real histories repeat values (porcupine's kv data appends the same string twice to a key). Then the
//! check runs twice. First on a *relaxation* that is linearizable whenever the history is: gets that
//! split in several ways are left out, and a position held by a repeated string gets the hull of the
//! intervals of the ops that could fill it; if even that has no order, the history is invalid. Else
//! the order found assigns the repeated ops to positions (earliest invocation first), the left-out gets
//! read the latest matching version, and that concrete history is ordered and replayed through the
//! model; only a replay that passes makes the verdict valid, otherwise the search decides.

use super::{certify, order, Conflict, ConflictKind, Inferred, Layout, Times, NONE};
use crate::model::{EncodedOp, Model};
use rustc_hash::FxHashMap;

/// A string op as inference sees it; a get carries the value it returned.
pub(crate) enum TextOp<'a> {
    Get(&'a str),
    Put(&'a str),
    Append(&'a str),
}

type View<M> =
    for<'a> fn(&'a EncodedOp<<M as Model>::Input, <M as Model>::Output>) -> Option<TextOp<'a>>;

type Strings<'a> = FxHashMap<&'a [u8], Vec<u32>>;

/// One epoch: its put (NONE: the initial state), its appends in order (by string), and the gets of
/// each version (`gets[k]` read the put plus the first k appends).
struct Epoch<'a> {
    put: u32,
    tokens: Vec<&'a [u8]>,
    gets: Vec<Vec<u32>>,
}

/// How a get's string splits.
enum Split<'a> {
    None,
    Many,
    One(Option<&'a [u8]>, Vec<&'a [u8]>),
}

struct Splitter<'s, 'a> {
    puts: &'s Strings<'a>,
    appends: &'s Strings<'a>,
    put_lens: Vec<usize>,
    app_lens: Vec<usize>,
    cnt: Vec<u8>,
}

fn lens(m: &Strings) -> Vec<usize> {
    let mut l: Vec<usize> = m.keys().map(|k| k.len()).collect();
    l.sort_unstable();
    l.dedup();
    l
}

impl<'s, 'a> Splitter<'s, 'a> {
    fn split(&mut self, s: &'a [u8]) -> Split<'a> {
        // cnt[i]: ways (capped at 2) to split s[i..] into appended strings.
        let cnt = &mut self.cnt;
        cnt.clear();
        cnt.resize(s.len() + 1, 0);
        cnt[s.len()] = 1;
        for i in (0..s.len()).rev() {
            let mut c = 0u8;
            for &l in self.app_lens.iter().take_while(|&&l| i + l <= s.len()) {
                if self.appends.contains_key(&s[i..i + l]) {
                    c = c.saturating_add(cnt[i + l]);
                }
            }
            cnt[i] = c.min(2);
        }
        let mut total = cnt[0];
        let mut start = (None, 0);
        for &l in self.put_lens.iter().take_while(|&&l| l <= s.len()) {
            if self.puts.contains_key(&s[..l]) && cnt[l] > 0 {
                start = (Some(&s[..l]), l);
                total = total.saturating_add(cnt[l]);
            }
        }
        match total {
            0 => return Split::None,
            1 => {}
            _ => return Split::Many,
        }
        if cnt[0] == 1 {
            start = (None, 0);
        }
        let (put, mut i) = start;
        let mut tokens = Vec::new();
        while i < s.len() {
            let next = self
                .app_lens
                .iter()
                .take_while(|&&l| i + l <= s.len())
                .find(|&&l| cnt[i + l] > 0 && self.appends.contains_key(&s[i..i + l]));
            let Some(&l) = next else { return Split::Many };
            tokens.push(&s[i..i + l]);
            i += l;
        }
        Split::One(put, tokens)
    }
}

fn invalid(kind: ConflictKind) -> Inferred {
    Inferred::Invalid(Conflict {
        kind,
        prefix: Vec::new(),
    })
}

pub(crate) fn infer<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    view: View<M>,
) -> Inferred {
    let Some(views) = ops.iter().map(view).collect::<Option<Vec<_>>>() else {
        return Inferred::Undecided("the partition mixes string and register ops");
    };
    let mut puts: Strings = FxHashMap::default();
    let mut appends: Strings = FxHashMap::default();
    for (i, v) in views.iter().enumerate() {
        let (map, s) = match v {
            TextOp::Put(s) => (&mut puts, s),
            TextOp::Append(s) => (&mut appends, s),
            TextOp::Get(_) => continue,
        };
        if s.is_empty() {
            return Inferred::Undecided("an empty put or append");
        }
        map.entry(s.as_bytes()).or_default().push(i as u32);
    }
    let mut splitter = Splitter {
        put_lens: lens(&puts),
        app_lens: lens(&appends),
        puts: &puts,
        appends: &appends,
        cnt: Vec::new(),
    };
    let mut exact = puts.values().chain(appends.values()).all(|v| v.len() == 1);
    let mut epochs: Vec<Epoch> = vec![Epoch {
        put: NONE,
        tokens: Vec::new(),
        gets: vec![Vec::new()],
    }];
    let mut epoch_of: FxHashMap<u32, usize> = FxHashMap::default();
    // Per epoch and position, the get that first showed it; per string, the positions it holds.
    let mut shown_by: Vec<Vec<u32>> = vec![Vec::new()];
    let mut held: FxHashMap<&[u8], Vec<(u32, u32)>> = FxHashMap::default();
    let mut left_out: Vec<u32> = Vec::new();
    for (g, v) in views.iter().enumerate() {
        let TextOp::Get(s) = v else { continue };
        let g = g as u32;
        let (put, tokens) = match splitter.split(s.as_bytes()) {
            Split::None => return invalid(ConflictKind::Unreadable(g)),
            Split::Many => {
                left_out.push(g);
                continue;
            }
            Split::One(put, tokens) => (put, tokens),
        };
        let e = match put.map(|p| puts[p].as_slice()) {
            None => 0,
            Some(&[p]) => *epoch_of.entry(p).or_insert_with(|| {
                epochs.push(Epoch {
                    put: p,
                    tokens: Vec::new(),
                    gets: vec![Vec::new()],
                });
                shown_by.push(Vec::new());
                epochs.len() - 1
            }),
            Some(_) => {
                // A repeated put: which epoch this is cannot be told.
                left_out.push(g);
                continue;
            }
        };
        let ep = &mut epochs[e];
        for (k, &t) in tokens.iter().enumerate() {
            match ep.tokens.get(k) {
                Some(&u) if u != t => return invalid(ConflictKind::Disagree(shown_by[e][k], g)),
                Some(_) => {}
                None => {
                    ep.tokens.push(t);
                    ep.gets.push(Vec::new());
                    shown_by[e].push(g);
                    let h = held.entry(t).or_default();
                    h.push((e as u32, k as u32));
                    let copies = appends[t].len();
                    if h.len() > copies {
                        // More positions than appends of this string: at least two are one op.
                        let (e0, k0) = h[0];
                        return invalid(ConflictKind::Disagree(
                            shown_by[e0 as usize][k0 as usize],
                            g,
                        ));
                    }
                }
            }
        }
        ep.gets[tokens.len()].push(g);
    }
    exact &= left_out.is_empty();
    let mut times = Times::of(ops);
    // The relaxation: repeated strings' positions become virtual ops with the hull of their intervals.
    let n = ops.len() as u32;
    let mut virtual_of: Vec<&[u8]> = Vec::new();
    let mut token_op: Vec<Vec<u32>> = Vec::with_capacity(epochs.len());
    for ep in &epochs {
        let mut row = Vec::with_capacity(ep.tokens.len());
        for &t in &ep.tokens {
            match appends[t].as_slice() {
                &[a] => row.push(a),
                many => {
                    row.push(n + virtual_of.len() as u32);
                    virtual_of.push(t);
                    let call = many.iter().map(|&a| times.call[a as usize]).min();
                    let ret = many.iter().map(|&a| times.ret[a as usize]).max();
                    times.call.push(call.unwrap_or_default());
                    times.ret.push(ret.unwrap_or(usize::MAX));
                }
            }
        }
        token_op.push(row);
    }
    // Which copies of a repeated string went unseen is unknown: the relaxation leaves them all out.
    let unique_singles = singles(ops, &views, &puts, &appends, &epoch_of, &held, |_| false);
    let relaxed = layout(&epochs, &token_op, &unique_singles);
    let relaxed_order = match order(&relaxed, &times) {
        Err(mut c) => {
            let real = |i: u32| match i.checked_sub(n) {
                Some(v) => appends[virtual_of[v as usize]][0],
                None => i,
            };
            c.kind = map_kind(&c.kind, real);
            c.prefix.iter_mut().for_each(|i| *i = real(*i));
            return Inferred::Invalid(c);
        }
        Ok(o) => o,
    };
    if exact {
        return certified(model, ops, relaxed_order);
    }
    // Concrete: each repeated string's position, in the order found, takes an unused copy that fits
    // between the ops before it and those after it (the earliest-completing such copy).
    let m = relaxed_order.len();
    let mut before = vec![0usize; m + 1]; // max call of relaxed_order[..i]
    for (i, &o) in relaxed_order.iter().enumerate() {
        before[i + 1] = before[i].max(times.call[o as usize]);
    }
    let mut after = vec![usize::MAX; m + 1]; // min ret of relaxed_order[i..]
    for (i, &o) in relaxed_order.iter().enumerate().rev() {
        after[i] = after[i + 1].min(times.ret[o as usize]);
    }
    let mut unused: FxHashMap<&[u8], Vec<u32>> = FxHashMap::default();
    for (&t, v) in &appends {
        if v.len() > 1 {
            unused.insert(t, v.clone());
        }
    }
    let mut assigned: FxHashMap<u32, u32> = FxHashMap::default();
    for (i, &o) in relaxed_order.iter().enumerate() {
        let Some(v) = o.checked_sub(n) else { continue };
        let Some(copies) = unused.get_mut(virtual_of[v as usize]) else {
            continue;
        };
        let fits = |a: &u32| {
            let e = &ops[*a as usize];
            e.call < after[i + 1] && e.ret.is_none_or(|r| r > before[i])
        };
        let pick = copies
            .iter()
            .enumerate()
            .filter(|(_, a)| fits(a))
            .min_by_key(|(_, a)| (ops[**a as usize].ret, ops[**a as usize].call))
            .map(|(j, _)| j)
            .unwrap_or(0);
        if !copies.is_empty() {
            assigned.insert(o, copies.swap_remove(pick));
        }
    }
    for row in &mut token_op {
        for i in row.iter_mut() {
            if *i >= n {
                let Some(&a) = assigned.get(i) else {
                    return Inferred::Undecided("repeated appends could not be placed");
                };
                *i = a;
            }
        }
    }
    let mut placed = vec![false; ops.len()];
    for &i in token_op.iter().flatten() {
        placed[i as usize] = true;
    }
    // Left-out gets read the latest version (by its writer's invocation) with their string.
    let mut versions: FxHashMap<u64, Vec<(usize, usize)>> = FxHashMap::default();
    for (e, ep) in epochs.iter().enumerate() {
        let mut h = match views.get(ep.put as usize) {
            Some(TextOp::Put(s)) => roll(0, s.as_bytes()),
            _ => 0,
        };
        versions.entry(h).or_default().push((e, 0));
        for (k, t) in ep.tokens.iter().enumerate() {
            h = roll(h, t);
            versions.entry(h).or_default().push((e, k + 1));
        }
    }
    let writer_call = |e: usize, k: usize| match k {
        0 if epochs[e].put == NONE => 0,
        0 => ops[epochs[e].put as usize].call,
        k => ops[token_op[e][k - 1] as usize].call,
    };
    let mut picks = Vec::with_capacity(left_out.len());
    for &g in &left_out {
        let TextOp::Get(s) = views[g as usize] else {
            continue;
        };
        let ret = ops[g as usize].ret.unwrap_or(usize::MAX);
        let best = versions.get(&roll(0, s.as_bytes())).and_then(|c| {
            c.iter()
                .copied()
                .filter(|&(e, k)| writer_call(e, k) < ret)
                .max_by_key(|&(e, k)| writer_call(e, k))
        });
        let Some((e, k)) = best else {
            return Inferred::Undecided("a get with an ambiguous value matches no version");
        };
        picks.push((g, e, k));
    }
    for (g, e, k) in picks {
        epochs[e].gets[k].push(g);
    }
    let concrete_singles = singles(ops, &views, &puts, &appends, &epoch_of, &held, |a| {
        !placed[a as usize]
    });
    let concrete = layout(&epochs, &token_op, &concrete_singles);
    match order(&concrete, &Times::of(ops)) {
        Ok(o) if certify(model, ops, &o) => Inferred::Valid(o),
        _ => Inferred::Undecided("repeated values: no order of the assigned ops was found"),
    }
}

/// A concatenation-stable hash of bytes (for matching strings to versions; certification catches
/// collisions).
fn roll(mut h: u64, s: &[u8]) -> u64 {
    for &b in s {
        h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(b as u64 + 1);
    }
    h
}

fn certified<M: Model>(
    model: &M,
    ops: &[EncodedOp<M::Input, M::Output>],
    order: Vec<u32>,
) -> Inferred {
    if certify(model, ops, &order) {
        Inferred::Valid(order)
    } else {
        debug_assert!(false, "inference found an order the model rejects");
        Inferred::Undecided("the order inferred did not replay")
    }
}

fn map_kind(k: &ConflictKind, f: impl Fn(u32) -> u32) -> ConflictKind {
    match *k {
        ConflictKind::Unwritten(a) => ConflictKind::Unwritten(f(a)),
        ConflictKind::Unreadable(a) => ConflictKind::Unreadable(f(a)),
        ConflictKind::SameVersion(a, b) => ConflictKind::SameVersion(f(a), f(b)),
        ConflictKind::Disagree(a, b) => ConflictKind::Disagree(f(a), f(b)),
        ConflictKind::Order { early, late } => ConflictKind::Order {
            early: f(early),
            late: f(late),
        },
        ConflictKind::Cycle {
            early1,
            late1,
            early2,
            late2,
        } => ConflictKind::Cycle {
            early1: f(early1),
            late1: f(late1),
            early2: f(early2),
            late2: f(late2),
        },
    }
}

/// Puts and appends outside the epochs that must still have happened (`ok`), each a chain of its own.
/// A repeated string's unplaced appends are included when `free` says so; a repeated put only in the
/// concrete pass (its gets were left out, so it starts no observed epoch).
fn singles<I, O>(
    ops: &[EncodedOp<I, O>],
    views: &[TextOp],
    puts: &Strings,
    appends: &Strings,
    epoch_of: &FxHashMap<u32, usize>,
    held: &FxHashMap<&[u8], Vec<(u32, u32)>>,
    free: impl Fn(u32) -> bool,
) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, v) in views.iter().enumerate() {
        let op = i as u32;
        if ops[i].output.is_none() {
            continue;
        }
        let keep = match v {
            TextOp::Get(_) => false,
            TextOp::Put(s) => {
                !epoch_of.contains_key(&op) && (puts[s.as_bytes()].len() == 1 || free(op))
            }
            TextOp::Append(s) => {
                let s = s.as_bytes();
                if appends[s].len() == 1 {
                    !held.contains_key(s)
                } else {
                    free(op)
                }
            }
        };
        if keep {
            out.push(op);
        }
    }
    out
}

/// The chains: the initial epoch first, then each observed put's epoch, then the singles.
fn layout(epochs: &[Epoch], token_op: &[Vec<u32>], singles: &[u32]) -> Layout {
    let mut l = Layout::new();
    for (e, ep) in epochs.iter().enumerate() {
        l.chain();
        l.level();
        if ep.put != NONE {
            l.push(ep.put);
        }
        l.level();
        for &g in &ep.gets[0] {
            l.push(g);
        }
        for (k, &a) in token_op[e].iter().enumerate() {
            l.level();
            l.push(a);
            l.level();
            for &g in &ep.gets[k + 1] {
                l.push(g);
            }
        }
    }
    for &s in singles {
        l.chain();
        l.level();
        l.push(s);
    }
    l
}
