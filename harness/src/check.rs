//! `harness check FILE`: the thin CLI over the `checker` library.

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History file: history.jsonl or a Jepsen EDN history.
    pub file: std::path::PathBuf,
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("not built yet")
}
