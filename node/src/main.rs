fn main() {
    eprintln!("node: not built yet");
    std::process::exit(255);
}
