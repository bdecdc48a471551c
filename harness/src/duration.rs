//! Human durations on the command line: `15` (seconds), `15s`, `500ms`, `2m`, `1.5s`; and how
//! `config.json` records them.

use std::time::Duration;

pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(format!("'{s}' is negative; give a duration of more than 0"));
    }
    let (number, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; use e.g. 15, 15s, 500ms or 2m"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit '{unit}' in '{s}'; use ms, s, m or h")),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 7.0 * 24.0 * 3600.0 {
        return Err(format!("'{s}' is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration as a person reads it: `2h05m`, `3m10s`, `12s`.
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// A duration in `config.json` as seconds, a float (`time_limit_s: 20.0`): for `#[serde(with)]`, so the
/// settings hold a `Duration` and the file keeps the format it always had.
pub mod secs {
    use serde::Serializer;
    #[cfg(test)]
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    // Nothing reads config.json back into settings; the tests check that what is written reads back.
    #[cfg(test)]
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}

/// A duration in `config.json` as whole milliseconds, an integer (`op_timeout_ms: 1000`).
pub mod millis {
    use serde::Serializer;
    #[cfg(test)]
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    // As for `secs`: only the tests read it back.
    #[cfg(test)]
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// `d` cut to whole milliseconds: what `config.json` records of a [`millis`] duration, so the run uses
/// exactly the value it records.
pub fn whole_millis(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_seconds_and_units() {
        assert_eq!(parse("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert!(parse("").unwrap_err().contains("not a duration"));
        assert!(parse("abc").unwrap_err().contains("not a duration"));
        assert!(parse("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("-1").unwrap_err().contains("negative"));
    }
}
