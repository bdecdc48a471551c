//! `harness clean`: remove what crashed runs left behind, and nothing else.

use std::fmt;

use serde::Serialize;

use crate::layout::PREFIX;
use crate::netns::{check_privileges, ip, kill_pids, list_netns, netns_exists, netns_pids};
use crate::owner::{read_markers, remove_marker_if_empty};
use crate::Error;

/// A run left alone by [`clean_leftovers`] because its controller still runs (or its owner is unknown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptRun {
    /// The network's prefix (`lh` + run id), or the namespace itself when no marker names an owner.
    pub prefix: String,
    /// The controller's pid, if a marker names one.
    pub pid: Option<u32>,
    /// Its namespaces that still exist.
    pub namespaces: Vec<String>,
}

/// What [`clean_leftovers`] removed, and what it left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Deleted network namespaces.
    pub namespaces: Vec<String>,
    /// Deleted links in the root namespace (our design never makes any; listed if found).
    pub links: Vec<String>,
    /// Processes killed because they were inside a deleted namespace.
    pub processes: Vec<u32>,
    /// Owner markers removed (runs whose controller is gone).
    pub markers: Vec<String>,
    /// Live runs (and namespaces with no owner marker) not touched; `--force` removes them.
    pub kept: Vec<KeptRun>,
}

impl CleanReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.links.is_empty()
            && self.processes.is_empty()
            && self.markers.is_empty()
            && self.kept.is_empty()
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
        )?;
        for k in &self.kept {
            let why = match k.pid {
                Some(pid) => format!("its controller (pid {pid}) is still running"),
                None => "no owner marker says whose it is".to_string(),
            };
            write!(
                f,
                "\nleft alone: {} ({}): {why}; `harness clean --force` removes it",
                k.prefix,
                k.namespaces.join(" ")
            )?;
        }
        Ok(())
    }
}

/// Removes the namespaces (and root-namespace links) named `lh...` of runs whose controller is gone,
/// killing the processes inside them first. Live runs, and namespaces without an owner marker, are left
/// alone and listed in [`CleanReport::kept`]. Nothing without the prefix is touched.
pub fn clean_leftovers() -> Result<CleanReport, Error> {
    clean_leftovers_with_prefix(PREFIX, false)
}

/// Like [`clean_leftovers`], restricted to names starting with `prefix`, which must itself start with
/// `lh` (e.g. `lh` + one run id, to clean a single run). `force` also removes live runs' networks and
/// namespaces that no marker claims.
pub fn clean_leftovers_with_prefix(prefix: &str, force: bool) -> Result<CleanReport, Error> {
    if !prefix.starts_with(PREFIX) {
        return Err(Error::invalid(
            "clean prefix",
            format!(
                "`{prefix}` does not start with `{PREFIX}`; only our own objects may be removed"
            ),
        ));
    }
    check_privileges()?;
    let markers = read_markers();
    let owner_of = |ns: &str| {
        markers
            .iter()
            .find(|(_, o)| o.namespaces.iter().any(|n| n == ns))
    };
    let mut report = CleanReport::default();
    let mut first_err = None;
    for ns in list_netns()?.into_iter().filter(|n| n.starts_with(prefix)) {
        let owner = owner_of(&ns);
        let keep = match owner {
            Some((_, o)) => o.alive(),
            None => true,
        };
        if keep && !force {
            let (key, pid) = match owner {
                Some((p, o)) => (p.clone(), Some(o.pid)),
                None => (ns.clone(), None),
            };
            match report.kept.iter_mut().find(|k| k.prefix == key) {
                Some(k) => k.namespaces.push(ns),
                None => report.kept.push(KeptRun {
                    prefix: key,
                    pid,
                    namespaces: vec![ns],
                }),
            }
            continue;
        }
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
    for (p, o) in markers.iter().filter(|(p, _)| p.starts_with(prefix)) {
        if (force || !o.alive()) && o.namespaces.iter().all(|ns| !netns_exists(ns)) {
            remove_marker_if_empty(p, o);
            report.markers.push(p.clone());
        }
    }
    // Our design never makes root-namespace links; any found are someone's crash debris, removed only
    // when no live run could own them.
    let live_prefixes: Vec<&str> = markers
        .iter()
        .filter(|(_, o)| o.alive())
        .map(|(p, _)| p.as_str())
        .collect();
    for link in root_links()?.into_iter().filter(|l| l.starts_with(prefix)) {
        if !force && live_prefixes.iter().any(|p| link.starts_with(p)) {
            continue;
        }
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
        let err = clean_leftovers_with_prefix("eth", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not start with `lh`"), "{err}");
    }

    #[test]
    fn report_displays_what_was_removed() {
        let r = CleanReport {
            namespaces: vec!["lhab1n1".into()],
            links: vec![],
            processes: vec![42],
            markers: vec![],
            kept: vec![KeptRun {
                prefix: "lhzz9".into(),
                pid: Some(7),
                namespaces: vec!["lhzz9n1".into()],
            }],
        };
        let s = r.to_string();
        assert!(
            s.contains("lhab1n1") && s.contains("42") && s.contains("links: none"),
            "{s}"
        );
        assert!(
            s.contains("left alone: lhzz9") && s.contains("pid 7") && s.contains("--force"),
            "{s}"
        );
        assert!(CleanReport::default()
            .to_string()
            .contains("nothing to clean"));
    }
}
