//! Managed processes: real children, real signals, real /proc. Tests with `root` in the name need
//! namespaces and skip without root.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use nemesis::{proc_state, ManagedProcess, ProcessSpec};

fn spec(name: &str, netns: Option<&str>, program: &str, args: &[&str], log: &Path) -> ProcessSpec {
    ProcessSpec {
        name: name.into(),
        netns: netns.map(str::to_string),
        program: PathBuf::from(program),
        args: args.iter().map(|s| s.to_string()).collect(),
        log_path: log.to_path_buf(),
        env: vec![],
    }
}

fn state(pid: u32) -> Option<char> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(proc_state)
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn root_process_lifecycle_in_namespace() {
    if !have_root("root_process_lifecycle_in_namespace") {
        return;
    }
    let net = network(1);
    let dir = tempfile::tempdir().unwrap();
    let ns = net.node_netns("n1").unwrap();
    let mut p = ManagedProcess::spawn(spec(
        "n1",
        Some(ns),
        "sleep",
        &["100"],
        &dir.path().join("n1.log"),
    ))
    .unwrap();
    let pid = p.pid().unwrap();
    assert!(p.is_running());

    // It runs in the node's namespace, not ours, and leads its own process group.
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(theirs, std::fs::read_link("/proc/self/ns/net").unwrap());
    let ino = std::fs::metadata(format!("/run/netns/{ns}")).unwrap().ino();
    assert_eq!(theirs.to_string_lossy(), format!("net:[{ino}]"));
    assert_eq!(
        nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid as i32)))
            .unwrap()
            .as_raw(),
        pid as i32
    );

    p.pause().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || state(pid) == Some('T')),
        "paused: {:?}",
        state(pid)
    );
    assert!(p.is_running(), "a paused process is still running");
    p.resume().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || state(pid) == Some('S')),
        "resumed: {:?}",
        state(pid)
    );

    p.kill().unwrap();
    assert!(gone(pid), "killed and reaped");
    assert_eq!(p.pid(), None);
    assert_eq!(p.last_exit().unwrap().signal(), Some(9));
    assert!(!p.is_running());
    assert!(p.pause().is_err(), "cannot pause a dead process");
    p.kill().unwrap();

    p.restart().unwrap();
    let pid2 = p.pid().unwrap();
    assert_ne!(pid2, pid);
    assert!(p.is_running());
    p.restart().unwrap();
    let pid3 = p.pid().unwrap();
    assert!(gone(pid2), "restart kills the running process first");

    drop(p);
    assert!(gone(pid3), "Drop kills and reaps");
}

#[test]
fn root_paused_process_is_killed_on_drop() {
    if !have_root("root_paused_process_is_killed_on_drop") {
        return;
    }
    let net = network(1);
    let dir = tempfile::tempdir().unwrap();
    let ns = net.node_netns("n1").unwrap();
    let mut p = ManagedProcess::spawn(spec(
        "n1",
        Some(ns),
        "sleep",
        &["100"],
        &dir.path().join("l"),
    ))
    .unwrap();
    let pid = p.pid().unwrap();
    p.pause().unwrap();
    drop(p);
    assert!(gone(pid));
}

#[test]
fn root_spawn_in_missing_namespace_is_a_clear_error() {
    if !have_root("root_spawn_in_missing_namespace_is_a_clear_error") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = ManagedProcess::spawn(spec(
        "n1",
        Some("lhnonexistent"),
        "sleep",
        &["1"],
        &dir.path().join("l"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("/run/netns/lhnonexistent") && err.contains("n1"),
        "{err}"
    );
}

#[test]
fn stop_is_graceful_then_forced() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stop.log");
    let mut polite = ManagedProcess::spawn(spec("polite", None, "sleep", &["100"], &log)).unwrap();
    polite.stop(Duration::from_secs(30)).unwrap();
    assert_eq!(
        polite.last_exit().unwrap().signal(),
        Some(15),
        "exited on SIGTERM"
    );

    let mut stubborn = ManagedProcess::spawn(spec(
        "stubborn",
        None,
        "sh",
        &["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
        &log,
    ))
    .unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).unwrap().contains("ready")
    }));
    stubborn.pause().unwrap();
    stubborn.stop(Duration::from_millis(200)).unwrap();
    assert_eq!(
        stubborn.last_exit().unwrap().signal(),
        Some(9),
        "ignored SIGTERM, so SIGKILL"
    );
}

#[test]
fn output_is_appended_to_the_log_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nested/dir/out.log");
    let mut env_spec = spec(
        "echo",
        None,
        "sh",
        &["-c", "echo out-$LH_TEST; echo err-$LH_TEST >&2"],
        &log,
    );
    env_spec.env.push(("LH_TEST".into(), "v1".into()));
    let mut p = ManagedProcess::spawn(env_spec).unwrap();
    assert!(eventually(Duration::from_secs(10), || !p.is_running()));
    assert_eq!(p.describe_exit().as_deref(), Some("exit 0"));
    p.restart().unwrap();
    assert!(eventually(Duration::from_secs(10), || !p.is_running()));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("out-v1").count(), 2, "{text}");
    assert_eq!(text.matches("err-v1").count(), 2, "{text}");
}

#[test]
fn child_dies_with_the_thread_that_spawned_it() {
    // PR_SET_PDEATHSIG fires when the spawning thread exits: the reason the harness must spawn from a
    // long-lived thread.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l");
    let mut p = std::thread::spawn(move || {
        ManagedProcess::spawn(spec("orphan", None, "sleep", &["100"], &log)).unwrap()
    })
    .join()
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || !p.is_running()),
        "killed when its thread ended"
    );
    assert_eq!(p.last_exit().unwrap().signal(), Some(9));
}

#[test]
fn missing_program_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = ManagedProcess::spawn(spec(
        "ghost",
        None,
        "/nonexistent/lh-node",
        &[],
        &dir.path().join("l"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("ghost") && err.contains("/nonexistent/lh-node"),
        "{err}"
    );
}
