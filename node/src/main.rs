//! `node` binary: everything lives in [`node::cli`], which `harness node` runs too.

fn main() {
    std::process::exit(node::cli::main_with_args(std::env::args_os()));
}
