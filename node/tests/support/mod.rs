//! Test support: a cluster of real `node` processes on loopback, and a small HTTP client for it.
//!
//! Every child is killed when the `Cluster` is dropped (also while unwinding from a panic), and each is
//! started with PDEATHSIG=SIGKILL so it dies with the test process even if that is killed outright.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use node::api::{ErrorBody, ErrorCode, ReadResponse, Status};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_node");

/// Reserve distinct free loopback ports (bind to port 0, then release).
pub fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port"))
        .collect();
    listeners.iter().map(|l| l.local_addr().unwrap()).collect()
}

pub struct NodeProc {
    pub id: String,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

/// How every node of a cluster is started, besides its flags.
#[derive(Clone, Debug, Default)]
pub struct Spawn {
    /// Extra environment (e.g. `LH_PEER_SECRET`).
    pub env: Vec<(String, String)>,
    /// The soft open-file limit the node starts with (the hard one is left alone).
    pub nofile: Option<u64>,
}

/// A peer secret for tests.
pub const SECRET: &str = "test-secret-0123456789abcdef";

impl Spawn {
    pub fn with_secret() -> Spawn {
        Spawn {
            env: vec![("LH_PEER_SECRET".into(), SECRET.into())],
            nofile: None,
        }
    }
}

pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    peers: String,
    args: Vec<String>,
    spawn: Spawn,
    // Held so the directory lives as long as the cluster.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Start `n` nodes with the given extra flags (e.g. `--read-mode read-index`).
    pub fn start(n: usize, args: &[&str]) -> Cluster {
        Cluster::start_with(n, args, Spawn::default())
    }

    /// Start `n` nodes with extra flags, environment and limits.
    pub fn start_with(n: usize, args: &[&str], spawn: Spawn) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("lh-node-test")
            .tempdir()
            .expect("create temp dir");
        let addrs = free_addrs(n);
        let nodes: Vec<NodeProc> = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let id = format!("n{}", i + 1);
                NodeProc {
                    data_dir: dir.path().join(&id),
                    log: dir.path().join(format!("{id}.log")),
                    id,
                    addr: *addr,
                    child: None,
                }
            })
            .collect();
        let peers = nodes
            .iter()
            .map(|n| format!("{}={}", n.id, n.addr))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            nodes,
            peers,
            args: args.iter().map(|s| s.to_string()).collect(),
            spawn,
            dir,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    fn index(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn node(&self, id: &str) -> &NodeProc {
        &self.nodes[self.index(id)]
    }

    pub fn ids(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.id.clone()).collect()
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.nodes[self.index(id)].child.is_some()
    }

    fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i];
        assert!(node.child.is_none(), "{} is already running", node.id);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("open node log");
        let mut cmd = Command::new(NODE_BIN);
        cmd.arg("--id")
            .arg(&node.id)
            .arg("--listen")
            .arg(node.addr.to_string())
            .arg("--peers")
            .arg(&self.peers)
            .arg("--data-dir")
            .arg(&node.data_dir)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("NODE_LOG").unwrap_or("info".into()),
            )
            .envs(self.spawn.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let nofile = self.spawn.nofile;
        // SAFETY: only async-signal-safe prctl and setrlimit between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)?;
                if let Some(soft) = nofile {
                    set_soft_nofile(soft)?;
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn node");
        self.nodes[i].child = Some(child);
    }

    /// SIGKILL a node and reap it.
    pub fn kill(&mut self, id: &str) {
        let i = self.index(id);
        if let Some(mut child) = self.nodes[i].child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    /// SIGTERM a node and wait for it to exit; returns its exit code.
    pub fn terminate(&mut self, id: &str) -> Option<i32> {
        let i = self.index(id);
        let mut child = self.nodes[i].child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for a node to exit by itself; its exit code (None if still running after `within`).
    pub fn wait_exit(&mut self, id: &str, within: Duration) -> Option<i32> {
        let i = self.index(id);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let child = self.nodes[i].child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.nodes[i].child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Start a stopped node again with its data dir.
    pub fn restart(&mut self, id: &str) {
        let i = self.index(id);
        self.spawn(i);
    }

    pub fn url(&self, id: &str) -> String {
        format!("http://{}", self.node(id).addr)
    }

    pub fn log_tail(&self, id: &str, lines: usize) -> String {
        let text = fs::read_to_string(&self.node(id).log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Poll `/status` until some running node is leader and a majority of running nodes agree on it.
    pub async fn wait_for_leader(&self, client: &Client, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let mut votes: BTreeMap<String, usize> = BTreeMap::new();
            let mut leaders = Vec::new();
            for n in self.nodes.iter().filter(|n| n.child.is_some()) {
                if let Some(st) = client.status(&format!("http://{}", n.addr)).await {
                    if let Some(l) = &st.leader {
                        *votes.entry(l.clone()).or_default() += 1;
                    }
                    if st.role == node::api::Role::Leader {
                        leaders.push(st.id.clone());
                    }
                }
            }
            let majority = self.nodes.len() / 2 + 1;
            if let Some(l) = leaders
                .iter()
                .max_by_key(|l| votes.get(*l).copied().unwrap_or(0))
            {
                if votes.get(l).copied().unwrap_or(0) >= majority {
                    return l.clone();
                }
            }
            if Instant::now() > deadline {
                panic!("no leader within {within:?}; statuses: {:?}", votes);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        for i in 0..self.nodes.len() {
            let id = self.nodes[i].id.clone();
            self.kill(&id);
            if panicking {
                eprintln!(
                    "---- last log lines of {id} ----\n{}",
                    self.log_tail(&id, 40)
                );
            }
        }
    }
}

/// What became of a write.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok,
    /// Definitely not applied.
    Fail(ErrorBody),
    /// May or may not have been applied.
    Unknown(String),
}

/// A thin client for the node API.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Self {
        Client {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(200))
                .timeout(Duration::from_secs(3))
                .tcp_nodelay(true)
                .build()
                .unwrap(),
        }
    }

    pub async fn status(&self, base: &str) -> Option<Status> {
        let r = self.http.get(format!("{base}/status")).send().await.ok()?;
        if r.status() != StatusCode::OK {
            return None;
        }
        r.json().await.ok()
    }

    /// Read a key from one node: Ok(value) or the error body (None on a transport error).
    pub async fn read(&self, base: &str, key: &str) -> Result<Option<i64>, Option<ErrorBody>> {
        let r = self
            .http
            .get(format!("{base}/kv/{key}"))
            .send()
            .await
            .map_err(|_| None)?;
        if r.status() == StatusCode::OK {
            let body: ReadResponse = r.json().await.map_err(|_| None)?;
            Ok(body.value)
        } else {
            Err(r.json::<ErrorBody>().await.ok())
        }
    }

    pub async fn write(&self, base: &str, key: &str, value: i64) -> Outcome {
        let req = self
            .http
            .put(format!("{base}/kv/{key}"))
            .json(&serde_json::json!({ "value": value }));
        Self::outcome(req.send().await).await
    }

    pub async fn cas(&self, base: &str, key: &str, from: Option<i64>, to: i64) -> Outcome {
        let req = self
            .http
            .post(format!("{base}/kv/{key}/cas"))
            .json(&serde_json::json!({ "from": from, "to": to }));
        Self::outcome(req.send().await).await
    }

    async fn outcome(sent: reqwest::Result<reqwest::Response>) -> Outcome {
        match sent {
            Ok(r) if r.status() == StatusCode::OK => Outcome::Ok,
            Ok(r) => {
                let code = r.status();
                match r.json::<ErrorBody>().await {
                    Ok(body) if body.definite => Outcome::Fail(body),
                    Ok(body) => Outcome::Unknown(body.message),
                    Err(e) => Outcome::Unknown(format!("HTTP {code} without an error body: {e}")),
                }
            }
            // Refused connections never reached the node: definitely not applied.
            Err(e) if e.is_connect() => Outcome::Fail(ErrorBody {
                code: ErrorCode::Unavailable,
                message: e.to_string(),
                definite: true,
                leader: None,
                leader_addr: None,
                node: String::new(),
            }),
            Err(e) => Outcome::Unknown(e.to_string()),
        }
    }
}

/// Routes requests to the leader: follows `not_leader` hints, retries definite failures elsewhere.
pub struct LeaderRouter {
    pub client: Client,
    bases: Vec<String>,
    current: usize,
}

impl LeaderRouter {
    pub fn new(client: Client, cluster: &Cluster) -> Self {
        LeaderRouter {
            client,
            bases: cluster.ids().iter().map(|id| cluster.url(id)).collect(),
            current: 0,
        }
    }

    fn follow(&mut self, err: &ErrorBody) {
        match err
            .leader_addr
            .as_ref()
            .and_then(|a| self.bases.iter().position(|b| b.ends_with(a.as_str())))
        {
            Some(i) => self.current = i,
            None => self.current = (self.current + 1) % self.bases.len(),
        }
    }

    /// Write until it is acknowledged, definitely refused everywhere for `within`, or its outcome is unknown.
    pub async fn write(&mut self, key: &str, value: i64, within: Duration) -> Outcome {
        let deadline = Instant::now() + within;
        loop {
            let base = self.bases[self.current].clone();
            match self.client.write(&base, key, value).await {
                Outcome::Fail(e) if e.code != ErrorCode::CasFailed && Instant::now() < deadline => {
                    if e.code == ErrorCode::Unavailable {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    self.follow(&e);
                }
                other => return other,
            }
        }
    }

    /// Read through the leader, retrying definite refusals until `within` has passed.
    pub async fn read(&mut self, key: &str, within: Duration) -> Result<Option<i64>, String> {
        let deadline = Instant::now() + within;
        loop {
            let base = self.bases[self.current].clone();
            let err = match self.client.read(&base, key).await {
                Ok(v) => return Ok(v),
                Err(Some(e)) => e,
                Err(None) => ErrorBody {
                    code: ErrorCode::Unavailable,
                    message: format!("{base} unreachable"),
                    definite: true,
                    leader: None,
                    leader_addr: None,
                    node: String::new(),
                },
            };
            if Instant::now() > deadline {
                return Err(format!("read {key}: {:?}: {}", err.code, err.message));
            }
            if err.code != ErrorCode::NotLeader {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.follow(&err);
        }
    }
}

/// Set this process's soft open-file limit (at most the hard one); returns the new soft limit.
pub fn set_soft_nofile(soft: u64) -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed (async-signal-safe).
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    lim.rlim_cur = soft.min(lim.rlim_max);
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}

/// A node's current role and term, as `/status` says.
pub async fn role_and_term(client: &Client, base: &str) -> Option<(node::api::Role, u64)> {
    client.status(base).await.map(|s| (s.role, s.term))
}

/// Keep reading a file until it contains `needle` or `within` passes.
pub fn wait_for_log(path: &PathBuf, needle: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut f) = File::open(path) {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut f, &mut s);
            if s.contains(needle) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
