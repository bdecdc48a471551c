//! The client protocol lives in the `protocol` crate (shared with `workloads`); re-exported so `node::api::*`
//! paths keep working.
pub use protocol::*;
