//! What inference concludes about one partition: the vocabulary shared by the models (whose `infer`
//! hook returns it), the inference itself, and the explanations built from its conflicts.

/// What inference concluded about one partition.
#[derive(Debug, Clone)]
pub enum Inferred {
    /// A linearization (indices into the partition's ops, in order), already replayed through the model.
    Valid(Vec<u32>),
    /// No linearization exists.
    Invalid(Conflict),
    /// Inference cannot decide (the reason); the search decides.
    Undecided(&'static str),
}

/// Why a partition is not linearizable, as inference found it. Op numbers index the partition's ops.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// Ops placed (in order) before the conflict was found: chains already ordered.
    pub prefix: Vec<u32>,
}

/// The shapes of contradiction inference finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictKind {
    /// The op needs a value (a read's result, a cas's `from`) that nothing produces first.
    Unwritten(u32),
    /// Both ops must consume the same version (two cas from one value, or two appends after the same
    /// state), but that version is written only once.
    SameVersion(u32, u32),
    /// `late` completed before `early` was invoked, yet the values put `early` first.
    Order { early: u32, late: u32 },
    /// Two versions that each must come first: `late1` completed before `early1` began, and `late2`
    /// before `early2`, where `early1`/`late2` belong to one version chain and `early2`/`late1` to the other.
    Cycle {
        early1: u32,
        late1: u32,
        early2: u32,
        late2: u32,
    },
    /// A read whose value no sequence of the writes can produce (e.g. a get that is no put plus appends).
    Unreadable(u32),
    /// Two reads that disagree on the order of appends.
    Disagree(u32, u32),
}

impl ConflictKind {
    /// The ops involved, reads first (they make the most telling explanations).
    pub fn ops(&self) -> Vec<u32> {
        match *self {
            ConflictKind::Unwritten(a) | ConflictKind::Unreadable(a) => vec![a],
            ConflictKind::SameVersion(a, b) | ConflictKind::Disagree(a, b) => vec![a, b],
            ConflictKind::Order { early, late } => vec![early, late],
            ConflictKind::Cycle {
                early1,
                late1,
                early2,
                late2,
            } => vec![early1, early2, late1, late2],
        }
    }
}
