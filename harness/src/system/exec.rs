//! Any binary that speaks our HTTP key-value protocol (docs/protocol.md), started per node from a
//! command template, as Maelstrom users start theirs.

mod fill;

use super::{Launch, Member, System};
use crate::settings::RunConfig;
use anyhow::{bail, Context, Result};
use fill::fill;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workloads::{Client, NodeClient};

/// The port each node is told to listen on (`{port}`), inside its own namespace.
const PORT: u16 = 7000;
const PLACEHOLDERS: [&str; 7] = [
    "{id}",
    "{ip}",
    "{port}",
    "{addr}",
    "{peers}",
    "{data_dir}",
    "{mode}",
];

pub struct ExecSystem {
    template: String,
    mode: String,
}

impl ExecSystem {
    pub fn new(cfg: &RunConfig) -> Result<ExecSystem> {
        let template = cfg
            .cluster
            .node_cmd
            .clone()
            .context("--system exec needs --node-cmd")?;
        if !template.contains("{port}") && !template.contains("{addr}") {
            bail!("--node-cmd must tell the node where to listen: use {{port}} or {{addr}}");
        }
        let mut rest = template.clone();
        for p in PLACEHOLDERS {
            rest = rest.replace(p, "");
        }
        if let Some(i) = rest.find('{') {
            let end = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
            bail!(
                "--node-cmd has an unknown placeholder {}; known: {}",
                &rest[i..end],
                PLACEHOLDERS.join(" ")
            );
        }
        Ok(ExecSystem {
            template,
            mode: cfg.cluster.mode.clone(),
        })
    }

    /// The command line for one node, placeholders filled in, each as exactly one shell word.
    pub fn command(&self, m: &Member, all: &[Member]) -> Result<String> {
        let peers: Vec<String> = all
            .iter()
            .map(|p| format!("{}={}", p.name, p.client_addr))
            .collect();
        let values = [
            ("{id}", m.name.clone()),
            ("{ip}", m.client_addr.ip().to_string()),
            ("{port}", m.client_addr.port().to_string()),
            ("{addr}", m.client_addr.to_string()),
            ("{peers}", peers.join(",")),
            ("{data_dir}", m.data_dir.display().to_string()),
            ("{mode}", self.mode.clone()),
        ];
        fill(&self.template, &values)
    }
}

/// `exec` the command, so the node is the process the harness signals. `exec FOO=1 cmd` would look for
/// a program named `FOO=1`: leading variable assignments go through `env`, which sets them and execs.
fn shell_exec(command: &str) -> String {
    let first = command.split_whitespace().next().unwrap_or_default();
    let is_assignment = first.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if is_assignment {
        format!("exec env {command}")
    } else {
        format!("exec {command}")
    }
}

impl System for ExecSystem {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn client_port(&self) -> u16 {
        PORT
    }

    fn launch(&self, m: &Member, all: &[Member]) -> Result<Launch> {
        // `exec` makes the node the process the harness signals (kill, pause), not a shell around it.
        Ok(Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), shell_exec(&self.command(m, all)?)],
            env: vec![],
        })
    }

    fn client(&self, all: &[Member], timeout: Duration) -> Result<Arc<dyn Client>> {
        Ok(Arc::new(
            NodeClient::new(Member::addrs(all), timeout).context("creating the client")?,
        ))
    }

    fn client_with_sessions(
        &self,
        all: &[Member],
        timeout: Duration,
        session_addrs: &[std::net::IpAddr],
    ) -> Result<Arc<dyn Client>> {
        super::node_client_with_sessions(all, timeout, session_addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, ip: &str) -> Member {
        Member {
            name: name.into(),
            client_addr: format!("{ip}:{PORT}").parse().unwrap(),
            data_dir: PathBuf::from(format!("/s/nodes/{name}/data")),
        }
    }

    #[test]
    fn leading_assignments_go_through_env() {
        assert_eq!(shell_exec("my-kv --port 1"), "exec my-kv --port 1");
        assert_eq!(
            shell_exec("FOO=1 BAR_2=x my-kv"),
            "exec env FOO=1 BAR_2=x my-kv"
        );
        assert_eq!(shell_exec("./kv --opt=1"), "exec ./kv --opt=1");
        assert_eq!(shell_exec("1X=2 kv"), "exec 1X=2 kv");
    }

    /// A real shell runs the line: the variable reaches the program and the program replaces the shell.
    #[test]
    fn assignments_reach_the_program() {
        let out = std::process::Command::new("/bin/sh")
            .args([
                "-c",
                &shell_exec("LH_TEST_VAR=42 sh -c 'echo $LH_TEST_VAR'"),
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    }

    #[test]
    fn placeholders_are_filled() {
        let sys = ExecSystem {
            template: "node --id {id} --listen {addr} --peers {peers} --data-dir {data_dir} --read-mode {mode} -p {port} -i {ip}".into(),
            mode: "read-index".into(),
        };
        let all = [member("n1", "10.1.0.2"), member("n2", "10.1.0.3")];
        assert_eq!(
            sys.command(&all[1], &all).unwrap(),
            "node --id n2 --listen 10.1.0.3:7000 --peers 'n1=10.1.0.2:7000,n2=10.1.0.3:7000' \
             --data-dir /s/nodes/n2/data --read-mode read-index -p 7000 -i 10.1.0.3"
        );
    }
}
