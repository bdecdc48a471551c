//! Run metrics and self-contained HTML reports.
//!
//! The harness calls, after a run:
//!
//! ```no_run
//! # fn demo(events: &[checker::Event], check: checker::CheckResult, dir: &std::path::Path) -> std::io::Result<()> {
//! use report::{FaultSpan, ReportInput};
//! let faults = vec![FaultSpan::new("partition-leader", 5.0, Some(15.0), ["n1"])];
//! let mut input = ReportInput::new("register lease", events, faults);
//! input.check = Some(check);
//! input.notes.push("node n2 is not running at the end".into());
//! let path = report::write_report(dir, &input)?; // <dir>/report.html
//! # Ok(()) }
//! ```
//!
//! [`RunMetrics`] is also serializable on its own (for `results.json`).

mod axis;
pub mod browser;
pub mod cap;
pub mod codes;
pub mod faults;
pub mod guarantees;
pub mod html;
mod labels;
pub mod metrics;
mod named;
mod ops;
mod plots;
pub mod roles;
mod strip;
mod svg;
mod timeline;
pub mod txn;

pub use cap::{cap_availability, CapAvailability, SideCounts};
pub use faults::{faults_from_history, is_leader_fault, FaultSpan};
pub use guarantees::{GuaranteeView, Rung};
pub use html::{render, write_report, ReportInput};
pub use metrics::{
    Availability, Bucket, LatencyStats, NodeShare, OutcomeCounts, RunMetrics, Unavailability,
    UnavailabilitySummary,
};
pub use svg::esc;
pub use txn::{render_txn, TxnPage};
