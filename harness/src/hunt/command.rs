//! The hunt's own command line: whether an option was given, and the `harness --replay` line that
//! replays a shrunk schedule with the same run options.

use std::path::Path;

/// Options of the hunt (and of the schedule) that a replay line leaves out: `(flag, takes a value)`.
const DROPPED: [(&str, bool); 9] = [
    ("hunt", false),
    ("--budget", true),
    ("--keep-going", false),
    ("--plan", true),
    ("--replays", true),
    ("--nemesis", true),
    ("--seed", true),
    ("--time-limit", true),
    ("--name", true),
];

/// Whether the command line gives `flag` (as `--flag v` or `--flag=v`).
pub fn gives(flag: &str) -> bool {
    std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// `harness --replay FILE` with the run options this hunt was given, quoted for a shell.
pub fn replay_line(file: &Path) -> String {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut out = vec![
        "harness".to_string(),
        "--replay".into(),
        file.display().to_string(),
    ];
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        let dropped = DROPPED
            .iter()
            .find(|(f, _)| a == f || a.starts_with(&format!("{f}=")));
        match dropped {
            Some((f, true)) if a == f => i += 2,
            Some(_) => i += 1,
            None => {
                out.push(a.clone());
                i += 1;
            }
        }
    }
    out.iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}
