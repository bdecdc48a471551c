//! The set of (linearized ops, state) pairs already explored.
//!
//! A linearized set is stored compactly: `m`, the first op not yet linearized (every op before it is),
//! and the linearized ops after it. That is canonical, and short even in long histories, where a full
//! bitset per entry would not fit in memory.
//!
//! Two tables. Most pairs fit a fixed 16-byte key, stored in place in an open-addressing table: `m`, the
//! state packed into 32 bits (`Model::pack_state`), and the 64 ops after `m` as one word (no op after
//! those is linearized). It is exact (the key is the pair itself, not a fingerprint of it), so there is
//! nothing to compare beyond the 16 bytes and no collision to fear. A pair that does not fit (a wider
//! window of pending ops, a state that does not pack) goes to the general table, which keeps the bitset
//! words from `m`'s word up to the highest linearized op and the state itself.

use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry as MapEntry;

const NONE: u32 = u32::MAX;

struct Entry<S> {
    off: usize,
    m: u32,
    len: u32,
    next: u32,
    state: S,
}

pub(crate) struct Cache<S> {
    table: FxHashMap<u64, u32>,
    entries: Vec<Entry<S>>,
    words: Vec<u64>,
    heap: usize,
}

impl<S: Eq + Clone> Cache<S> {
    pub(crate) fn new() -> Self {
        Cache {
            table: FxHashMap::default(),
            entries: Vec::new(),
            words: Vec::new(),
            heap: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds the pair unless present; true if it was new. `heap` is the state's heap size.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        m: u32,
        slice: &[u64],
        state: &S,
        heap: usize,
    ) -> bool {
        let idx = self.entries.len() as u32;
        let head = match self.table.entry(hash) {
            MapEntry::Occupied(mut o) => {
                let mut i = *o.get();
                while i != NONE {
                    let e = &self.entries[i as usize];
                    if e.m == m
                        && e.len as usize == slice.len()
                        && self.words[e.off..e.off + slice.len()] == *slice
                        && e.state == *state
                    {
                        return false;
                    }
                    i = e.next;
                }
                std::mem::replace(o.get_mut(), idx)
            }
            MapEntry::Vacant(v) => {
                v.insert(idx);
                NONE
            }
        };
        let off = self.words.len();
        self.words.extend_from_slice(slice);
        self.entries.push(Entry {
            off,
            m,
            len: slice.len() as u32,
            next: head,
            state: state.clone(),
        });
        self.heap += heap;
        true
    }

    /// Bytes held, counting allocated capacity.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry<S>>()
            + self.words.capacity() * 8
            + self.table.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            + self.heap
    }
}

/// A pair in the packed table: `m`, the packed state, and the linearized ops among `m + 1 ..= m + 64`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    pub m: u32,
    pub state: u32,
    pub window: u64,
}

/// A slot: `m` and the state in one word, the window in the other; `m == u32::MAX` is an empty slot.
type Slot = [u64; 2];

const EMPTY: Slot = [u64::MAX, 0];

/// The packed pairs, in place in an open-addressing table (linear probing, at most 5/8 full).
pub(crate) struct PackedSet {
    slots: Vec<Slot>,
    len: usize,
}

impl PackedSet {
    pub(crate) fn new() -> Self {
        PackedSet {
            slots: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// Adds the pair unless present; true if it was new. `m` must not be `u32::MAX`.
    #[inline]
    pub(crate) fn insert(&mut self, key: Packed) -> bool {
        if (self.len + 1) * 8 > self.slots.len() * 5 {
            self.grow();
        }
        let k = [(key.m as u64) << 32 | key.state as u64, key.window];
        let mask = self.slots.len() - 1;
        let mut at = Self::hash(&k) as usize & mask;
        loop {
            let s = self.slots[at];
            if s == k {
                return false;
            }
            if s[0] == EMPTY[0] {
                self.slots[at] = k;
                self.len += 1;
                return true;
            }
            at = (at + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(1 << 10);
        let mut slots = Vec::with_capacity(cap);
        huge_pages(&slots);
        slots.resize(cap, EMPTY);
        let old = std::mem::replace(&mut self.slots, slots);
        let mask = cap - 1;
        for k in old.into_iter().filter(|k| k[0] != EMPTY[0]) {
            let mut at = Self::hash(&k) as usize & mask;
            while self.slots[at][0] != EMPTY[0] {
                at = (at + 1) & mask;
            }
            self.slots[at] = k;
        }
    }

    #[inline]
    fn hash(k: &Slot) -> u64 {
        let mut h =
            k[0].wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k[1].wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h = (h ^ (h >> 32)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^ (h >> 29)
    }
}

/// Asks for transparent huge pages under a large table not yet touched: its probes land anywhere, and
/// with 4 KiB pages nearly each one misses the TLB as well as the cache.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 4 * HUGE {
        return;
    }
    let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside the vector's allocation; madvise changes no contents, only how
        // the kernel backs the pages (a failure is harmless and ignored).
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_equal_pairs_and_separates_collisions() {
        let mut c: Cache<u32> = Cache::new();
        assert!(c.insert(7, 0, &[0b1], &1, 0));
        assert!(!c.insert(7, 0, &[0b1], &1, 0));
        assert!(c.insert(7, 0, &[0b1], &2, 0), "same hash, other state");
        assert!(c.insert(7, 0, &[0b11], &1, 0), "same hash, other set");
        assert!(
            c.insert(7, 1, &[0b1], &1, 0),
            "same words, other first-unlinearized op"
        );
        assert!(!c.insert(7, 0, &[0b11], &1, 0));
        assert_eq!(c.len(), 4);
        assert!(c.bytes() > 0);
    }

    #[test]
    fn packed_pairs_are_told_apart_by_every_field() {
        let mut p = PackedSet::new();
        let k = |m, state, window| Packed { m, state, window };
        let key = k(3, 1, 0b101);
        assert!(p.insert(key));
        assert!(!p.insert(key));
        for other in [k(4, 1, 0b101), k(3, 2, 0b101), k(3, 1, 0b100)] {
            assert!(p.insert(other));
        }
        for i in 0..10_000u32 {
            let key = k(i, i % 7, u64::from(i).wrapping_mul(31));
            assert!(p.insert(key));
        }
        assert_eq!(p.len(), 4 + 10_000);
        assert!(!p.insert(key), "still there after growing");
    }
}
