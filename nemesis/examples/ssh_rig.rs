//! Three sshd "hosts" on a test bridge, to try `--hosts` on one machine (root):
//!
//! ```sh
//! cargo run -p nemesis --example ssh_rig    # prints the hosts file and the control namespace, then waits
//! ip netns exec <control ns> harness --hosts <file> --mode read-index --nemesis partition-leader
//! ```
//!
//! Press Enter (or close stdin) to remove every namespace, process and file it made.

use nemesis::hosts::SshRig;
use nemesis::Subnet;

fn main() {
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("ssh_rig: {e}");
        std::process::exit(3);
    }
    if let Err(why) = SshRig::available() {
        eprintln!("ssh_rig: {why}");
        std::process::exit(3);
    }
    let subnet: Subnet = "10.76.0.0/24".parse().expect("valid subnet");
    let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    let rig = match SshRig::start("rig", subnet, &nodes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ssh_rig: {e}");
            std::process::exit(3);
        }
    };
    println!("hosts file:        {}", rig.hosts_file().display());
    println!("control namespace: {}", rig.control_netns());
    println!(
        "try: ip netns exec {} harness --hosts {} --nemesis partition-leader",
        rig.control_netns(),
        rig.hosts_file().display()
    );
    println!("press Enter to tear it down");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(rig);
}
