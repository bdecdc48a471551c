//! Linearizability checker (WGL / porcupine-style), as a library with a thin CLI in `harness check`.
//!
//! ```no_run
//! use checker::{check, load_history, CheckOptions};
//! let history = load_history(std::path::Path::new("history.jsonl")).unwrap();
//! let result = check(&history, history.guess_model(), &CheckOptions::default());
//! println!("{}: {}", result.valid, result.explanation);
//! ```

pub mod append;
mod check;
mod describe;
mod edn;
pub mod explain;
pub mod history;
pub mod infer;
mod inferred;
mod json;
pub mod model;
mod numbers;
mod ops;
mod pairer;
mod pairing;
mod parse;
mod parse_error;
mod pool;
mod search;
pub mod txn;
pub mod validity;

pub use check::{
    check, check_model, check_model_with, try_check, try_check_with, CheckOptions, CheckResult,
    KeyResult, Method, Methods,
};
pub use explain::{Counterexample, OpSummary, Part, Role, Sentence};
pub use history::{Event, EventType, Process};
pub use model::{
    Encoded, EncodedOp, KvModel, ListAppendModel, Model, ModelKind, RegisterModel, UnknownModel,
};
pub use ops::{Format, History, Op, Outcome};
pub use pairing::{pair_events, Pairing};
pub use parse::{load_history, parse_edn, parse_events, parse_jsonl, parse_str};
pub use parse_error::{Location, ParseError, MAX_DEPTH};
pub use validity::Validity;
