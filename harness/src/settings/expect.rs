//! `--expect`: which guarantees decide a run's exit code ([`crate::run::guarantees`] evaluates them).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// `--expect`: which guarantees decide the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Linearizable,
    /// The four session guarantees.
    Sessions,
    /// Converged after heal, with no lost acknowledged writes.
    Eventual,
}

impl Expect {
    pub fn name(self) -> &'static str {
        match self {
            Expect::Linearizable => "linearizable",
            Expect::Sessions => "sessions",
            Expect::Eventual => "eventual",
        }
    }

    /// The guarantees (results.json names) this choice decides on.
    pub fn decides(self) -> &'static [&'static str] {
        match self {
            Expect::Linearizable => &["linearizable"],
            Expect::Sessions => &[
                "read_your_writes",
                "monotonic_reads",
                "monotonic_writes",
                "writes_follow_reads",
            ],
            Expect::Eventual => &["converged"],
        }
    }

    /// What a pass means, for the verdict line.
    pub fn words(self) -> &'static str {
        match self {
            Expect::Linearizable => "linearizable",
            Expect::Sessions => "every session guarantee holds",
            Expect::Eventual => "converged with no lost writes",
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Expect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "linearizable" => Ok(Expect::Linearizable),
            "sessions" => Ok(Expect::Sessions),
            "eventual" => Ok(Expect::Eventual),
            _ => Err(format!(
                "unknown --expect '{s}'; expected linearizable, sessions or eventual"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_names_parse_and_errors_list_the_choices() {
        for e in [Expect::Linearizable, Expect::Sessions, Expect::Eventual] {
            assert_eq!(e.name().parse::<Expect>().unwrap(), e);
        }
        let e = "strong".parse::<Expect>().unwrap_err();
        assert!(e.contains("strong") && e.contains("sessions"), "{e}");
    }
}
