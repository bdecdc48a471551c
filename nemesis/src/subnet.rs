//! The private IPv4 subnet the test network takes its addresses from.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An IPv4 subnet inside the private ranges (RFC 1918), e.g. `10.77.0.0/24` (the default).
///
/// Parsing checks that the host bits of `base` are zero, that the whole subnet lies in 10.0.0.0/8,
/// 172.16.0.0/12 or 192.168.0.0/16, and that the prefix leaves room for hosts (at most /28).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Subnet {
    /// The network address (host bits zero).
    pub base: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

/// The private ranges a test subnet must lie in.
const PRIVATE: [(Ipv4Addr, u8); 3] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];

/// The longest prefix accepted: /28 leaves 14 hosts, enough for the client and a few nodes.
const MAX_PREFIX: u8 = 28;

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Default for Subnet {
    fn default() -> Self {
        Subnet {
            base: Ipv4Addr::new(10, 77, 0, 0),
            prefix: 24,
        }
    }
}

impl Subnet {
    /// Builds a subnet, checking the same rules as parsing.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        let s = Subnet { base, prefix };
        s.validate()?;
        Ok(s)
    }

    /// Checks host bits, private range and size.
    pub fn validate(&self) -> Result<(), Error> {
        let Subnet { base, prefix } = *self;
        if prefix > MAX_PREFIX {
            return Err(Error::invalid(
                "subnet",
                format!("{self}: prefix /{prefix} is too small a network; use /{MAX_PREFIX} or shorter (e.g. /24)"),
            ));
        }
        let b = u32::from(base);
        if b & !mask(prefix) != 0 {
            let fixed = Ipv4Addr::from(b & mask(prefix));
            return Err(Error::invalid(
                "subnet",
                format!("{self}: host bits are set; did you mean {fixed}/{prefix}?"),
            ));
        }
        let private = PRIVATE
            .iter()
            .any(|&(net, len)| prefix >= len && (b & mask(len)) == u32::from(net));
        if !private {
            return Err(Error::invalid(
                "subnet",
                format!(
                    "{self} is not inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16); \
                     test traffic must never use public addresses"
                ),
            ));
        }
        Ok(())
    }

    /// The number of usable host addresses (excluding network and broadcast).
    pub fn host_count(&self) -> u32 {
        (1u32 << (32 - u32::from(self.prefix))) - 2
    }

    /// The address `base + offset`, if it is a usable host address of this subnet.
    pub fn host(&self, offset: u32) -> Option<Ipv4Addr> {
        if offset == 0 || offset > self.host_count() {
            return None;
        }
        Some(Ipv4Addr::from(u32::from(self.base) + offset))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::invalid(
                "subnet",
                format!("`{s}`: {why}; expected a private IPv4 network like 10.77.0.0/24"),
            )
        };
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("missing /prefix"))?;
        let base: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("prefix must be a number from 0 to 32"))?;
        Subnet::new(base, prefix)
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Subnet {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        for s in [
            "10.77.0.0/24",
            "172.20.0.0/16",
            "192.168.5.0/28",
            "10.0.0.0/8",
        ] {
            let subnet: Subnet = s.parse().unwrap();
            assert_eq!(subnet.to_string(), s);
        }
        assert_eq!(Subnet::default().to_string(), "10.77.0.0/24");
    }

    #[test]
    fn rejects_bad_subnets_with_reasons() {
        let cases = [
            ("10.77.0.5/24", "host bits"),
            ("8.8.8.0/24", "private"),
            ("172.32.0.0/16", "private"),
            ("10.0.0.0/7", "private"),
            ("10.77.0.0/30", "too small"),
            ("10.77.0.0", "missing /prefix"),
            ("10.77.0/24", "not an IPv4"),
            ("10.77.0.0/33", "prefix must be"),
        ];
        for (input, needle) in cases {
            let err = input.parse::<Subnet>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn host_addresses_stay_inside() {
        let s: Subnet = "192.168.5.16/28".parse().unwrap();
        assert_eq!(s.host_count(), 14);
        assert_eq!(s.host(2), Some(Ipv4Addr::new(192, 168, 5, 18)));
        assert_eq!(s.host(14), Some(Ipv4Addr::new(192, 168, 5, 30)));
        assert_eq!(s.host(15), None);
        assert_eq!(s.host(0), None);
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s: Subnet = "10.77.0.0/24".parse().unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"10.77.0.0/24\"");
        let back: Subnet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Subnet>("\"1.2.3.0/24\"").is_err());
    }
}
