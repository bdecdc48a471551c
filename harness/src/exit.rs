//! Exit codes, as Jepsen's.

pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const UNKNOWN: u8 = 2;
pub const INVALID_RUN: u8 = 3;
pub const BAD_ARGS: u8 = 254;
pub const CRASH: u8 = 255;

/// A run's exit code: an anomaly first (it is real whatever else went wrong), then a run that did not
/// do what it was meant to (a flawed run cannot vouch for a pass), then the verdict.
pub fn of_run(verdict: checker::Validity, problems: &[String]) -> u8 {
    match verdict {
        checker::Validity::Invalid => INVALID,
        _ if !problems.is_empty() => INVALID_RUN,
        v => v.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::Validity;

    #[test]
    fn an_anomaly_outranks_a_flawed_run_which_outranks_a_pass() {
        let flawed = ["a fault never applied".to_string()];
        assert_eq!(of_run(Validity::Invalid, &flawed), INVALID);
        assert_eq!(of_run(Validity::Valid, &flawed), INVALID_RUN);
        assert_eq!(of_run(Validity::Unknown, &flawed), INVALID_RUN);
        assert_eq!(of_run(Validity::Valid, &[]), VALID);
        assert_eq!(of_run(Validity::Unknown, &[]), UNKNOWN);
    }

    /// The node and the packet helper run as `harness node` / `harness nemesis-delay`, but live in crates
    /// that cannot use these constants (the harness depends on them); their codes must still agree.
    #[test]
    fn the_programs_the_harness_runs_exit_as_it_does() {
        assert_eq!(node::config::EXIT_BAD_ARGS, i32::from(super::BAD_ARGS));
        let bad = [nemesis::PACKET_DELAY_COMMAND.to_string()];
        assert_eq!(nemesis::packet_helper_main(&bad), super::BAD_ARGS);
    }
}
