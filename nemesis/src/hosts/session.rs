//! The SSH side: one multiplexed master connection per host (the `openssh` crate drives the system `ssh`),
//! and a private tokio runtime so that every call here can be made from plain synchronous code.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};

use super::file::{HostSpec, HostsFile};
use crate::Error;

/// How long a connection attempt may take before the host counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The runtime, shut down without blocking whichever thread drops it last.
struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Live connections to every host, shared by the cluster's remote processes and the fault side.
pub(crate) struct Shared {
    rt: Rt,
    pub(crate) sessions: BTreeMap<String, Arc<Session>>,
    pub(crate) specs: BTreeMap<String, HostSpec>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("hosts", &self.specs.keys())
            .finish()
    }
}

pub(crate) fn ssh_error(host: &str, message: impl Into<String>) -> Error {
    Error::Ssh {
        host: host.to_string(),
        message: message.into(),
    }
}

impl Shared {
    /// Connects to every host at once. Errors name the host and say what to do.
    pub(crate) fn connect(file: &HostsFile) -> Result<Shared, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lh-ssh")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the SSH runtime", e))?;
        let rt = Rt(Some(rt));
        let connects: Vec<_> = file
            .hosts
            .iter()
            .map(|h| {
                let h = h.clone();
                let file = file.clone();
                async move {
                    let r = connect_one(&file, &h).await;
                    (h, r)
                }
            })
            .collect();
        let results = block_on(&rt, futures::future::join_all(connects));
        let mut sessions = BTreeMap::new();
        let mut specs = BTreeMap::new();
        for (h, r) in results {
            sessions.insert(h.name.clone(), Arc::new(r?));
            specs.insert(h.name.clone(), h);
        }
        Ok(Shared {
            rt,
            sessions,
            specs,
        })
    }

    /// Runs `fut` on the SSH runtime and waits for it, from any thread (also one inside another runtime).
    pub(crate) fn block<T, F>(&self, fut: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        block_on(&self.rt, fut)
    }

    pub(crate) fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.0.as_ref().expect("runtime lives").spawn(fut)
    }

    pub(crate) fn session(&self, host: &str) -> Result<Arc<Session>, Error> {
        self.sessions
            .get(host)
            .cloned()
            .ok_or_else(|| Error::UnknownNode(host.to_string()))
    }

    /// Runs `sh -c SCRIPT` on `host`; its stdout on success, else an error with its stderr.
    pub(crate) fn sh(&self, host: &str, script: &str) -> Result<String, Error> {
        let session = self.session(host)?;
        let script = script.to_string();
        let host = host.to_string();
        self.block(async move { sh(&session, &host, &script).await })
    }

    /// [`Shared::sh`] on several hosts at once, results in the same order.
    pub(crate) fn sh_all(&self, jobs: Vec<(String, String)>) -> Vec<Result<String, Error>> {
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|(host, script)| {
                let session = self.session(&host);
                async move { sh(&*session?, &host, &script).await }
            })
            .collect();
        self.block(futures::future::join_all(tasks))
    }
}

pub(crate) async fn sh(session: &Session, host: &str, script: &str) -> Result<String, Error> {
    let out = session
        .command("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ssh_error(host, format!("running a command: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ssh_error(
            host,
            format!(
                "`{}` failed ({}): {stderr}",
                script.lines().next().unwrap_or_default(),
                out.status
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn connect_one(file: &HostsFile, h: &HostSpec) -> Result<Session, Error> {
    let mut b = SessionBuilder::default();
    // Strict: a host whose key is not already known is refused, never trusted on first use.
    b.known_hosts_check(KnownHosts::Strict)
        .connect_timeout(CONNECT_TIMEOUT)
        // A lost connection is noticed within seconds, and then the remote side dies with its session.
        .server_alive_interval(Duration::from_secs(2))
        .control_directory(std::env::temp_dir())
        // If we are killed, the master exits by itself once its channels are gone.
        .control_persist(ControlPersist::IdleFor(
            std::num::NonZeroUsize::new(30).expect("non-zero"),
        ));
    if let Some(p) = h.port {
        b.port(p);
    }
    if let Some(k) = &h.key {
        b.keyfile(k);
    }
    if let Some(k) = &file.known_hosts {
        b.user_known_hosts_file(k);
    }
    if let Some(c) = &file.ssh_config {
        b.config_file(c);
    }
    // sshd resets a connection during key exchange when it is briefly over its start-up limits (a loaded
    // machine, several masters at once): that alone is retried, a few times; every other failure (refused,
    // unreachable, untrusted key) is reported at once.
    let mut attempt = 0;
    loop {
        match b.connect(&h.destination).await {
            Ok(session) => return Ok(session),
            Err(e) => {
                attempt += 1;
                if !is_kex_reset(&e) || attempt >= 4 {
                    return Err(ssh_error(&h.name, explain_connect(h, file, &e)));
                }
                tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
            }
        }
    }
}

/// Whether a failed connect is sshd resetting the connection during key exchange, the one failure worth
/// retrying. openssh has no variant or io kind for it: ssh's stderr reaches us as `Error::Connect` with
/// the kind `ConnectionAborted` it gives every message it does not recognise, so after the variant the
/// text decides (`kex_exchange_identification: read: Connection reset by peer`, or the reset alone).
fn is_kex_reset(e: &openssh::Error) -> bool {
    match e {
        openssh::Error::Connect(io) => {
            let text = io.to_string();
            text.contains("kex_exchange_identification")
                || text.contains("Connection reset by peer")
        }
        _ => false,
    }
}

fn explain_connect(h: &HostSpec, file: &HostsFile, e: &openssh::Error) -> String {
    let text = format!(
        "{e}: {}",
        std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    let dest = match h.port {
        Some(p) => format!("{} port {p}", h.destination),
        None => h.destination.clone(),
    };
    let lower = text.to_lowercase();
    if lower.contains("host key verification failed") || lower.contains("host key") {
        let kh = file
            .known_hosts
            .as_ref()
            .map_or("~/.ssh/known_hosts".to_string(), |p| {
                p.display().to_string()
            });
        format!("the host key of {dest} is not trusted: it is not in {kh} (check the key, then add it with ssh-keyscan)")
    } else if lower.contains("permission denied") {
        format!("{dest} refused our key (permission denied): check the user and key file")
    } else if lower.contains("timed out")
        || lower.contains("no route")
        || lower.contains("refused")
        || lower.contains("unreachable")
    {
        format!("{dest} is unreachable: {}", text.trim())
    } else {
        format!("cannot connect to {dest}: {}", text.trim())
    }
}

fn block_on<T, F>(rt: &Rt, fut: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    rt.0.as_ref().expect("runtime lives").spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().expect("the SSH runtime stopped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn only_a_reset_during_key_exchange_is_retried() {
        let connect = |kind, text: &str| openssh::Error::Connect(io::Error::new(kind, text));
        let aborted = io::ErrorKind::ConnectionAborted;
        assert!(is_kex_reset(&connect(
            aborted,
            "kex_exchange_identification: read: Connection reset by peer"
        )));
        assert!(is_kex_reset(&connect(
            aborted,
            "kex_exchange_identification: Connection closed by remote host"
        )));
        assert!(is_kex_reset(&connect(
            aborted,
            "read from socket failed: Connection reset by peer"
        )));
        for other in [
            "connect to host 10.0.0.2 port 22: Connection refused",
            "connect to host 10.0.0.2 port 22: Connection timed out",
            "Host key verification failed.",
            "root@10.0.0.2: Permission denied (publickey).",
        ] {
            assert!(!is_kex_reset(&connect(aborted, other)), "{other}");
        }
        // The same words outside a connect (the master, a remote command) are not a key exchange.
        let reset = || io::Error::new(aborted, "Connection reset by peer");
        assert!(!is_kex_reset(&openssh::Error::Master(reset())));
        assert!(!is_kex_reset(&openssh::Error::Remote(reset())));
    }
}
