//! The one place that runs `nft` and `iptables`, always inside one of our own namespaces (the command is
//! started from a thread that entered it), so the host's own rulesets are never read or changed.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::netns::{in_netns, run_tool};
use crate::Error;

/// Loads an nft script (`nft -f -`) inside namespace `ns`.
pub(crate) fn nft_script(ns: &str, script: &str) -> Result<(), Error> {
    in_netns(ns, || run_with_stdin("nft", &["-f", "-"], script))?
}

/// Runs `nft ARGS` inside namespace `ns` and returns its stdout.
pub(crate) fn nft(ns: &str, args: &[&str]) -> Result<String, Error> {
    in_netns(ns, || run_tool("nft", args))?
}

/// Runs `iptables -w ARGS` inside namespace `ns` and returns its stdout.
pub(crate) fn iptables(ns: &str, args: &[&str]) -> Result<String, Error> {
    let mut all = vec!["-w"];
    all.extend_from_slice(args);
    in_netns(ns, || run_tool("iptables", &all))?
}

/// Whether `program` (`nft`, `iptables`) can be started here; the error says which package brings it.
pub fn tool_available(program: &str) -> Result<(), String> {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!(
            "`{program}` is not installed (Debian package `{}`)",
            if program == "nft" {
                "nftables"
            } else {
                program
            }
        )),
    }
}

fn run_with_stdin(program: &str, args: &[&str], input: &str) -> Result<(), Error> {
    let command = format!("{program} {}", args.join(" "));
    tracing::debug!(%command, %input, "run");
    let spawn_err = |source| Error::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Command {
        command: format!("{command} <<< {input:?}"),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}
