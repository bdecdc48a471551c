//! Register operations on interned values: what the register and kv models encode, and what pruning and
//! register inference read, and the step both take. Kept apart from the register model so that inference,
//! which the model calls, does not import the model back.

/// The interned id of nil (absent); see `register::Interner`.
pub(crate) const NIL: u32 = 0;

/// Register operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegOp {
    Read,
    Write(u32),
    Cas(u32, u32),
}

/// The register after `input` with `output` (None: an info op), or None where the output is impossible.
pub(crate) fn register_step(state: u32, input: &RegOp, output: Option<&u32>) -> Option<u32> {
    match (input, output) {
        (RegOp::Read, Some(v)) => (state == *v).then_some(state),
        (RegOp::Read, None) => Some(state),
        (RegOp::Write(v), _) => Some(*v),
        (RegOp::Cas(from, to), Some(_)) => (state == *from).then_some(*to),
        // An info cas that took effect did whatever the state allowed.
        (RegOp::Cas(from, to), None) => Some(if state == *from { *to } else { state }),
    }
}
