//! Processes under test: spawned inside a namespace, in their own process group, tied to our lifetime,
//! with kill, pause, resume, restart and graceful stop.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::netns::netns_path;
use crate::Error;

/// How to start a process; kept so that [`ManagedProcess::restart`] starts the very same thing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// A name for logs and errors (e.g. the node name).
    pub name: String,
    /// The network namespace to run in (`None`: ours).
    pub netns: Option<String>,
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// stdout and stderr are appended here (parent directories are created).
    pub log_path: PathBuf,
    /// Extra environment variables, on top of ours.
    pub env: Vec<(String, String)>,
}

/// A child process we own. Dropping it SIGCONTs then SIGKILLs its process group and reaps it.
///
/// The child gets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies if we die, even by SIGKILL. The kernel fires
/// that signal when the *thread* that spawned the child exits, not the process: spawn from a long-lived
/// thread (the main thread or a dedicated one), never from a short-lived worker or a blocking-pool task.
#[derive(Debug)]
pub struct ManagedProcess {
    spec: ProcessSpec,
    child: Option<Child>,
    last_exit: Option<ExitStatus>,
}

impl ManagedProcess {
    /// Starts the process described by `spec`. See the type's note on which thread to call this from.
    pub fn spawn(spec: ProcessSpec) -> Result<Self, Error> {
        let mut p = ManagedProcess {
            spec,
            child: None,
            last_exit: None,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> Result<(), Error> {
        let spec = &self.spec;
        if let Some(dir) = spec.log_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating log directory {}", dir.display()), e))?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_path)
            .map_err(|e| Error::io(format!("opening log file {}", spec.log_path.display()), e))?;
        let log_err = log.try_clone().map_err(|e| {
            Error::io(
                format!("duplicating log file {}", spec.log_path.display()),
                e,
            )
        })?;
        // Opened before fork: the child may only make async-signal-safe calls between fork and exec.
        let netns: Option<File> = match &spec.netns {
            Some(ns) => {
                let path = netns_path(ns);
                Some(File::open(&path).map_err(|e| {
                    Error::io(
                        format!(
                            "opening network namespace {} for `{}`",
                            path.display(),
                            spec.name
                        ),
                        e,
                    )
                })?)
            }
            None => None,
        };
        let netns_fd = netns.as_ref().map(|f| f.as_raw_fd());
        let parent = nix::unistd::getpid();

        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        // SAFETY: the closure only makes raw system calls (setns, prctl, getppid): async-signal-safe, no
        // allocation, no locks.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(fd) = netns_fd {
                    let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                    nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
                }
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                    .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
                // We may have died between fork and prctl; then nobody would ever kill this child.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| Error::ProcessSpawn {
            name: spec.name.clone(),
            program: spec.program.clone(),
            source,
        })?;
        drop(netns);
        tracing::info!(name = %spec.name, pid = child.id(), netns = ?spec.netns, "process started");
        self.child = Some(child);
        Ok(())
    }

    /// The spec this process was started from.
    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// The pid, while we hold an unreaped child (running, paused, or exited but not yet noticed).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the last run ended, once it has been reaped.
    pub fn last_exit(&self) -> Option<ExitStatus> {
        self.last_exit
    }

    /// Whether the process is alive (a paused process counts as running). Reaps it if it exited.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                tracing::info!(name = %self.spec.name, %status, "process exited");
                self.last_exit = Some(status);
                self.child = None;
                false
            }
            Err(e) => {
                tracing::warn!(name = %self.spec.name, error = %e, "waiting on process failed");
                false
            }
        }
    }

    /// SIGKILLs the process group and reaps the process. Fine to call on an exited process.
    pub fn kill(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal_group(&child, Signal::SIGKILL);
        let status = child
            .wait()
            .map_err(|e| Error::io(format!("reaping process `{}`", self.spec.name), e))?;
        tracing::info!(name = %self.spec.name, %status, "process killed");
        self.last_exit = Some(status);
        Ok(())
    }

    /// SIGSTOPs the process group.
    pub fn pause(&mut self) -> Result<(), Error> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONTs the process group.
    pub fn resume(&mut self) -> Result<(), Error> {
        self.signal(Signal::SIGCONT)
    }

    /// Sends `sig` to the process group of a running process.
    pub fn signal(&mut self, sig: Signal) -> Result<(), Error> {
        if !self.is_running() {
            return Err(Error::NotRunning {
                name: self.spec.name.clone(),
            });
        }
        let child = self.child.as_ref().expect("is_running checked");
        killpg(pgid(child), sig)
            .map_err(|e| Error::sys(format!("sending {sig} to process `{}`", self.spec.name), e))
    }

    /// Starts the process again from the same spec, killing the current run first if it is alive.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill()?;
        self.start()
    }

    /// Graceful stop: SIGTERM (and SIGCONT, in case it is paused), wait up to `grace`, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Result<(), Error> {
        let Some(child) = self.child.as_ref() else {
            return Ok(());
        };
        signal_group(child, Signal::SIGTERM);
        signal_group(child, Signal::SIGCONT);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.is_running() {
            tracing::warn!(name = %self.spec.name, ?grace, "no exit after SIGTERM; sending SIGKILL");
        }
        self.kill()
    }

    /// The exit status as a readable string (`"exit 0"`, `"signal 9"`), if reaped.
    pub fn describe_exit(&self) -> Option<String> {
        self.last_exit.map(|s| match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(sig)) => format!("signal {sig}"),
            _ => s.to_string(),
        })
    }
}

fn pgid(child: &Child) -> Pid {
    // process_group(0) made the child the leader of a group with its own pid.
    Pid::from_raw(child.id() as i32)
}

/// Best effort: the group may already be gone; we only signal while the leader is unreaped, so the group
/// id cannot have been reused.
fn signal_group(child: &Child, sig: Signal) {
    if let Err(e) = killpg(pgid(child), sig) {
        tracing::debug!(pid = child.id(), %sig, error = %e, "killpg");
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_ref() {
            signal_group(child, Signal::SIGCONT);
        }
        if let Err(e) = self.kill() {
            tracing::warn!(name = %self.spec.name, error = %e, "killing process on drop");
        }
    }
}
