//! Register operations on interned values: what the register and kv models encode, and what pruning and
//! register inference read. Kept apart from the register model so that inference, which the model calls,
//! does not import the model back.

/// The interned id of nil (absent); see `register::Interner`.
pub(crate) const NIL: u32 = 0;

/// Register operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegOp {
    Read,
    Write(u32),
    Cas(u32, u32),
}
