//! Reused buffers for the per-partition work (inference, search setup). A history of many small keys
//! otherwise spends most of its check in `malloc` and `free`: every key builds a few dozen short
//! vectors. A [`Buf`] takes a cleared vector from a per-thread pool and gives it back when dropped.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

/// Buffers larger than this (in elements) are freed, not kept: one huge check must not pin its memory.
const KEEP_MAX: usize = 1 << 16;
/// Buffers kept per element type and thread.
const POOL_MAX: usize = 64;

pub(crate) trait Pooled: Sized + 'static {
    fn pool() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>>;
}

macro_rules! pooled {
    ($($t:ty => $name:ident),* $(,)?) => {$(
        thread_local! {
            static $name: ::std::cell::RefCell<Vec<Vec<$t>>> =
                const { ::std::cell::RefCell::new(Vec::new()) };
        }
        impl $crate::pool::Pooled for $t {
            fn pool() -> &'static ::std::thread::LocalKey<::std::cell::RefCell<Vec<Vec<Self>>>> {
                &$name
            }
        }
    )*};
}

pub(crate) use pooled;

pooled! {
    bool => POOL_BOOL,
    u8 => POOL_U8,
    u32 => POOL_U32,
    u64 => POOL_U64,
    usize => POOL_USIZE,
    (u32, u32) => POOL_U32X2,
    (u32, u32, u32) => POOL_U32X3,
}

/// A vector from the pool; empty, with whatever capacity it had.
pub(crate) struct Buf<T: Pooled>(Vec<T>);

impl<T: Pooled> Buf<T> {
    pub(crate) fn new() -> Self {
        Buf(T::pool()
            .try_with(|p| p.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default())
    }

    /// A buffer of `n` copies of `v`.
    pub(crate) fn filled(n: usize, v: T) -> Self
    where
        T: Clone,
    {
        let mut b = Self::new();
        b.0.resize(n, v);
        b
    }
}

impl<T: Pooled> Drop for Buf<T> {
    fn drop(&mut self) {
        let cap = self.0.capacity();
        if cap == 0 || cap > KEEP_MAX {
            return;
        }
        let mut v = std::mem::take(&mut self.0);
        v.clear();
        let _ = T::pool().try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                if p.len() < POOL_MAX {
                    p.push(v);
                }
            }
        });
    }
}

impl<T: Pooled> Deref for Buf<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Pooled> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<'b, T: Pooled> IntoIterator for &'b Buf<T> {
    type Item = &'b T;
    type IntoIter = std::slice::Iter<'b, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'b, T: Pooled> IntoIterator for &'b mut Buf<T> {
    type Item = &'b mut T;
    type IntoIter = std::slice::IterMut<'b, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut()
    }
}

impl<T: Pooled> Default for Buf<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Pooled + std::fmt::Debug> std::fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_keep_their_capacity() {
        let mut a: Buf<u32> = Buf::new();
        a.extend([1, 2, 3]);
        let cap = a.capacity();
        drop(a);
        let b: Buf<u32> = Buf::new();
        assert!(b.is_empty());
        assert!(b.capacity() >= cap.min(3));
        let v = Buf::filled(4, 7u32);
        assert_eq!(v[..], [7; 4]);
    }
}
