//! `harness clean`: remove what crashed runs left behind (namespaces, links and processes named `lh...`).

use crate::exit;

pub fn run() -> anyhow::Result<u8> {
    if let Err(e) = nemesis::check_privileges() {
        eprintln!("harness clean: {e}");
        return Ok(exit::INVALID_RUN);
    }
    let report = nemesis::clean_leftovers()?;
    println!("{report}");
    Ok(exit::VALID)
}
