//! netem's description of a packet fault, as `tc ... netem` takes it: how `--hosts` applies packet faults
//! (local namespaces use [`crate::packet`], which needs no netem). [`netem_available`] says whether this
//! kernel has the `sch_netem` qdisc.

use std::process::Command;

use serde::Serialize;

/// What netem does to a link's outgoing packets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Netem {
    /// Added delay and its jitter, in milliseconds.
    pub delay_ms: Option<(u64, u64)>,
    /// Percentage of packets dropped.
    pub loss_pct: Option<f64>,
    /// Percentage of packets sent twice.
    pub duplicate_pct: Option<f64>,
}

impl Netem {
    /// The `tc ... netem` arguments.
    pub fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some((d, j)) = self.delay_ms {
            a.extend(["delay".into(), format!("{d}ms"), format!("{j}ms")]);
        }
        if let Some(p) = self.loss_pct {
            a.extend(["loss".into(), format!("{p}%")]);
        }
        if let Some(p) = self.duplicate_pct {
            a.extend(["duplicate".into(), format!("{p}%")]);
        }
        a
    }
}

/// Whether this kernel has the netem qdisc (built in or loadable); the error says what to do.
pub fn netem_available() -> Result<(), String> {
    if std::path::Path::new("/sys/module/sch_netem").exists() {
        return Ok(());
    }
    match Command::new("modprobe").arg("sch_netem").status() {
        Ok(s) if s.success() => Ok(()),
        Ok(_) | Err(_) => Err(
            "the kernel's netem qdisc (module sch_netem) is not available here: load it with \
             `modprobe sch_netem` (Debian: package linux-modules-extra or a kernel with CONFIG_NET_SCH_NETEM)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_arguments() {
        let n = Netem {
            delay_ms: Some((100, 20)),
            loss_pct: Some(5.0),
            duplicate_pct: None,
        };
        assert_eq!(n.args().join(" "), "delay 100ms 20ms loss 5%");
        assert!(Netem::default().args().is_empty());
    }
}
