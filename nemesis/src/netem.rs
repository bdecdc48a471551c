//! Packet faults: `tc netem` on a node's link (inside its namespace), so every packet it sends is delayed,
//! dropped or duplicated. Needs the kernel's `sch_netem` qdisc; [`netem_available`] says whether it is here.

use std::process::Command;

use serde::Serialize;

use crate::{Error, Network};

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

fn tc(args: &[&str]) -> Result<String, Error> {
    let command = format!("tc {}", args.join(" "));
    let out = Command::new("tc")
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Network {
    /// Puts `netem` on `node`'s link (replacing any qdisc of ours there).
    pub fn shape(&self, node: &str, netem: &Netem) -> Result<(), Error> {
        let (ns, dev) = self.node_link(node)?;
        let spec = netem.args();
        let mut args = vec!["-n", ns, "qdisc", "replace", "dev", dev, "root", "netem"];
        args.extend(spec.iter().map(String::as_str));
        tc(&args).map(drop)
    }

    /// Removes the netem qdisc from `node`'s link (the kernel's default comes back).
    pub fn unshape(&self, node: &str) -> Result<(), Error> {
        let (ns, dev) = self.node_link(node)?;
        tc(&["-n", ns, "qdisc", "del", "dev", dev, "root"]).map(drop)
    }

    /// Whether a netem qdisc is on `node`'s link now (`tc qdisc show`): how a packet fault is verified.
    pub fn shaped(&self, node: &str) -> Result<bool, Error> {
        let (ns, dev) = self.node_link(node)?;
        Ok(tc(&["-n", ns, "qdisc", "show", "dev", dev])?.contains("netem"))
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
