//! The one verdict type: valid, invalid or unknown (as Jepsen's `:valid?`), with the merge every
//! consumer uses (the run, compare, the report and the exit code), so no one converts between
//! `Option<bool>`, `bool` and their own three-valued enum.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The verdict: `true`, `false`, or `"unknown"` when a bound was hit or nothing could be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Validity {
    Valid,
    Invalid,
    /// Not decided: a bound was hit, or there was nothing to judge.
    #[default]
    Unknown,
}

impl Validity {
    /// The process exit code: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// The verdict an exit code stands for (0, 1, 2); other codes decide nothing.
    pub fn from_exit_code(code: u8) -> Self {
        match code {
            0 => Validity::Valid,
            1 => Validity::Invalid,
            _ => Validity::Unknown,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }

    /// `✓`, `✗` or `–`, as the ladders show a guarantee.
    pub fn mark(&self) -> &'static str {
        match self {
            Validity::Valid => "✓",
            Validity::Invalid => "✗",
            Validity::Unknown => "–",
        }
    }

    /// `Some(true)`, `Some(false)` or `None` (unknown), for JSON's null/true/false.
    pub fn as_option(self) -> Option<bool> {
        match self {
            Validity::Valid => Some(true),
            Validity::Invalid => Some(false),
            Validity::Unknown => None,
        }
    }

    pub fn is_valid(self) -> bool {
        self == Validity::Valid
    }

    pub fn is_invalid(self) -> bool {
        self == Validity::Invalid
    }

    pub fn is_unknown(self) -> bool {
        self == Validity::Unknown
    }

    /// Both must hold: invalid wins over unknown, which wins over valid.
    pub fn merge(self, other: Validity) -> Validity {
        match (self, other) {
            (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        }
    }

    /// Every one must hold ([`Validity::merge`] over all; valid when there are none).
    pub fn all(vs: impl IntoIterator<Item = Validity>) -> Validity {
        vs.into_iter().fold(Validity::Valid, Validity::merge)
    }

    /// Unknown counts as valid: for a guarantee whose absence must not make the verdict unknown.
    pub fn or_valid(self) -> Validity {
        match self {
            Validity::Unknown => Validity::Valid,
            v => v,
        }
    }
}

impl From<bool> for Validity {
    fn from(b: bool) -> Self {
        if b {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }
}

impl From<Option<bool>> for Validity {
    fn from(b: Option<bool>) -> Self {
        b.map_or(Validity::Unknown, Validity::from)
    }
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The checker's own form: `true`, `false` or `"unknown"` (Jepsen's `:valid?`).
impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(b.into()),
            serde_json::Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "expected true, false or \"unknown\", got {other}"
            ))),
        }
    }
}

/// `#[serde(with = "validity::nullable")]`: a verdict as `true`, `false` or `null` (unknown), the form
/// results.json has always used for guarantees, so the files stay as they were.
pub mod nullable {
    use super::Validity;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Validity, s: S) -> Result<S::Ok, S::Error> {
        v.as_option().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Validity, D::Error> {
        Ok(Option::<bool>::deserialize(d)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Validity::*;

    #[test]
    fn invalid_wins_then_unknown() {
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Validity::all([Valid, Valid]), Valid);
        assert_eq!(Validity::all([]), Valid);
        assert_eq!(Validity::all([Unknown, Invalid, Valid]), Invalid);
        assert_eq!(Unknown.or_valid(), Valid);
    }

    #[test]
    fn both_json_forms_round_trip() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct G {
            #[serde(with = "nullable")]
            v: Validity,
            w: Validity,
        }
        for (v, null_form, own) in [
            (Valid, "true", "true"),
            (Invalid, "false", "false"),
            (Unknown, "null", "\"unknown\""),
        ] {
            let json = serde_json::to_string(&G { v, w: v }).unwrap();
            assert_eq!(json, format!(r#"{{"v":{null_form},"w":{own}}}"#));
            assert_eq!(serde_json::from_str::<G>(&json).unwrap(), G { v, w: v });
            assert_eq!(Validity::from(v.as_option()), v);
            assert_eq!(Validity::from_exit_code(v.exit_code()), v);
        }
    }
}
