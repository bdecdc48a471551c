//! `harness clean`: remove what crashed runs left behind, and nothing else.

use std::fmt;

use serde::Serialize;

use crate::layout::PREFIX;
use crate::netns::{check_privileges, ip, kill_pids, list_netns, netns_pids};
use crate::Error;

/// What [`clean_leftovers`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Deleted network namespaces.
    pub namespaces: Vec<String>,
    /// Deleted links in the root namespace (our design never makes any; listed if found).
    pub links: Vec<String>,
    /// Processes killed because they were inside a deleted namespace.
    pub processes: Vec<u32>,
}

impl CleanReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.links.is_empty() && self.processes.is_empty()
    }
}

impl fmt::Display for CleanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(
                f,
                "nothing to clean: no `{PREFIX}` namespaces or links found"
            );
        }
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(" ")
            }
        };
        writeln!(f, "removed namespaces: {}", list(self.namespaces.clone()))?;
        writeln!(f, "removed links: {}", list(self.links.clone()))?;
        write!(
            f,
            "killed processes: {}",
            list(self.processes.iter().map(u32::to_string).collect())
        )
    }
}

/// Removes every namespace and root-namespace link whose name starts with `lh`, killing the processes
/// inside those namespaces first. Nothing without the prefix is touched.
///
/// Note: this also removes the network of a run that is still going on this machine.
pub fn clean_leftovers() -> Result<CleanReport, Error> {
    clean_leftovers_with_prefix(PREFIX)
}

/// Like [`clean_leftovers`], restricted to names starting with `prefix`, which must itself start with
/// `lh` (e.g. `lh` + one run id, to clean a single run).
pub fn clean_leftovers_with_prefix(prefix: &str) -> Result<CleanReport, Error> {
    if !prefix.starts_with(PREFIX) {
        return Err(Error::invalid(
            "clean prefix",
            format!(
                "`{prefix}` does not start with `{PREFIX}`; only our own objects may be removed"
            ),
        ));
    }
    check_privileges()?;
    let mut report = CleanReport::default();
    let mut first_err = None;
    for ns in list_netns()?.into_iter().filter(|n| n.starts_with(prefix)) {
        match netns_pids(&ns) {
            Ok(pids) => report.processes.extend(kill_pids(&pids)),
            Err(e) => tracing::warn!(%ns, error = %e, "listing processes in namespace"),
        }
        match ip(&["netns", "del", &ns]) {
            Ok(_) => {
                tracing::info!(%ns, "removed leftover namespace");
                report.namespaces.push(ns);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    for link in root_links()?.into_iter().filter(|l| l.starts_with(prefix)) {
        if !root_links()?.contains(&link) {
            continue; // the other end of a veth pair we just deleted
        }
        match ip(&["link", "del", &link]) {
            Ok(_) => {
                tracing::info!(%link, "removed leftover link");
                report.links.push(link);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        None => Ok(report),
        Some(e) => {
            tracing::error!(%report, "clean incomplete");
            Err(e)
        }
    }
}

/// Link names in our (root) namespace: `ip -o link show` lines look like `3: name@peer: <...> ...`.
fn root_links() -> Result<Vec<String>, Error> {
    Ok(ip(&["-o", "link", "show"])?
        .lines()
        .filter_map(parse_link_name)
        .collect())
}

fn parse_link_name(line: &str) -> Option<String> {
    let name = line.split(": ").nth(1)?;
    Some(name.split('@').next()?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_parse() {
        assert_eq!(
            parse_link_name("5: lhab1n1@if2: <BROADCAST,MULTICAST> mtu 1500").as_deref(),
            Some("lhab1n1")
        );
        assert_eq!(
            parse_link_name("1: lo: <LOOPBACK,UP> mtu 65536").as_deref(),
            Some("lo")
        );
        assert_eq!(parse_link_name("junk"), None);
    }

    #[test]
    fn refuses_foreign_prefixes() {
        let err = clean_leftovers_with_prefix("eth").unwrap_err().to_string();
        assert!(err.contains("does not start with `lh`"), "{err}");
    }

    #[test]
    fn report_displays_what_was_removed() {
        let r = CleanReport {
            namespaces: vec!["lhab1n1".into()],
            links: vec![],
            processes: vec![42],
        };
        let s = r.to_string();
        assert!(
            s.contains("lhab1n1") && s.contains("42") && s.contains("links: none"),
            "{s}"
        );
        assert!(CleanReport::default()
            .to_string()
            .contains("nothing to clean"));
    }
}
