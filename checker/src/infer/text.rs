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

use super::{order, Conflict, ConflictKind, Inferred, Layout, Times, NONE};
use crate::model::EncodedOp;
use crate::pool::Buf;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::Hasher;

/// A string op as inference sees it; a get carries the value it returned.
pub(crate) enum TextOp<'a> {
    Get(&'a str),
    Put(&'a str),
    Append(&'a str),
}

/// A set of bytes.
#[derive(Default)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        self.0[b as usize >> 6] |= 1 << (b & 63);
    }
    fn has(&self, b: u8) -> bool {
        self.0[b as usize >> 6] & (1 << (b & 63)) != 0
    }
}

/// The distinct strings of the puts (or of the appends), each with the ops that carry it.
struct Tokens<'v, 'a> {
    views: &'v [TextOp<'a>],
    /// Open addressing: token id + 1 (0: empty).
    slots: Buf<u32>,
    /// Per token: its first op (whose string it is), which is also the earliest invoked.
    rep: Buf<u32>,
    /// Per token: the earliest invocation among its ops.
    min_call: Buf<usize>,
    /// The ops of token t are `list[start[t]..start[t + 1]]`, in op order.
    start: Buf<u32>,
    list: Buf<u32>,
    /// Distinct lengths, ascending.
    lens: Buf<usize>,
    /// First and last bytes of the strings: most positions of a get's string start no token.
    first: ByteSet,
    last: ByteSet,
}

/// A hash of a short string from two overlapping words (the middle of a long one is hashed too).
fn hash(s: &[u8]) -> u64 {
    let n = s.len();
    let word8 = |b: &[u8]| <[u8; 8]>::try_from(b).map_or(0, u64::from_le_bytes);
    let (a, b) = if n >= 8 {
        (word8(&s[..8]), word8(&s[n - 8..]))
    } else {
        (s.iter().rev().fold(0u64, |w, &x| w << 8 | x as u64), 0)
    };
    let mut h = (a ^ (n as u64).rotate_left(56)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h = (h.rotate_left(29) ^ b).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    if n > 16 {
        let mut f = FxHasher::default();
        f.write(&s[8..n - 8]);
        h ^= f.finish();
    }
    h ^ (h >> 31)
}

fn text_of<'a>(v: &TextOp<'a>) -> &'a [u8] {
    match v {
        TextOp::Get(s) | TextOp::Put(s) | TextOp::Append(s) => s.as_bytes(),
    }
}

impl<'v, 'a> Tokens<'v, 'a> {
    /// The strings of the ops `pick` selects; `tok[i]` gets op i's token id.
    fn build(
        views: &'v [TextOp<'a>],
        calls: &[usize],
        tok: &mut [u32],
        pick: impl Fn(&TextOp<'a>) -> bool,
    ) -> Self {
        let total = views.iter().filter(|v| pick(v)).count();
        let mut t = Tokens {
            views,
            slots: Buf::filled((2 * total).next_power_of_two().max(2), 0),
            rep: Buf::new(),
            min_call: Buf::new(),
            start: Buf::new(),
            list: Buf::new(),
            lens: Buf::new(),
            first: ByteSet::default(),
            last: ByteSet::default(),
        };
        let mut count: Buf<u32> = Buf::new();
        let mask = t.slots.len() - 1;
        for (i, v) in views.iter().enumerate() {
            if !pick(v) {
                continue;
            }
            let s = text_of(v);
            let mut at = hash(s) as usize & mask;
            let id = loop {
                match t.slots[at] {
                    0 => {
                        let id = t.rep.len() as u32;
                        t.slots[at] = id + 1;
                        t.rep.push(i as u32);
                        t.min_call.push(calls[i]);
                        count.push(0);
                        t.lens.push(s.len());
                        if let (Some(&a), Some(&b)) = (s.first(), s.last()) {
                            t.first.insert(a);
                            t.last.insert(b);
                        }
                        break id;
                    }
                    k if t.str(k - 1) == s => break k - 1,
                    _ => at = (at + 1) & mask,
                }
            };
            count[id as usize] += 1;
            tok[i] = id;
        }
        t.lens.sort_unstable();
        t.lens.dedup();
        t.start.reserve(count.len() + 1);
        let mut sum = 0u32;
        t.start.push(0);
        for c in &count {
            sum += c;
            t.start.push(sum);
        }
        t.list.resize(sum as usize, 0);
        // Fill each token's slots in op order (count[] becomes the fill position).
        for (id, c) in count.iter_mut().enumerate() {
            *c = t.start[id];
        }
        for (i, v) in views.iter().enumerate() {
            if pick(v) {
                let id = tok[i] as usize;
                t.list[count[id] as usize] = i as u32;
                count[id] += 1;
            }
        }
        t
    }

    fn len(&self) -> usize {
        self.rep.len()
    }

    fn str(&self, t: u32) -> &'a [u8] {
        text_of(&self.views[self.rep[t as usize] as usize])
    }

    fn get(&self, s: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = hash(s) as usize & mask;
        loop {
            match self.slots[at] {
                0 => return None,
                k if self.str(k - 1) == s => return Some(k - 1),
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn ops(&self, t: u32) -> &[u32] {
        &self.list[self.start[t as usize] as usize..self.start[t as usize + 1] as usize]
    }

    fn all_unique(&self) -> bool {
        self.list.len() == self.rep.len()
    }
}

/// One epoch: its put (NONE: the initial state), its appends in order (token ids), and the get that first
/// showed each position.
struct Epoch {
    put: u32,
    tokens: Buf<u32>,
    shown_by: Buf<u32>,
}

/// How a get's string splits.
enum Split {
    None,
    Many,
    /// The put token (if any); the append tokens are left in the caller's buffer.
    One(Option<u32>),
}

/// How many leading bytes two strings share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (Ok(x), Ok(y)) = (
            <[u8; 8]>::try_from(&a[i..i + 8]),
            <[u8; 8]>::try_from(&b[i..i + 8]),
        ) else {
            break;
        };
        if u64::from_ne_bytes(x) != u64::from_ne_bytes(y) {
            break;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Marks a put in `Splitter::back`.
const PUT: u32 = 1 << 31;

/// Splits gets' strings. The count runs forward over the string, so a get that extends the previous
/// one (the usual case: a key's value grows by appends) reuses the previous count up to where they
/// differ, and only its new tail costs lookups.
struct Splitter<'s, 'v, 'a> {
    puts: &'s Tokens<'v, 'a>,
    appends: &'s Tokens<'v, 'a>,
    /// f[j]: ways (capped at 2) to split `prev[..j]` into an optional put then appended strings.
    f: Buf<u8>,
    /// back[j], when f[j] == 1: the last piece of the one way, as (token, or put | PUT; its start).
    back: Buf<(u32, u32)>,
    prev: &'a [u8],
}

impl<'a> Splitter<'_, '_, 'a> {
    /// With `before`, only strings some op invoked before it carries count: a get returns only what
    /// was written by ops invoked before it completed. (The count then depends on the get, so it is
    /// not reused.)
    fn split(&mut self, s: &'a [u8], before: Option<usize>, out: &mut Buf<u32>) -> Split {
        let (puts, ap) = (self.puts, self.appends);
        let same = match before {
            None => common_prefix(s, self.prev),
            Some(_) => 0,
        };
        let fits = |t: &Tokens, id: u32| before.is_none_or(|r| t.min_call[id as usize] < r);
        if self.f.is_empty() {
            self.f.push(1);
            self.back.push((NONE, 0));
        }
        self.f.truncate(same + 1);
        self.back.truncate(same + 1);
        self.f.resize(s.len() + 1, 0);
        self.back.resize(s.len() + 1, (NONE, 0));
        let max_put = if s.first().is_some_and(|&b| puts.first.has(b)) {
            puts.lens.last().copied().unwrap_or(0)
        } else {
            0
        };
        let (f, back) = (&mut self.f[..], &mut self.back[..]);
        for j in same + 1..=s.len() {
            let end = s[j - 1];
            let put_end = j <= max_put && puts.last.has(end);
            if !put_end && !ap.last.has(end) {
                continue;
            }
            let mut ways = 0u8;
            let mut b = (NONE, 0u32);
            if put_end {
                if let Some(p) = puts.get(&s[..j]).filter(|&p| fits(puts, p)) {
                    ways = 1;
                    b = (p | PUT, 0);
                }
            }
            for &l in ap.lens.iter().take_while(|&&l| l <= j) {
                let i = j - l;
                let w = f[i];
                if w > 0 && ap.first.has(s[i]) {
                    if let Some(t) = ap.get(&s[i..j]).filter(|&t| fits(ap, t)) {
                        ways = ways.saturating_add(w);
                        b = (t, i as u32);
                    }
                }
            }
            f[j] = ways.min(2);
            back[j] = b;
        }
        self.prev = if before.is_none() { s } else { &[] };
        match self.f[s.len()] {
            0 => return Split::None,
            1 => {}
            _ => return Split::Many,
        }
        let mut j = s.len();
        let mut put = None;
        while j > 0 {
            let (id, start) = self.back[j];
            if id & PUT != 0 {
                put = Some(id & !PUT);
                break;
            }
            out.push(id);
            j = start as usize;
        }
        out.reverse();
        Split::One(put)
    }
}

fn invalid(kind: ConflictKind) -> Inferred {
    Inferred::Invalid(Conflict {
        kind,
        prefix: Vec::new(),
    })
}

/// `view` gives each op as a string op (`None` for ops outside the shape: then inference declines).
pub(crate) fn infer<'a, I, O>(
    ops: &[EncodedOp<I, O>],
    view: impl Fn(&EncodedOp<I, O>) -> Option<TextOp<'a>>,
) -> Inferred {
    let mut views = Vec::with_capacity(ops.len());
    for o in ops {
        match view(o) {
            Some(v) => views.push(v),
            None => return Inferred::Undecided("the partition mixes string and register ops"),
        }
    }
    if views
        .iter()
        .any(|v| matches!(v, TextOp::Put(s) | TextOp::Append(s) if s.is_empty()))
    {
        return Inferred::Undecided("an empty put or append");
    }
    if let Some(order) = in_call_order(ops, &views) {
        return Inferred::Valid(order);
    }
    let n = ops.len();
    // Per op: its put or append token.
    let mut tok = Buf::filled(n, NONE);
    let mut calls: Buf<usize> = Buf::new();
    calls.extend(ops.iter().map(|o| o.call));
    let puts = Tokens::build(&views, &calls, &mut tok, |v| matches!(v, TextOp::Put(_)));
    let appends = Tokens::build(&views, &calls, &mut tok, |v| matches!(v, TextOp::Append(_)));
    let mut splitter = Splitter {
        puts: &puts,
        appends: &appends,
        f: Buf::new(),
        back: Buf::new(),
        prev: &[],
    };
    let mut exact = puts.all_unique() && appends.all_unique();
    let mut epochs: Vec<Epoch> = Vec::with_capacity(puts.len() + 1);
    epochs.push(Epoch {
        put: NONE,
        tokens: Buf::new(),
        shown_by: Buf::new(),
    });
    // Per put token (unique puts only): the epoch it began.
    let mut epoch_of_put = Buf::filled(puts.len(), NONE);
    // Per append token: how many positions it holds, and the first.
    let mut held = Buf::filled(appends.len(), (0u32, 0u32, 0u32));
    // Gets by the version they read: (epoch, appends since its put, get).
    let mut reads: Buf<(u32, u32, u32)> = Buf::new();
    let mut left_out: Buf<u32> = Buf::new();
    let mut toks: Buf<u32> = Buf::new();
    // The last get's string, when it split in one way without regard to time, and its put.
    let mut last_one: Option<(&[u8], Option<u32>)> = None;
    for (g, v) in views.iter().enumerate() {
        let TextOp::Get(s) = v else { continue };
        let g = g as u32;
        let bytes = (*s).as_bytes();
        let split = match last_one {
            // The same string as the last get: the same split (still in `toks`).
            Some((prev, put)) if prev == bytes => Split::One(put),
            _ => {
                toks.clear();
                last_one = None;
                match splitter.split(bytes, None, &mut toks) {
                    Split::Many => {
                        // Several ways: keep those made only of ops invoked before the get completed.
                        let ret = ops[g as usize].ret.unwrap_or(usize::MAX);
                        match splitter.split(bytes, Some(ret), &mut toks) {
                            // None left: the search explains it better than "unreadable" would.
                            Split::None => Split::Many,
                            other => other,
                        }
                    }
                    Split::One(put) => {
                        last_one = Some((bytes, put));
                        Split::One(put)
                    }
                    other => other,
                }
            }
        };
        let put = match split {
            Split::None => return invalid(ConflictKind::Unreadable(g)),
            Split::Many => {
                left_out.push(g);
                continue;
            }
            Split::One(put) => put,
        };
        let e = match put {
            None => 0,
            Some(p) => match puts.ops(p) {
                &[op] => {
                    if epoch_of_put[p as usize] == NONE {
                        epochs.push(Epoch {
                            put: op,
                            tokens: Buf::new(),
                            shown_by: Buf::new(),
                        });
                        epoch_of_put[p as usize] = (epochs.len() - 1) as u32;
                    }
                    epoch_of_put[p as usize] as usize
                }
                _ => {
                    // A repeated put: which epoch this is cannot be told.
                    left_out.push(g);
                    continue;
                }
            },
        };
        for (k, &t) in toks.iter().enumerate() {
            let ep = &mut epochs[e];
            match ep.tokens.get(k) {
                Some(&u) if u != t => return invalid(ConflictKind::Disagree(ep.shown_by[k], g)),
                Some(_) => {}
                None => {
                    ep.tokens.push(t);
                    ep.shown_by.push(g);
                    let h = &mut held[t as usize];
                    if h.0 == 0 {
                        (h.1, h.2) = (e as u32, k as u32);
                    }
                    h.0 += 1;
                    if h.0 as usize > appends.ops(t).len() {
                        // More positions than appends of this string: at least two are one op.
                        let (e0, k0) = (h.1, h.2);
                        return invalid(ConflictKind::Disagree(
                            epochs[e0 as usize].shown_by[k0 as usize],
                            g,
                        ));
                    }
                }
            }
        }
        reads.push((e as u32, toks.len() as u32, g));
    }
    exact &= left_out.is_empty();
    let mut times = Times::of(ops);
    // The relaxation: repeated strings' positions become virtual ops with the hull of their intervals.
    let nn = n as u32;
    let mut virtual_of: Buf<u32> = Buf::new();
    let mut token_op: Vec<Buf<u32>> = Vec::with_capacity(epochs.len());
    for ep in &epochs {
        let mut row = Buf::new();
        for &t in &ep.tokens {
            match appends.ops(t) {
                &[a] => row.push(a),
                many => {
                    row.push(nn + virtual_of.len() as u32);
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
    let ok = ops_meta(ops);
    let text = Text {
        ops: &ok,
        views: &views,
        puts: &puts,
        appends: &appends,
        tok: &tok,
        epoch_of_put: &epoch_of_put,
        held: &held,
    };
    // Which copies of a repeated string went unseen is unknown: the relaxation leaves them all out.
    let unique_singles = text.singles(|_| false);
    reads.sort_by_key(|&(e, k, _)| (e, k));
    let relaxed = layout(&epochs, &token_op, &reads, &unique_singles);
    let relaxed_order = match order(&relaxed, &times) {
        Err(mut c) => {
            let real = |i: u32| match i.checked_sub(nn) {
                Some(v) => appends.ops(virtual_of[v as usize])[0],
                None => i,
            };
            c.kind = map_kind(&c.kind, real);
            c.prefix.iter_mut().for_each(|i| *i = real(*i));
            return Inferred::Invalid(c);
        }
        Ok(o) => o,
    };
    if exact {
        return certified(ops, &views, relaxed_order);
    }
    // Concrete: each repeated string's position, in the order found, takes an unused copy that fits
    // between the ops before it and those after it (the earliest-completing such copy).
    let m = relaxed_order.len();
    let mut before = Buf::filled(m + 1, 0usize); // max call of relaxed_order[..i]
    for (i, &o) in relaxed_order.iter().enumerate() {
        before[i + 1] = before[i].max(times.call[o as usize]);
    }
    let mut after = Buf::filled(m + 1, usize::MAX); // min ret of relaxed_order[i..]
    for (i, &o) in relaxed_order.iter().enumerate().rev() {
        after[i] = after[i + 1].min(times.ret[o as usize]);
    }
    let mut unused: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for &t in &virtual_of {
        unused.entry(t).or_insert_with(|| appends.ops(t).to_vec());
    }
    let mut assigned = Buf::filled(virtual_of.len(), NONE);
    for (i, &o) in relaxed_order.iter().enumerate() {
        let Some(v) = o.checked_sub(nn) else { continue };
        let Some(copies) = unused.get_mut(&virtual_of[v as usize]) else {
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
            assigned[v as usize] = copies.swap_remove(pick);
        }
    }
    for row in &mut token_op {
        for i in row.iter_mut() {
            if *i >= nn {
                let a = assigned[(*i - nn) as usize];
                if a == NONE {
                    return Inferred::Undecided("repeated appends could not be placed");
                }
                *i = a;
            }
        }
    }
    let mut placed = Buf::filled(n, false);
    for &i in token_op.iter().flat_map(|r| r.iter()) {
        placed[i as usize] = true;
    }
    if !left_out.is_empty() {
        // Left-out gets read the latest version (by its writer's invocation) with their string.
        let mut versions: FxHashMap<u64, Vec<(usize, usize)>> = FxHashMap::default();
        for (e, ep) in epochs.iter().enumerate() {
            let mut h = match views.get(ep.put as usize) {
                Some(TextOp::Put(s)) => roll(0, s.as_bytes()),
                _ => 0,
            };
            versions.entry(h).or_default().push((e, 0));
            for (k, &t) in ep.tokens.iter().enumerate() {
                h = roll(h, appends.str(t));
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
            picks.push((e as u32, k as u32, g));
        }
        reads.extend(picks);
        reads.sort_by_key(|&(e, k, _)| (e, k));
    }
    let concrete_singles = text.singles(|a| !placed[a as usize]);
    let concrete = layout(&epochs, &token_op, &reads, &concrete_singles);
    match order(&concrete, &Times::of(ops)) {
        Ok(o) if certify_text(ops, &views, &o) => Inferred::Valid(o),
        _ => Inferred::Undecided("repeated values: no order of the assigned ops was found"),
    }
}

/// Whether each op completed `ok` (has an output to check).
fn ops_meta<I, O>(ops: &[EncodedOp<I, O>]) -> Buf<bool> {
    let mut b = Buf::new();
    b.extend(ops.iter().map(|o| o.output.is_some()));
    b
}

/// What `singles` reads.
struct Text<'t, 'v, 'a> {
    /// Per op: whether it completed `ok`.
    ops: &'t [bool],
    views: &'t [TextOp<'a>],
    puts: &'t Tokens<'v, 'a>,
    appends: &'t Tokens<'v, 'a>,
    tok: &'t [u32],
    epoch_of_put: &'t [u32],
    held: &'t [(u32, u32, u32)],
}

impl Text<'_, '_, '_> {
    /// Puts and appends outside the epochs that must still have happened (`ok`), each a chain of its
    /// own. A repeated string's unplaced appends are included when `free` says so; a repeated put only
    /// in the concrete pass (its gets were left out, so it starts no observed epoch).
    fn singles(&self, free: impl Fn(u32) -> bool) -> Buf<u32> {
        let mut out = Buf::new();
        for (i, v) in self.views.iter().enumerate() {
            let op = i as u32;
            if !self.ops[i] {
                continue;
            }
            let t = self.tok[i];
            let keep = match v {
                TextOp::Get(_) => false,
                TextOp::Put(_) => {
                    if self.puts.ops(t).len() == 1 {
                        self.epoch_of_put[t as usize] == NONE
                    } else {
                        free(op)
                    }
                }
                TextOp::Append(_) => {
                    if self.appends.ops(t).len() == 1 {
                        self.held[t as usize].0 == 0
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
}

/// A concatenation-stable hash of bytes (for matching strings to versions; certification catches
/// collisions).
fn roll(mut h: u64, s: &[u8]) -> u64 {
    for &b in s {
        h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(b as u64 + 1);
    }
    h
}

/// The ops in invocation order, `info` ones left out, if they replay so: invocation order respects real
/// time (an op that completed before another began was also invoked first), so that is a linearization.
/// One client's keys, and most quiet ones, are decided here at the cost of one pass.
fn in_call_order<I, O>(ops: &[EncodedOp<I, O>], views: &[TextOp]) -> Option<Vec<u32>> {
    let mut buf: Buf<u8> = Buf::new();
    let mut last_call = 0;
    let mut order = Vec::with_capacity(ops.len());
    for (i, (o, v)) in ops.iter().zip(views).enumerate() {
        if o.call < last_call {
            return None;
        }
        last_call = o.call;
        if o.output.is_none() {
            continue;
        }
        match v {
            TextOp::Put(s) => {
                buf.clear();
                buf.extend_from_slice(s.as_bytes());
            }
            TextOp::Append(s) => buf.extend_from_slice(s.as_bytes()),
            TextOp::Get(s) => {
                if buf[..] != *s.as_bytes() {
                    return None;
                }
            }
        }
        order.push(i as u32);
    }
    Some(order)
}

/// Replays an order with the real-time check, as `infer::certify` does through the model, on one string
/// buffer: put sets it, append extends it, a get must find its value there (the kv model's steps on
/// strings, without a new string per step).
fn certify_text<I, O>(ops: &[EncodedOp<I, O>], views: &[TextOp], order: &[u32]) -> bool {
    let mut seen = Buf::filled(ops.len(), false);
    let mut buf: Buf<u8> = Buf::new();
    let mut max_call = None;
    for &i in order {
        let Some(o) = ops.get(i as usize) else {
            return false;
        };
        if std::mem::replace(&mut seen[i as usize], true) {
            return false;
        }
        if max_call.is_some_and(|m| o.ret.is_some_and(|r| r < m)) {
            return false;
        }
        max_call = Some(max_call.map_or(o.call, |m: usize| m.max(o.call)));
        match views[i as usize] {
            TextOp::Put(s) => {
                buf.clear();
                buf.extend_from_slice(s.as_bytes());
            }
            TextOp::Append(s) => buf.extend_from_slice(s.as_bytes()),
            TextOp::Get(s) => {
                if buf[..] != *s.as_bytes() {
                    return false;
                }
            }
        }
    }
    ops.iter().zip(&seen).all(|(o, &s)| s || o.ret.is_none())
}

fn certified<I, O>(ops: &[EncodedOp<I, O>], views: &[TextOp], order: Vec<u32>) -> Inferred {
    if certify_text(ops, views, &order) {
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

/// The chains: the initial epoch first, then each observed put's epoch, then the singles. `reads` is
/// sorted by (epoch, version).
fn layout(
    epochs: &[Epoch],
    token_op: &[Buf<u32>],
    reads: &[(u32, u32, u32)],
    singles: &[u32],
) -> Layout {
    let mut l = Layout::new();
    let mut r = 0;
    let mut gets_of = |l: &mut Layout, e: usize, k: usize| {
        while let Some(&(re, rk, g)) = reads.get(r) {
            if (re as usize, rk as usize) != (e, k) {
                break;
            }
            l.push(g);
            r += 1;
        }
    };
    for (e, ep) in epochs.iter().enumerate() {
        l.chain();
        l.level();
        if ep.put != NONE {
            l.push(ep.put);
        }
        l.level();
        gets_of(&mut l, e, 0);
        for (k, &a) in token_op[e].iter().enumerate() {
            l.level();
            l.push(a);
            l.level();
            gets_of(&mut l, e, k + 1);
        }
    }
    for &s in singles {
        l.chain();
        l.level();
        l.push(s);
    }
    l
}
