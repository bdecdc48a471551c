//! Exit codes, as Jepsen's.

pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const UNKNOWN: u8 = 2;
pub const INVALID_RUN: u8 = 3;
pub const BAD_ARGS: u8 = 254;
pub const CRASH: u8 = 255;

#[cfg(test)]
mod tests {
    /// The node and the packet helper run as `harness node` / `harness nemesis-delay`, but live in crates
    /// that cannot use these constants (the harness depends on them); their codes must still agree.
    #[test]
    fn the_programs_the_harness_runs_exit_as_it_does() {
        assert_eq!(node::config::EXIT_BAD_ARGS, i32::from(super::BAD_ARGS));
        let bad = [nemesis::PACKET_DELAY_COMMAND.to_string()];
        assert_eq!(nemesis::packet_helper_main(&bad), super::BAD_ARGS);
    }
}
