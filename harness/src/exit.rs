//! Exit codes, as Jepsen's.

pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const UNKNOWN: u8 = 2;
pub const INVALID_RUN: u8 = 3;
pub const BAD_ARGS: u8 = 254;
pub const CRASH: u8 = 255;
