//! `harness clean --hosts FILE`: on every host, remove what runs whose controller is gone left behind:
//! processes started from a run directory (nodes, packet helpers), the directory, the run's nft tables and iptables chains (partitions, packet faults), and a
//! netem qdisc the run recorded. A run whose keeper is still alive (a process each run holds on every
//! host through its controller's SSH session) is left alone unless `force`.

use std::fmt;

use super::session::Shared;
use super::HostsFile;
use crate::layout::PREFIX;
use crate::Error;

/// What [`clean_hosts`] found, per host: lines like `removed /var/tmp/lhab12cn1`, `killed 4242`,
/// `deleted nft table lhab12c`, `live /var/tmp/... (skipped)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostCleanReport {
    pub hosts: Vec<(String, Vec<String>)>,
}

impl fmt::Display for HostCleanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (host, lines)) in self.hosts.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if lines.is_empty() {
                write!(f, "{host}: nothing to clean")?;
            } else {
                write!(f, "{host}: {}", lines.join("; "))?;
            }
        }
        Ok(())
    }
}

fn script(dir: &str, force: bool) -> String {
    let force = if force { 1 } else { 0 };
    format!(
        r#"live=""
for d in {dir}/{PREFIX}*; do
  [ -d "$d" ] || continue
  w=$(cat "$d/keeper/wrapper.pid" 2>/dev/null)
  if [ {force} = 0 ] && [ -n "$w" ] && [ "$(readlink /proc/$w/cwd 2>/dev/null)" = "$d/keeper" ]; then
    echo "live $d (its run is still going: --force removes it)"; live="$live $(cat "$d/run" 2>/dev/null)"; continue
  fi
  for f in node.pid wrapper.pid keeper/node.pid keeper/wrapper.pid pkt/node.pid pkt/wrapper.pid; do
    p=$(cat "$d/$f" 2>/dev/null)
    if [ -n "$p" ] && [ "$(readlink /proc/$p/cwd 2>/dev/null)" = "$(dirname "$d/$f")" ]; then
      # Group and pid apart: the pid may be reaped between the two, which is still a kill.
      k=""; kill -9 -"$p" 2>/dev/null && k=1; kill -9 "$p" 2>/dev/null && k=1; [ -n "$k" ] && echo "killed $p"
    fi
  done
  if [ -f "$d/netem" ]; then
    a=$(cat "$d/netem" | sed 's/\./\\./g')
    dev=$(ip -o -4 addr show | awk -v a="^$a/" '$4 ~ a {{print $2; exit}}')
    if [ -n "$dev" ] && tc qdisc show dev "$dev" root | grep -q netem; then tc qdisc del dev "$dev" root && echo "removed netem on $dev"; fi
  fi
  rm -rf "$d" && echo "removed $d"
done
# A run's packet-fault chains and tables are its name plus q, r or d and the node.
is_live() {{ for l in $live; do case "$1" in "$l"|"$l"q*|"$l"r*|"$l"d*) return 0;; esac; done; return 1; }}
if command -v nft >/dev/null 2>&1; then
  nft list tables 2>/dev/null | awk '($2 == "inet" || $2 == "netdev") && $3 ~ /^{PREFIX}/ {{print $2, $3}}' | while read -r f t; do
    is_live "$t" && continue
    nft delete table "$f" "$t" && echo "deleted nft table $t"
  done
fi
if command -v iptables >/dev/null 2>&1; then
  for c in $(iptables -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^{PREFIX}/ {{print $2}}'); do
    is_live "$c" && continue
    iptables -w -D OUTPUT -j "$c" 2>/dev/null; iptables -w -D INPUT -j "$c" 2>/dev/null
    iptables -w -F "$c" && iptables -w -X "$c" && echo "deleted iptables chain $c"
  done
fi
true
"#
    )
}

/// Sweeps every host in `file`. Connecting checks host keys like a run does.
pub fn clean_hosts(file: &HostsFile, force: bool) -> Result<HostCleanReport, Error> {
    let shared = Shared::connect(file)?;
    let jobs = file
        .hosts
        .iter()
        .map(|h| (h.name.clone(), script(&file.dir, force)))
        .collect();
    let mut report = HostCleanReport::default();
    for (h, r) in file.hosts.iter().zip(shared.sh_all(jobs)) {
        let lines = r?.lines().map(str::to_string).collect();
        report.hosts.push((h.name.clone(), lines));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clean_script_parses() {
        for force in [false, true] {
            crate::hosts::assert_shell_syntax(&super::script("/var/tmp", force));
        }
    }
}
