//! Models: what a correct object does. A model turns each operation into typed input and output once,
//! then `step` is the only thing the search calls in its hot loop.

mod kv;
mod list_append;
mod prune;
pub(crate) mod reg_op;
pub(crate) mod register;

pub use kv::{KvModel, KvState};
pub use list_append::{ListAppendModel, ListOp};
pub use prune::ValueUse;
pub use register::RegisterModel;

use crate::inferred::Inferred;
use crate::ops::Op;
use std::borrow::Cow;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// One operation in the form the search uses: typed input, the output (`None` = unknown: an `info`
/// completion) and its real-time interval as positions in the event sequence.
#[derive(Debug, Clone)]
pub struct EncodedOp<I, O> {
    /// Index into `History::ops`.
    pub op: usize,
    pub input: I,
    pub output: Option<O>,
    pub call: usize,
    /// `None`: the op may take effect at any point after its call, or never.
    pub ret: Option<usize>,
}

/// How a model encodes one op.
pub enum Encoded<I, O> {
    /// Check this op; `None` output means the outcome is unknown.
    Op(I, Option<O>),
    /// The op cannot affect anything (e.g. a read that ended `info`): leave it out.
    Drop,
}

/// A sequential specification. Implement this to check histories of your own objects.
pub trait Model: Sync {
    type State: Clone + Eq + Hash + Send + Sync;
    type Input: Send + Sync;
    type Output: Send + Sync;

    /// The model's name, as shown to people.
    fn name(&self) -> &str;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Turns an op into typed input and output, or explains why this model cannot check it.
    /// Called once per op before the search (it may intern values, hence `&mut self`).
    fn encode(&mut self, op: &Op) -> Result<Encoded<Self::Input, Self::Output>, String>;

    /// Applies an op: `Some(next state)` if the op may take effect in `state` with this output
    /// (an unknown output accepts whatever the op would have returned), `None` if not.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// True if the op never changes the state wherever it may take effect (a read). The search then
    /// linearizes it as soon as it can and tries nothing else there: a read moved earlier, to a point
    /// where the state already has its value, leaves every later state as it was.
    fn read_only(&self, _input: &Self::Input, _output: Option<&Self::Output>) -> bool {
        false
    }

    /// A key equal for two ops exactly when `step` treats them alike in every state (two writes of one
    /// value). Of such twins pending together, the search tries only the one that must return first:
    /// swapping the two in any linearization that starts with another keeps it valid. `None`: no twins.
    fn twin_key(&self, _input: &Self::Input, _output: Option<&Self::Output>) -> Option<u64> {
        None
    }

    /// Ops with different partition keys are independent and checked separately (P-compositionality).
    fn partition(&self, op: &Op) -> Option<String> {
        op.key.clone()
    }

    /// [`Model::partition`], borrowed from the op where possible: what the checker calls once per op. The
    /// default asks `partition`; a model that partitions by `Op::key` returns it borrowed, with no
    /// allocation per op.
    fn partition_key<'o>(&self, op: &'o Op) -> Option<Cow<'o, str>> {
        self.partition(op).map(Cow::Owned)
    }

    /// A chance to simplify one partition before the search (drop ops that cannot matter, bound when
    /// `info` ops must have happened). It must keep the verdict unchanged.
    fn prepare(&self, _ops: &mut Vec<EncodedOp<Self::Input, Self::Output>>) {}

    /// Decides one prepared partition without search, where the values allow it (see `infer`);
    /// `Undecided` hands it to the search. A verdict must equal the search's.
    fn infer(&self, _ops: &[EncodedOp<Self::Input, Self::Output>]) -> Inferred {
        Inferred::Undecided("this model has no inference")
    }

    /// The state in words, e.g. `4` or `nil`.
    fn describe_state(&self, state: &Self::State) -> String;

    /// The op in words, e.g. `write 4` or `read of k2 returned 4`.
    fn describe_op(&self, op: &Op) -> String {
        crate::describe::describe_op(op)
    }

    /// The state as 32 bits, where it fits: different states must give different numbers. The search
    /// then keeps the (linearized ops, state) pairs it has explored in 16 bytes each; `None` (the
    /// default) keeps the state itself.
    fn pack_state(&self, _state: &Self::State) -> Option<u32> {
        None
    }

    /// For models whose state is one value among numbered ones (registers): the value an op needs to
    /// find (`requires`, when the op is `ok`) and the value it may write. The search then stops early on
    /// a path where a value some pending op still needs can no longer come back (no op left writes it).
    /// `None` (the default) for any op turns that off for its partition.
    fn value_use(&self, _input: &Self::Input, _output: Option<&Self::Output>) -> Option<ValueUse> {
        None
    }

    /// The number of the value a state holds, in the numbering of [`Model::value_use`].
    fn state_value(&self, _state: &Self::State) -> Option<u32> {
        None
    }

    /// Heap bytes a state holds beyond its own size (for the memory bound).
    fn state_heap_bytes(&self, _state: &Self::State) -> usize {
        0
    }
}

/// The built-in models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A register with read and write.
    Register,
    /// A register with read, write and compare-and-set (`cas` with value `[from, to]`).
    CasRegister,
    /// Independent registers per key: read/write/cas, and get/put/append on strings.
    Kv,
    /// A list per key: `append` of unique integers, `read` of the whole list (Elle's list-append);
    /// checked by inference (`checker::append`), not by search.
    ListAppend,
    /// Registers per key in Elle transactions (`[:w k v]`, `[:r k v]`, unique writes); checked for
    /// transactional consistency by `checker::txn`, not by search.
    RwRegister,
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::ListAppend,
        ModelKind::RwRegister,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::ListAppend => "list-append",
            ModelKind::RwRegister => "rw-register",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown model name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model {0:?}: expected register, cas-register, kv, list-append or rw-register")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "register" => Ok(ModelKind::Register),
            "cas-register" | "cas_register" | "casregister" => Ok(ModelKind::CasRegister),
            "kv" | "key-value" => Ok(ModelKind::Kv),
            "list-append" | "list_append" | "append" => Ok(ModelKind::ListAppend),
            "rw-register" | "rw_register" => Ok(ModelKind::RwRegister),
            _ => Err(UnknownModel(s.to_string())),
        }
    }
}
