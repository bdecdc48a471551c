//! The harness client's own cost, measured once before a comparison (see `workloads::overhead`).

pub use workloads::overhead::measure;
