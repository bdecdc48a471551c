//! `cargo run --example check_file -- FILE [MODEL]`: check one history and print the result as JSON.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: check_file FILE [register|cas-register|kv]");
        std::process::exit(254);
    };
    let h = match checker::load_history(std::path::Path::new(path)) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(254);
        }
    };
    let model = args
        .get(2)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| h.guess_model());
    let r = checker::check(&h, model, &checker::CheckOptions::default());
    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    std::process::exit(r.valid.exit_code().into());
}
