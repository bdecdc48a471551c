//! Linearizability checker (WGL / porcupine-style), as a library with a thin CLI in `harness check`.

pub mod history;

pub use history::{Event, EventType, Process};
