//! `clean_leftovers` on a simulated crashed run. Needs root; skips otherwise.

mod common;

use common::*;
use nemesis::{clean_leftovers_with_prefix, ManagedProcess, ProcessSpec};
use std::path::PathBuf;

/// Deletes a namespace we made ourselves, even if the test fails.
struct OwnNamespace(String);

impl Drop for OwnNamespace {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[test]
fn root_clean_removes_crashed_run_and_nothing_else() {
    if !have_root("root_clean_removes_crashed_run_and_nothing_else") {
        return;
    }
    let keep = OwnNamespace(format!("xtestkeep{}", std::process::id()));
    ip(&["netns", "add", &keep.0]);

    let net = network(2);
    let prefix = format!("lh{}", net.run_id());
    let dir = tempfile::tempdir().unwrap();
    let proc = ManagedProcess::spawn(ProcessSpec {
        name: "n1".into(),
        netns: Some(net.node_netns("n1").unwrap().into()),
        program: PathBuf::from("sleep"),
        args: vec!["100".into()],
        log_path: dir.path().join("n1.log"),
        env: vec![],
    })
    .unwrap();
    let pid = proc.pid().unwrap();
    // A crash: nothing runs teardown.
    std::mem::forget(proc);
    std::mem::forget(net);
    assert_eq!(namespaces_with_prefix(&prefix).len(), 4);
    // Our design never puts links in the root namespace, but an older or foreign tool might have.
    let (stray, stray_peer) = (format!("{prefix}d"), format!("{prefix}e"));
    let have_stray = std::process::Command::new("ip")
        .args([
            "link",
            "add",
            &stray,
            "type",
            "veth",
            "peer",
            "name",
            &stray_peer,
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !have_stray {
        eprintln!("no veth support in the root namespace: not checking link cleanup");
    }

    // Only this run's prefix: other tests' networks may be alive in parallel.
    let report = clean_leftovers_with_prefix(&prefix, true).unwrap();
    let mut removed = report.namespaces.clone();
    removed.sort();
    let mut expected: Vec<String> = ["br", "c", "n1", "n2"]
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect();
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.processes, vec![pid]);
    // Deleting one end of a veth pair deletes both: exactly one deletion is reported.
    assert_eq!(
        report.links.len(),
        usize::from(have_stray),
        "{:?}",
        report.links
    );
    assert!(report.links.iter().all(|l| *l == stray || *l == stray_peer));
    assert!(!root_links().iter().any(|l| l.starts_with(&prefix)));
    assert!(report.to_string().contains(&format!("{prefix}n1")));

    // The killed process is our (zombie) child: reap it and check it died of SIGKILL.
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None).unwrap();
    assert_eq!(
        status,
        nix::sys::wait::WaitStatus::Signaled(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::SIGKILL,
            false
        )
    );

    assert_eq!(namespaces_with_prefix(&prefix), Vec::<String>::new());
    assert!(
        nemesis::netns_exists(&keep.0),
        "a namespace without our prefix survives"
    );
    let again = clean_leftovers_with_prefix(&prefix, true).unwrap();
    assert!(again.is_empty(), "{again}");
}
