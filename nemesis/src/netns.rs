//! Thin helpers around network namespaces: running `ip`, entering a namespace, listing and emptying them.
//!
//! Everything kernel-facing goes through `ip` (iproute2) so that each step can be replayed by hand, except
//! entering a namespace, which is a `setns` on the calling thread.

use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Error;

/// Where `ip netns add` mounts named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// The path of a named namespace's handle.
pub fn netns_path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// Whether a named namespace currently exists.
pub fn netns_exists(name: &str) -> bool {
    netns_path(name).exists()
}

/// Runs `ip ARGS...` and returns its stdout; a failure names the command and carries its stderr.
pub(crate) fn ip(args: &[&str]) -> Result<String, Error> {
    run_tool("ip", args)
}

/// Runs `program ARGS...` (`ip`, `tc`, `ssh-keygen`) and returns its stdout; a failure names the
/// command and carries its stderr. Arguments may be paths, hence `OsStr`.
pub(crate) fn run_tool<A: AsRef<OsStr>>(program: &str, args: &[A]) -> Result<String, Error> {
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    let command = format!("{program} {}", shown.join(" "));
    tracing::debug!(%command, "run");
    let out = Command::new(program)
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

/// Moves the CURRENT THREAD into the named network namespace (`setns(CLONE_NEWNET)`).
///
/// Sockets created by this thread afterwards live in that namespace; sockets keep their namespace for
/// life, so a socket made here may be used from any thread.
pub fn enter_netns(name: &str) -> Result<(), Error> {
    let path = netns_path(name);
    let file = File::open(&path)
        .map_err(|e| Error::io(format!("opening namespace {}", path.display()), e))?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::sys(format!("setns into network namespace {name}"), e))
}

/// Runs `f` on a fresh thread that has entered the named namespace, and returns its result.
///
/// The caller's thread is never moved. Useful for making sockets inside a namespace (they stay there).
pub fn in_netns<T, F>(name: &str, f: F) -> Result<T, Error>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(name)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Writes a sysctl inside a namespace (`/proc/sys/net` follows the writing thread's namespace).
pub(crate) fn sysctl_in(ns: &str, key: &str, value: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    in_netns(ns, || std::fs::write(&path, value))?
        .map_err(|e| Error::io(format!("setting {key}={value} in namespace {ns}"), e))
}

/// The names of all named network namespaces (`ip netns list`).
pub fn list_netns() -> Result<Vec<String>, Error> {
    let out = ip(&["netns", "list"])?;
    // Lines look like `lhab1n1 (id: 3)` or just `lhab1n1`.
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The pids of processes whose network namespace is the named one (`ip netns pids`).
pub fn netns_pids(name: &str) -> Result<Vec<u32>, Error> {
    let out = ip(&["netns", "pids", name])?;
    Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// SIGKILLs the given processes (never ourselves) and waits, bounded, until each is gone or a zombie.
///
/// Returns the pids that were signalled.
pub(crate) fn kill_pids(pids: &[u32]) -> Vec<u32> {
    let me = std::process::id();
    let mut killed = Vec::new();
    for &pid in pids.iter().filter(|&&p| p != me) {
        let Ok(raw) = i32::try_from(pid) else {
            continue;
        };
        // SIGCONT first so a paused process does not linger; errors mean it is already gone.
        let _ = kill(Pid::from_raw(raw), Signal::SIGCONT);
        if kill(Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
            killed.push(pid);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for &pid in &killed {
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if alive(pid) {
            tracing::warn!(pid, "process still alive 5 s after SIGKILL");
        }
    }
    killed
}

/// Whether a pid exists and is not a zombie (a zombie holds no namespace resources worth waiting for).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => proc_state(&stat).is_some_and(|s| s != 'Z' && s != 'X'),
        Err(_) => false,
    }
}

/// The state letter of a `/proc/<pid>/stat` line (the field after the parenthesised command name).
pub fn proc_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// Checks that this process can build test networks: root, `ip` present, namespaces supported.
pub fn check_privileges() -> Result<(), Error> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Privileges(
            "network namespaces, veth links and routes need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); \
             run as root, e.g. with sudo"
                .into(),
        ));
    }
    if !std::path::Path::new("/proc/self/ns/net").exists() {
        return Err(Error::Privileges(
            "this kernel has no network namespace support (/proc/self/ns/net is missing)".into(),
        ));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(Error::Privileges(format!(
                "`ip -V` failed ({}); install iproute2",
                out.status
            )))
        }
        Err(e) => {
            return Err(Error::Privileges(format!(
                "the `ip` command (iproute2) is not available: {e}; install iproute2"
            )))
        }
    }
    ip(&["netns", "list"])
        .map_err(|e| Error::Privileges(format!("`ip netns` does not work here: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_state_handles_odd_command_names() {
        assert_eq!(proc_state("123 (sleep) S 1 2 3"), Some('S'));
        assert_eq!(proc_state("123 (a) b) T 1 2 3"), Some('T'));
        assert_eq!(proc_state("garbage"), None);
    }
}
