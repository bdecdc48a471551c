//! `harness clean`: remove what crashed runs left behind (namespaces, links and processes named `lh...`),
//! leaving runs whose controller still lives alone unless `--force`. With `--hosts FILE`: the run
//! directories, processes, nft tables and netem qdiscs that runs left on those hosts. Either way, the
//! lock files that killed runs left in the store.

mod locks;

use crate::exit;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Also remove the networks of runs whose controller is still running, and `lh` namespaces no owner
    /// marker claims (left by older versions or other tools). With --hosts: runs still live on the hosts.
    #[arg(long)]
    pub force: bool,
    /// Sweep these hosts (the file given to `harness --hosts`) instead of this machine.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// The store whose stale lock files (of runs whose controller is gone) are removed; live runs' locks
    /// are never touched.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

pub fn run(args: CleanArgs) -> anyhow::Result<u8> {
    if let Some(path) = &args.hosts {
        let file = match nemesis::hosts::HostsFile::load(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("harness clean: --hosts: {e}");
                return Ok(exit::BAD_ARGS);
            }
        };
        println!("{}", locks::sweep(&args.store));
        return clean_hosts(&file, args.force);
    }
    // Needs no root: a user without it can still clear the locks of their killed runs.
    println!("{}", locks::sweep(&args.store));
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness clean: {e}");
        return Ok(exit::INVALID_RUN);
    }
    let report = nemesis::clean_leftovers_with_prefix(nemesis::PREFIX, args.force)?;
    println!("{report}");
    Ok(exit::VALID)
}

fn clean_hosts(file: &nemesis::hosts::HostsFile, force: bool) -> anyhow::Result<u8> {
    match nemesis::hosts::clean_hosts(file, force) {
        Ok(report) => {
            println!("{report}");
            Ok(exit::VALID)
        }
        Err(e) => {
            eprintln!("harness clean: {e}");
            Ok(exit::INVALID_RUN)
        }
    }
}
