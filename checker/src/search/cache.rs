//! The set of (linearized ops, state) pairs already explored.
//!
//! A linearized set is stored compactly: `m`, the first op not yet linearized (every op before it is),
//! and the bitset words from `m`'s word up to the highest linearized op. That is canonical, and short
//! even in long histories, where a full bitset per entry would not fit in memory.

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
}
