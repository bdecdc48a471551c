//! A process on a host: started under the run's directory by a small `sh` wrapper over one SSH channel,
//! its output streamed into a local log file, signalled by pid.
//!
//! The wrapper runs the program in its own session (`setsid`, so its process group is its pid), says the
//! pid on stderr, and waits; a watcher blocks reading the channel's stdin and SIGKILLs the group when it
//! closes. Stdin closes when we are done with the process, and also when the SSH connection is lost or
//! this process dies: the remote side never outlives its session.
//!
//! The program's environment goes first on that stdin (`NAME=value` lines, then an empty line), not on the
//! command line: it carries the cluster's peer secret, and a command line shows in every user's `ps`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssh::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{oneshot, watch};

use super::session::{ssh_error, Shared};
use crate::{Error, Signal};

const WRAPPER: &str = r#"dir=$1; shift
cd "$dir" || exit 120
while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done
echo $$ > wrapper.pid
exec 3<&0
setsid "$@" </dev/null 2>&1 &
pid=$!
echo "$pid" > node.pid
echo "lh-pid $pid" >&2
{ cat <&3 >/dev/null; kill -9 -"$pid" 2>/dev/null; } &
wait "$pid"
echo "lh-exit $?" >&2
"#;

/// How long to wait for the wrapper to report the pid, or the exit after a SIGKILL.
const REPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run on a host; kept so that a restart runs the very same thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSpec {
    /// The node (host) name.
    pub name: String,
    /// The working directory on the host (the node's run directory).
    pub dir: String,
    /// The program (a path on the host) and its arguments.
    pub program: String,
    pub args: Vec<String>,
    /// Environment variables for the program.
    pub env: Vec<(String, String)>,
    /// Where its stdout and stderr are appended, on this machine.
    pub log_path: PathBuf,
}

/// The environment as the wrapper reads it: `NAME=value` lines and an empty line.
fn env_block(env: &[(String, String)]) -> Result<String, Error> {
    let mut out = String::new();
    for (k, v) in env {
        let name_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || v.contains(['\n', '\0']) {
            return Err(Error::Invalid {
                what: "environment variable",
                message: format!("{k:?} cannot be passed to a remote program (a name of letters, digits and _, a value of one line)"),
            });
        }
        out.push_str(&format!("{k}={v}\n"));
    }
    out.push('\n');
    Ok(out)
}

struct Running {
    pid: u32,
    /// `Some(code)` once the wrapper saw the program exit (or the channel ended).
    exit: watch::Receiver<Option<i32>>,
    /// Dropping the channel closes the wrapper's stdin: the watcher kills the group.
    close: Option<oneshot::Sender<()>>,
}

/// A process on a remote host. Dropping it kills it.
pub struct RemoteProcess {
    shared: Arc<Shared>,
    spec: RemoteSpec,
    run: Option<Running>,
    last_exit: Option<i32>,
}

impl std::fmt::Debug for RemoteProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProcess")
            .field("spec", &self.spec)
            .field("pid", &self.pid())
            .finish()
    }
}

impl RemoteProcess {
    pub(crate) fn spawn(shared: Arc<Shared>, spec: RemoteSpec) -> Result<RemoteProcess, Error> {
        let mut p = RemoteProcess {
            shared,
            spec,
            run: None,
            last_exit: None,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> Result<(), Error> {
        let spec = self.spec.clone();
        if let Some(d) = spec.log_path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log_path)
            .map_err(|e| Error::io(format!("opening {}", spec.log_path.display()), e))?;
        let env = env_block(&spec.env)?;
        let session = self.shared.session(&spec.name)?;
        let (pid_tx, pid_rx) = oneshot::channel();
        let (exit_tx, exit_rx) = watch::channel(None);
        let (close_tx, close_rx) = oneshot::channel::<()>();
        let host = spec.name.clone();
        self.shared.spawn(async move {
            let mut argv = vec![
                "sh".to_string(),
                "-c".into(),
                WRAPPER.into(),
                "lh".into(),
                spec.dir.clone(),
            ];
            argv.push(spec.program.clone());
            argv.extend(spec.args.iter().cloned());
            let mut cmd = session.command(&argv[0]);
            cmd.args(&argv[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = match cmd.spawn().await {
                Ok(c) => c,
                Err(e) => {
                    let _ = pid_tx.send(Err(ssh_error(
                        &host,
                        format!("starting {}: {e}", spec.program),
                    )));
                    return;
                }
            };
            // Kept open with the channel: closing it is what kills the program.
            let mut stdin = child.stdin().take();
            if let Some(input) = stdin.as_mut() {
                use tokio::io::AsyncWriteExt;
                if let Err(e) = input.write_all(env.as_bytes()).await {
                    let _ = pid_tx.send(Err(ssh_error(
                        &host,
                        format!("passing the environment to {}: {e}", spec.program),
                    )));
                    return;
                }
            }
            let stdout = child.stdout().take();
            let stderr = child.stderr().take();
            let log = Arc::new(std::sync::Mutex::new(log));
            let out_log = log.clone();
            let copy_out = async move {
                let Some(mut out) = stdout else { return };
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = out.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let _ = out_log.lock().unwrap().write_all(&buf[..n]);
                }
            };
            let control = async move {
                let mut pid_tx = Some(pid_tx);
                let mut code = None;
                if let Some(err) = stderr {
                    let mut lines = BufReader::new(err).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(p) = line.strip_prefix("lh-pid ") {
                            if let (Some(tx), Ok(p)) = (pid_tx.take(), p.trim().parse::<u32>()) {
                                let _ = tx.send(Ok(p));
                            }
                        } else if let Some(c) = line.strip_prefix("lh-exit ") {
                            code = c.trim().parse().ok();
                        } else {
                            let _ = writeln!(log.lock().unwrap(), "{line}");
                        }
                    }
                }
                if let Some(tx) = pid_tx {
                    let _ = tx.send(Err(ssh_error(
                        &host,
                        "the process wrapper ended before reporting a pid (see the node log)",
                    )));
                }
                // The channel ended without an exit line: the connection is gone, the program with it.
                let _ = exit_tx.send(Some(code.unwrap_or(-1)));
            };
            let holder = async move {
                // Keeps the channel (and so the wrapper's stdin) open until we are told to close it.
                let _ = close_rx.await;
                drop(stdin);
                drop(child);
            };
            tokio::join!(copy_out, control, holder);
        });
        let pid = match self
            .shared
            .block(async move { tokio::time::timeout(REPORT_TIMEOUT, pid_rx).await })
        {
            Ok(Ok(Ok(pid))) => pid,
            Ok(Ok(Err(e))) => {
                let _ = close_tx.send(());
                return Err(e);
            }
            _ => {
                let _ = close_tx.send(());
                return Err(ssh_error(
                    &self.spec.name,
                    "no pid from the process wrapper within 10 s",
                ));
            }
        };
        tracing::info!(name = %self.spec.name, pid, "remote process started");
        self.run = Some(Running {
            pid,
            exit: exit_rx,
            close: Some(close_tx),
        });
        Ok(())
    }

    /// The spec it was started from.
    pub fn spec(&self) -> &RemoteSpec {
        &self.spec
    }

    /// The remote pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.pid)
    }

    /// The exit code of the last run (-1: signalled or the connection ended), once it ended.
    pub fn last_exit(&self) -> Option<i32> {
        self.last_exit
    }

    /// Whether it is still running (a paused process counts as running).
    pub fn is_running(&mut self) -> bool {
        let Some(run) = self.run.as_mut() else {
            return false;
        };
        let exited = *run.exit.borrow();
        match exited {
            None => true,
            Some(code) => {
                tracing::info!(name = %self.spec.name, code, "remote process exited");
                self.finish(code);
                false
            }
        }
    }

    fn finish(&mut self, code: i32) {
        if let Some(mut run) = self.run.take() {
            if let Some(c) = run.close.take() {
                let _ = c.send(());
            }
        }
        self.last_exit = Some(code);
    }

    /// Sends `sig` to the process group.
    pub fn signal(&mut self, sig: Signal) -> Result<(), Error> {
        if !self.is_running() {
            return Err(Error::NotRunning {
                name: self.spec.name.clone(),
            });
        }
        let pid = self.pid().expect("running");
        let num = sig as i32;
        self.shared
            .sh(&self.spec.name, &format!("kill -{num} -{pid}"))
            .map(drop)
    }

    /// The process state letter from the host's `/proc` (`S`, `R`, `T` when stopped, ...).
    pub fn state(&self) -> Result<Option<char>, Error> {
        let Some(pid) = self.pid() else {
            return Ok(None);
        };
        let out = self.shared.sh(
            &self.spec.name,
            &format!("cat /proc/{pid}/stat 2>/dev/null || true"),
        )?;
        Ok(crate::proc_state(&out))
    }

    /// SIGKILLs the group and waits until the wrapper saw it die. Fine to call when not running.
    pub fn kill(&mut self) -> Result<(), Error> {
        if !self.is_running() {
            return Ok(());
        }
        let pid = self.pid().expect("running");
        let sent = self.shared.sh(&self.spec.name, &format!("kill -9 -{pid}"));
        let waited = self.wait_exit(REPORT_TIMEOUT);
        if !waited {
            // Closing the channel makes the watcher kill it, even if our own kill did not get through.
            self.finish(-1);
        }
        sent.map(drop)
    }

    /// Waits up to `limit` for the exit; true if it came.
    fn wait_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.is_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// SIGSTOP.
    pub fn pause(&mut self) -> Result<(), Error> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> Result<(), Error> {
        self.signal(Signal::SIGCONT)
    }

    /// Kills the current run (if alive) and starts the same spec again, same directory and data.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill()?;
        self.start()
    }

    /// SIGTERM (and SIGCONT, in case it is paused), wait up to `grace`, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Result<(), Error> {
        if !self.is_running() {
            return Ok(());
        }
        let pid = self.pid().expect("running");
        let _ = self.shared.sh(
            &self.spec.name,
            &format!("kill -15 -{pid}; kill -18 -{pid}"),
        );
        if self.wait_exit(grace) {
            return Ok(());
        }
        tracing::warn!(name = %self.spec.name, ?grace, "no exit after SIGTERM; sending SIGKILL");
        self.kill()
    }
}

impl Drop for RemoteProcess {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            tracing::warn!(name = %self.spec.name, error = %e, "killing remote process on drop");
        }
        self.finish(-1);
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn the_environment_goes_on_stdin_in_lines_and_odd_entries_are_refused() {
        let env = vec![
            ("RUST_LOG".to_string(), "info".to_string()),
            (
                "LH_PEER_SECRET".to_string(),
                "s3cret=with equals".to_string(),
            ),
        ];
        assert_eq!(
            env_block(&env).unwrap(),
            "RUST_LOG=info\nLH_PEER_SECRET=s3cret=with equals\n\n"
        );
        assert_eq!(env_block(&[]).unwrap(), "\n");
        for (k, v) in [("A", "two\nlines"), ("1A", "x"), ("A B", "x"), ("", "x")] {
            assert!(env_block(&[(k.into(), v.into())]).is_err(), "{k:?}={v:?}");
        }
    }
}
