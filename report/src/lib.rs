//! Run metrics and HTML reports.
