//! Helpers shared by the integration tests: root checks, unique run ids, sockets inside namespaces.
#![allow(dead_code)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use nemesis::{in_netns, NetConfig, Network, Subnet};

/// True when the test may run; prints why not otherwise. On CI (`CI=true`) a test that cannot run
/// fails instead, so it is never counted as passed.
pub fn have_root(test: &str) -> bool {
    if let Err(e) = nemesis::check_privileges() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test} cannot run on CI (CI=true): {e}");
        }
        eprintln!("skipping {test}: {e}");
        return false;
    }
    true
}

/// A run id no other test (in this or another process) is using: `x` + 4 random characters.
pub fn run_id() -> String {
    format!("x{}", &nemesis::generate_run_id()[..4])
}

pub fn nodes(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

pub fn network(n: usize) -> Network {
    Network::create(NetConfig {
        run_id: run_id(),
        subnet: Subnet::default(),
        nodes: nodes(n),
    })
    .expect("create network")
}

pub const PORT: u16 = 7411;

/// A TCP listener bound inside `ns` (the socket stays in that namespace).
pub fn listen(ns: &str, addr: Ipv4Addr) -> TcpListener {
    in_netns(ns, || TcpListener::bind((addr, PORT)))
        .unwrap()
        .unwrap_or_else(|e| panic!("bind {addr}:{PORT} in {ns}: {e}"))
}

/// A TCP connect from inside `ns`; `Ok` only if the handshake completed.
pub fn connect(ns: &str, to: Ipv4Addr, timeout: Duration) -> io::Result<()> {
    let addr = SocketAddr::from((to, PORT));
    in_netns(ns, || TcpStream::connect_timeout(&addr, timeout).map(drop)).unwrap()
}

pub fn works(ns: &str, to: Ipv4Addr) -> bool {
    // Generous: success is expected, so this only costs time when something is broken.
    connect(ns, to, Duration::from_secs(5)).is_ok()
}

pub fn blocked(ns: &str, to: Ipv4Addr) -> bool {
    connect(ns, to, Duration::from_millis(800)).is_err()
}

/// Names of our namespaces still present.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    nemesis::list_netns()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Root-namespace link names.
pub fn root_links() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .collect()
}

/// Polls `cond` until it holds or `limit` passes; the caller asserts on the result.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `ip ARGS` and returns stdout, panicking on failure (tests only).
pub fn ip(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
