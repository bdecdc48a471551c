//! `harness clean`: remove what crashed runs left behind (namespaces, links and processes named `lh...`),
//! leaving runs whose controller still lives alone unless `--force`.

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Also remove the networks of runs whose controller is still running, and `lh` namespaces no owner
    /// marker claims (left by older versions or other tools).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CleanArgs) -> anyhow::Result<u8> {
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness clean: {e}");
        return Ok(exit::INVALID_RUN);
    }
    let report = nemesis::clean_leftovers_with_prefix(nemesis::PREFIX, args.force)?;
    println!("{report}");
    Ok(exit::VALID)
}
