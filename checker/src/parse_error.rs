//! Why a history could not be read, and where: shared by every format's reader and by the pairer.

use std::fmt;
use std::path::PathBuf;

/// Longest piece of input text an error message quotes.
pub(crate) const QUOTED: usize = 200;

/// How deep values in a history may nest. Jepsen's histories nest a few levels (an op map holding a
/// transaction of micro-ops, each a vector); deeper input is refused with an error instead of
/// exhausting the reader's stack. It is serde_json's own limit too, which the JSON readers rely on.
pub const MAX_DEPTH: usize = 128;

/// The message for input nested deeper than [`MAX_DEPTH`].
pub(crate) fn too_deep() -> String {
    format!("values nested deeper than {MAX_DEPTH} levels, the limit for a history (Jepsen's nest a few)")
}

/// `s`, cut to at most [`QUOTED`] characters (marked with `...`), for error messages.
pub(crate) fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTED) {
        None => s.to_string(),
        Some((i, _)) => format!("{}...", &s[..i]),
    }
}

/// Where in the input a problem is: a line of a file, or an event handed over in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Line(usize),
    /// 1-based position in the event slice (or in a JSON array whose elements span lines).
    Event(usize),
    /// Byte offset in the input (0-based), where it is not UTF-8 text.
    Byte(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Event(n) => write!(f, "event #{n}"),
            Location::Byte(n) => write!(f, "byte offset {n}"),
        }
    }
}

/// Why a history could not be read. Every variant about content names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the history is empty: it holds no events (a run that never started, or the wrong file?)"
    )]
    Empty,
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: {message}")]
    BadEvent { at: Location, message: String },
    #[error("{at}: process {process} completes an operation ({f}) it never invoked")]
    CompletionWithoutInvoke {
        at: Location,
        process: u64,
        f: String,
    },
    #[error("{at}: process {process} invokes {f} while its {open_f} invoked at {open_at} is still open (a process runs one operation at a time)")]
    DoubleInvoke {
        at: Location,
        process: u64,
        f: String,
        open_f: String,
        open_at: Location,
    },
    #[error("{at}: process {process} completes {f}, but its open operation (invoked at {open_at}) is {open_f}")]
    Mismatch {
        at: Location,
        process: u64,
        f: String,
        open_f: String,
        open_at: Location,
    },
    #[error("{at}: {message}")]
    UnsupportedOp { at: Location, message: String },
}

impl ParseError {
    /// The location the error refers to, if it is about content.
    pub fn location(&self) -> Option<Location> {
        match self {
            ParseError::Io { .. } | ParseError::Empty => None,
            ParseError::Syntax { at, .. }
            | ParseError::BadEvent { at, .. }
            | ParseError::CompletionWithoutInvoke { at, .. }
            | ParseError::DoubleInvoke { at, .. }
            | ParseError::Mismatch { at, .. }
            | ParseError::UnsupportedOp { at, .. } => Some(*at),
        }
    }
}
