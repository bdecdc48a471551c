//! `harness`: the controller. Parses the command line and dispatches; each subcommand lives in its own module.

mod check;
mod clean;
mod compare;
mod duration;
mod exit;
mod hunt;
mod run;
mod settings;
mod store;
mod system;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A Jepsen-style fault-injection test harness: starts a real cluster in network namespaces, drives
/// clients, injects faults, records a history and checks it for linearizability.
///
/// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the run itself was invalid, 254 bad arguments, 255 crash.
#[derive(Debug, Parser)]
#[command(name = "harness", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    run: run::args::RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a history file (our history.jsonl or a Jepsen EDN history) for linearizability.
    #[command(after_help = check::EXIT_CODES)]
    Check(check::CheckArgs),
    /// Remove namespaces, links and processes (all named `lh...`) left behind by runs whose controller
    /// is gone, and the lock files those runs left in the store; live runs are left alone unless --force.
    Clean(clean::CleanArgs),
    /// Run one node of our Raft key-value server (the same program as the `node` binary; see `harness node
    /// --help`). The harness starts its nodes this way.
    #[command(disable_help_flag = true)]
    Node {
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Run a matrix of modes × faults and write one comparison (terminal table, compare.md, .json, .html).
    Compare(Box<compare::CompareArgs>),
    /// Hunt for anomalies: runs back to back with fresh seeds and randomized fault timing until the budget
    /// ends or an anomaly shows, then shrink its schedule to one `harness --replay` reproduces.
    Hunt(Box<hunt::HuntArgs>),
}

fn main() -> ExitCode {
    // `harness node ...` is the node itself (one build serves both); it installs its own logging, so it
    // is dispatched before the harness's.
    let mut argv = std::env::args_os();
    let first = argv.nth(1);
    if first.as_ref().is_some_and(|a| a == "node") {
        let code = node::cli::main_with_args(std::iter::once("harness node".into()).chain(argv));
        return ExitCode::from(u8::try_from(code).unwrap_or(exit::CRASH));
    }
    // The packet helper the harness uploads to `--hosts` hosts (internal, not in --help).
    if first
        .as_ref()
        .is_some_and(|a| a == nemesis::PACKET_DELAY_COMMAND || a == nemesis::PACKET_PROBE_COMMAND)
    {
        // Lossy: `env::args` would panic on an argument that is not UTF-8; the helper refuses it instead.
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return ExitCode::from(nemesis::packet_helper_main(&args));
    }
    // The ZooKeeper client warns on every refused reconnect, which faults cause on purpose.
    let quiet = "warn,zookeeper_client=error";
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| quiet.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_ARGS
            } else {
                exit::VALID
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // A panic unwinds through every teardown (network, processes, lock file) before it lands here.
    let result = std::panic::catch_unwind(|| match cli.command {
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Clean(args)) => clean::run(args),
        Some(Command::Compare(args)) => compare::run(*args),
        Some(Command::Hunt(args)) => hunt::run(*args),
        // Dispatched in main before parsing; listed so `harness --help` shows it.
        Some(Command::Node { .. }) => Ok(exit::BAD_ARGS),
        None => run::run(cli.run),
    });
    match result {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "harness: error: {e:#}");
            ExitCode::from(exit::CRASH)
        }
        Err(_) => ExitCode::from(exit::CRASH),
    }
}
