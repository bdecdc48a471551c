//! `--hosts`: the same tests with the nodes on "hosts" reached over SSH — three namespaces on a test bridge,
//! each running a real sshd (nemesis's SshRig) — and the harness in a control namespace whose only routes
//! are that bridge. The harness uploads itself and runs `harness node` on each host. Afterwards no rule,
//! process or file of the run may be left on any host.

mod common;

use common::{cluster_lock, describe, harness_bin, results, skip_unless_root};
use nemesis::hosts::SshRig;
use nemesis::Subnet;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SHORT: &[&str] = &[
    "--time-limit",
    "9s",
    "--nemesis-interval",
    "4s",
    "--fault-duration",
    "2.5s",
    "--rate",
    "150",
    "--concurrency",
    "6",
    "--routing",
    "sticky",
];

fn rig(test: &str) -> Option<SshRig> {
    if skip_unless_root(test) {
        return None;
    }
    if let Err(why) = SshRig::available() {
        common::skip(test, &why);
        return None;
    }
    let octet = (std::process::id() % 200) as u8 + 20;
    let subnet = Subnet::new(std::net::Ipv4Addr::new(10, 78, octet, 0), 24).unwrap();
    let run = format!("y{}", &nemesis::generate_run_id()[..4]);
    let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    Some(SshRig::start(&run, subnet, &nodes).expect("ssh rig"))
}

/// `harness ARGS --hosts FILE --store STORE`, from the control namespace.
fn run_on_hosts(rig: &SshRig, args: &[&str], store: &Path) -> Output {
    Command::new("ip")
        .args(["netns", "exec", rig.control_netns()])
        .arg(harness_bin())
        .args(SHORT)
        .args(args)
        .args(if args.contains(&"--seed") {
            &[][..]
        } else {
            &["--seed", "7"][..]
        })
        .arg("--hosts")
        .arg(rig.hosts_file())
        .arg("--store")
        .arg(store)
        .env_remove("CARGO")
        .output()
        .expect("run harness")
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Processes in `ns` other than sshd itself.
fn strays(ns: &str) -> Vec<String> {
    nemesis::netns_pids(ns)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).ok()?;
            let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).ok()?;
            let is_listener = comm.trim() == "sshd" && cmd.contains("-D");
            (!is_listener).then(|| format!("{p} {}", cmd.replace('\0', " ")))
        })
        .collect()
}

/// No rule, process or file of any run is left on any host, nor an ssh process in the control namespace.
fn assert_nothing_left(rig: &SshRig) {
    assert_nothing_left_within(rig, Duration::from_secs(5))
}

/// Processes on the hosts other than sshd and its sessions: nodes, wrappers, keepers.
fn run_processes(rig: &SshRig) -> Vec<String> {
    ["n1", "n2", "n3"]
        .iter()
        .flat_map(|n| strays(rig.host_netns(n).unwrap()))
        .filter(|p| !p.contains("sshd"))
        .collect()
}

fn assert_nothing_left_within(rig: &SshRig, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut left = Vec::new();
        for n in ["n1", "n2", "n3"] {
            let ns = rig.host_netns(n).unwrap();
            let tables = in_ns(ns, &["nft", "list", "tables"]);
            if tables.contains("lh") {
                left.push(format!("{n}: nft {tables}"));
            }
            if in_ns(ns, &["tc", "qdisc", "show"]).contains("netem") {
                left.push(format!("{n}: netem qdisc"));
            }
            let chains = in_ns(ns, &["iptables", "-w", "-S"]);
            if chains.contains(" lh") {
                left.push(format!("{n}: iptables {chains}"));
            }
            left.extend(strays(ns).into_iter().map(|s| format!("{n}: process {s}")));
        }
        left.extend(
            strays(rig.control_netns())
                .into_iter()
                .map(|s| format!("control: process {s}")),
        );
        let files: Vec<_> = std::fs::read_dir(rig.remote_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        if !files.is_empty() {
            left.push(format!("files: {files:?}"));
        }
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind on the hosts: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn history(store: &Path) -> Vec<Value> {
    std::fs::read_to_string(store.join("latest/history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn root_hosts_read_index_valid_leader_local_caught_kill_leader_restarts() {
    let test = "root_hosts_read_index_valid_leader_local_caught_kill_leader_restarts";
    // The lock first: a rig is a cluster's worth of namespaces and sshds, built one at a time too.
    let _one_at_a_time = cluster_lock();
    let Some(rig) = rig(test) else { return };

    // read-index under partition-leader: valid.
    let store = tempfile::tempdir().unwrap();
    let out = run_on_hosts(
        &rig,
        &["--mode", "read-index", "--nemesis", "partition-leader"],
        store.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let res = results(store.path());
    assert_eq!(res["valid"], true, "{res:#}");
    let faults = res["faults"].as_array().unwrap();
    assert!(
        !faults.is_empty() && faults.iter().all(|f| f["hit"] == true),
        "{faults:#?}"
    );
    // The nodes really ran on the hosts: their logs streamed back, their data was in the run directory.
    let log = std::fs::read_to_string(store.path().join("latest/nodes/n1/node.log")).unwrap();
    assert!(log.contains("/data"), "node log: {log}");
    // Each partition and heal was checked from the hosts and recorded.
    let landings: Vec<Value> = history(store.path())
        .into_iter()
        .filter(|e| e["f"] == "landing")
        .collect();
    assert!(landings.len() >= 2, "{landings:#?}");
    assert!(
        landings
            .iter()
            .all(|e| e["value"]["landed"] == true && e["value"]["checked"] == "from the hosts"),
        "{landings:#?}"
    );
    assert_nothing_left(&rig);

    // leader-local under partition-leader: caught.
    // One 2.5 s window does not always catch it (20 of 20 default runs did, with two windows), so up to
    // three seeds; a safe mode would never be caught by any of them.
    let mut caught = None;
    let mut tries = Vec::new();
    for seed in ["7", "8", "9"] {
        let store = tempfile::tempdir().unwrap();
        let out = run_on_hosts(
            &rig,
            &[
                "--mode",
                "leader-local",
                "--nemesis",
                "partition-leader",
                "--seed",
                seed,
            ],
            store.path(),
        );
        assert_nothing_left(&rig);
        if out.status.code() == Some(1) {
            caught = Some(store);
            break;
        }
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        tries.push(seed);
    }
    let store =
        caught.unwrap_or_else(|| panic!("leader-local was not caught with seeds {tries:?}"));
    let res = results(store.path());
    assert_eq!(res["valid"], false, "{res:#}");
    assert_eq!(res["check"]["counterexample"]["op"]["f"], "read", "{res:#}");
    assert_nothing_left(&rig);

    // kill-leader: SIGKILL and restart through SSH, and the run stays valid.
    let store = tempfile::tempdir().unwrap();
    let out = run_on_hosts(
        &rig,
        &["--mode", "read-index", "--nemesis", "kill-leader"],
        store.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let events = history(store.path());
    let kills = events.iter().filter(|e| e["f"] == "kill").count();
    let restarts = events.iter().filter(|e| e["f"] == "restart").count();
    assert!(
        kills >= 1 && restarts == kills,
        "kills {kills}, restarts {restarts}"
    );
    // The kill and the restart were checked by the process state on the host.
    let states: Vec<&Value> = events
        .iter()
        .filter(|e| e["f"] == "landing" && e["value"]["states"].is_object())
        .collect();
    assert!(
        !states.is_empty() && states.iter().all(|e| e["value"]["landed"] == true),
        "{states:#?}"
    );
    let res = results(store.path());
    assert_eq!(res["valid"], true, "{res:#}");
    assert_nothing_left(&rig);

    // clock-skew: through the node's clock API, reached from the control machine, plus a partition.
    let store = tempfile::tempdir().unwrap();
    let out = run_on_hosts(
        &rig,
        &["--mode", "read-index", "--nemesis", "clock-skew"],
        store.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let events = history(store.path());
    assert!(
        events.iter().any(|e| e["f"] == "start-clock-skew"),
        "no clock skew in the history"
    );
    assert_nothing_left(&rig);
}

/// A controller killed outright (SIGKILL: no teardown at all) leaves no node running on any host: each
/// dies with its SSH channel. `harness clean --hosts` then removes the directories and rules.
#[test]
fn root_hosts_killed_controller_leaves_no_node_and_clean_sweeps() {
    let test = "root_hosts_killed_controller_leaves_no_node_and_clean_sweeps";
    // The lock first: a rig is a cluster's worth of namespaces and sshds, built one at a time too.
    let _one_at_a_time = cluster_lock();
    let Some(rig) = rig(test) else { return };
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", rig.control_netns()])
        .arg(harness_bin())
        .args([
            "--time-limit",
            "60s",
            "--nemesis",
            "partition-leader",
            "--nemesis-interval",
            "1s",
        ])
        .args(["--fault-duration", "50s", "--hosts"])
        .arg(rig.hosts_file())
        .arg("--store")
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let history = store.path().join("latest/history.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until the partition is in place (its event follows the rule and its check).
    while !std::fs::read_to_string(&history)
        .unwrap_or_default()
        .contains("start-partition")
    {
        assert!(Instant::now() < deadline, "the run never partitioned");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        run_processes(&rig).iter().any(|p| p.contains("node")),
        "{:?}",
        run_processes(&rig)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !run_processes(&rig).is_empty() {
        assert!(
            Instant::now() < deadline,
            "outlived their controller: {:#?}",
            run_processes(&rig)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new("ip")
        .args(["netns", "exec", rig.control_netns()])
        .arg(harness_bin())
        .args(["clean", "--hosts"])
        .arg(rig.hosts_file())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("removed") && said.contains("deleted nft table"),
        "{said}"
    );
    // The killed controller's ssh masters exit by themselves once idle (30 s).
    assert_nothing_left_within(&rig, Duration::from_secs(45));
}

#[test]
fn root_hosts_preflight_refuses_before_anything_starts() {
    let test = "root_hosts_preflight_refuses_before_anything_starts";
    let Some(rig) = rig(test) else { return };
    // A host key that is not trusted: an empty known_hosts.
    let text = std::fs::read_to_string(rig.hosts_file()).unwrap();
    let empty = rig.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let kh = rig.dir().join("known_hosts");
    let bad = rig.dir().join("bad_hosts.toml");
    std::fs::write(
        &bad,
        text.replace(&kh.display().to_string(), &empty.display().to_string()),
    )
    .unwrap();
    let store = tempfile::tempdir().unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", rig.control_netns()])
        .arg(harness_bin())
        .args(["--time-limit", "3s", "--nemesis", "none", "--hosts"])
        .arg(&bad)
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(err.contains("not trusted"), "{err}");
    assert_nothing_left(&rig);
    // Packet faults on hosts need no netem: a run lands one, measured between the hosts, and leaves nothing.
    let out = run_on_hosts(
        &rig,
        &["--mode", "read-index", "--nemesis", "packet-loss"],
        store.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let landings: Vec<Value> = history(store.path())
        .into_iter()
        // The fault's own landing, and the heal's (measured gone).
        .filter(|e| e["f"] == "landing" && e["value"]["mechanism"].is_string())
        .collect();
    assert!(
        landings.len() >= 2
            && landings
                .iter()
                .all(|e| e["value"]["landed"] == true
                    && e["value"]["mechanism"] == "netfilter (host)"),
        "{landings:#?}"
    );
    assert_nothing_left(&rig);
    // A malformed hosts file is a bad argument.
    std::fs::write(&bad, "n1 = 5\n").unwrap();
    let out = Command::new(harness_bin())
        .args(["--hosts"])
        .arg(&bad)
        .arg("--store")
        .arg(store.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--hosts"),
        "{}",
        describe(&out)
    );
}

/// Bad `--hosts` input is a bad argument (254) naming the problem, before anything starts; no root needed.
#[test]
fn hosts_bad_input_is_a_bad_argument() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.toml");
    std::fs::write(
        &file,
        "n1 = \"root@10.0.0.11\"\nn2 = \"root@10.0.0.12\"\nn3 = \"root@10.0.0.13\"\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.toml");
    let cases: Vec<(Vec<&str>, &Path, &str)> = vec![
        (vec![], missing.as_path(), "missing.toml"),
        (
            vec!["--nemesis", "corrupt-data"],
            file.as_path(),
            "corrupt-data",
        ),
        (
            vec!["--partition-scope", "all"],
            file.as_path(),
            "--partition-scope all",
        ),
    ];
    for (args, hosts, needle) in cases {
        let out = Command::new(harness_bin())
            .args(&args)
            .arg("--hosts")
            .arg(hosts)
            .arg("--store")
            .arg(dir.path().join("store"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", describe(&out));
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = Command::new(harness_bin())
        .args(["clean", "--hosts"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254), "{}", describe(&out));
}

/// Packet delay, loss and duplication on hosts without netem (this kernel has none): iptables NFQUEUE held
/// by `harness nemesis-delay` on the host, an nft netdev dup table; each measured by probes between the
/// hosts within the tolerance, gone after removal, its helper's death seen, and nothing left after
/// teardown or (for a crashed run) `clean_hosts`. About 30 s, most of it uploading the debug harness.
#[test]
fn root_hosts_packet_faults_land_without_netem() {
    use nemesis::hosts::{clean_hosts, Hosts, HostsFile, PacketHelper, HOST_MECHANISM};
    use nemesis::{PacketAim, PacketFault};
    let test = "root_hosts_packet_faults_land_without_netem";
    let out = PacketAim::default();
    let _one_at_a_time = cluster_lock();
    let Some(rig) = rig(test) else { return };
    let file = HostsFile::load(&rig.hosts_file()).unwrap();
    // This thread, the SSH runtime it starts and its ssh processes live in the control namespace.
    nemesis::enter_netns(rig.control_netns()).unwrap();
    let started = Instant::now();
    let mut hosts = Hosts::connect(&file, "p1x").expect("connect");
    let helper = |hosts: &Hosts| PacketHelper {
        remote: hosts.upload_all(&harness_bin()).expect("upload"),
        log_dir: rig.dir().join("logs"),
    };
    let h = helper(&hosts);
    hosts.set_packet_helper(h.clone());

    let faults = [
        PacketFault::Delay {
            delay_ms: 200,
            jitter_ms: 0,
        },
        PacketFault::Loss { pct: 20.0 },
        PacketFault::Duplicate { pct: 20.0 },
    ];
    for f in &faults {
        assert_eq!(hosts.shape("n1", f, out).expect("shape"), HOST_MECHANISM);
        assert!(hosts.shaped("n1").unwrap(), "{f:?}: rules read back");
        assert!(!hosts.shaped("n2").unwrap());
        let on = hosts.measure_packets("n1", f, out).expect("measure");
        let got = f.measured(&on);
        let (lo, hi) = match f {
            PacketFault::Delay { .. } => (160.0, 240.0),
            _ => (12.0, 28.0),
        };
        assert!(
            on.sent >= 500 || matches!(f, PacketFault::Delay { .. }),
            "{on:?}"
        );
        assert!(
            (lo..=hi).contains(&got),
            "{f:?} measured {got:.1} (want {lo}..{hi}): {on:?}"
        );
        assert_eq!(hosts.packet_fault_health("n1"), Some(Ok(0)));
        hosts.unshape("n1").expect("unshape");
        assert!(!hosts.shaped("n1").unwrap(), "{f:?}: every rule removed");
        let off = hosts.measure_packets("n1", f, out).expect("measure after");
        let got = f.measured(&off);
        let gone = match f {
            PacketFault::Delay { .. } => 40.0,
            _ => 4.0,
        };
        assert!(got < gone, "{f:?} still {got:.1} after removal: {off:?}");
        eprintln!("{f:?}: on {on:?}, off {off:?}");
    }

    // Both ways on the links to the peers: a probe's round trip to a peer meets the loss twice (36%).
    let peers_both = PacketAim {
        both_ways: true,
        peers_only: true,
    };
    for f in &faults[..2] {
        hosts.shape("n1", f, peers_both).expect("shape both ways");
        let on = hosts.measure_packets("n1", f, peers_both).expect("measure");
        let (got, want) = (f.measured(&on), f.asked(peers_both));
        assert!(
            (got - want).abs() <= want * 0.2 + 4.0,
            "{f:?} both ways: measured {got:.1}, asked {want}: {on:?}"
        );
        eprintln!("{f:?} both ways at the peers: {on:?}");
        hosts.unshape("n1").unwrap();
        assert!(!hosts.shaped("n1").unwrap(), "{f:?}: both chains removed");
    }
    let refused = hosts.shape("n1", &faults[2], peers_both).unwrap_err();
    assert!(
        refused.to_string().contains("cannot copy what it"),
        "{refused}"
    );
    assert!(!hosts.shaped("n1").unwrap());

    // The helper's death is seen: the fault no longer holds.
    hosts.shape("n2", &faults[0], out).unwrap();
    hosts.kill_packet_helper("n2").unwrap();
    let health = hosts.packet_fault_health("n2").unwrap().unwrap_err();
    assert!(health.contains("died"), "{health}");
    // Teardown removes the rest (n2's chain, n3's table and helper).
    hosts.shape("n3", &faults[2], out).unwrap();
    hosts.shape("n1", &faults[1], peers_both).unwrap();
    hosts.teardown().unwrap();
    drop(hosts); // its SSH connections
    assert_nothing_left(&rig);

    // A crashed run's chains, tables and helpers go with `clean_hosts`.
    let mut crashed = Hosts::connect(&file, "p2x").expect("connect");
    crashed.set_packet_helper(helper(&crashed));
    crashed.shape("n1", &faults[0], peers_both).unwrap();
    crashed.shape("n2", &faults[2], out).unwrap();
    // --force sweeps it as if its controller were gone (a live run's keeper would otherwise protect it).
    let report = clean_hosts(&file, true).unwrap().to_string();
    assert!(
        report.contains("deleted iptables chain lhp2xqn1"),
        "{report}"
    );
    assert!(
        report.contains("deleted iptables chain lhp2xrn1"),
        "{report}"
    );
    assert!(report.contains("deleted nft table lhp2xdn2"), "{report}");
    drop(crashed);
    assert_nothing_left(&rig);
    eprintln!("{test}: {:?}", started.elapsed());
}
