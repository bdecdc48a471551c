//! The test's name becomes a directory of the store (`<store>/<name>/<timestamp>/`): it must be one
//! plain directory name that nothing else in the store uses.

/// The longest file name Linux file systems take (NAME_MAX).
const NAME_MAX: usize = 255;

/// A name made from the options, cut to fit a directory name (a long `--nemesis` list made it too long
/// to create, and the run died after it had started).
pub fn fit(mut derived: String) -> String {
    if derived.len() > NAME_MAX {
        let mut end = NAME_MAX;
        while !derived.is_char_boundary(end) {
            end -= 1;
        }
        derived.truncate(end);
    }
    derived
}

/// Refuses a name the store cannot hold as one directory of its own.
pub fn check(name: &str) -> Result<(), String> {
    let shown = shown(name);
    if name.is_empty()
        || name.contains(['/', '\\'])
        || name.starts_with('.')
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "--name '{shown}' must be a plain directory name (no /, \\ or control characters, not starting with .)"
        ));
    }
    if name == "latest" {
        return Err(
            "--name latest is taken: <store>/latest points at the newest run; choose another name"
                .into(),
        );
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "--name is {} bytes long; a directory name holds at most {NAME_MAX}",
            name.len()
        ));
    }
    Ok(())
}

/// The name as an error message shows it: control characters escaped, cut short when long.
fn shown(name: &str) -> String {
    let escaped: String = name.chars().flat_map(char::escape_default).collect();
    match escaped.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &escaped[..i]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_fit_a_directory() {
        assert_eq!(fit("node-lease".into()), "node-lease");
        let long = "x".repeat(300);
        assert_eq!(fit(long).len(), NAME_MAX);
        let wide = "é".repeat(200);
        let cut = fit(wide);
        assert!(cut.len() <= NAME_MAX && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn names_the_store_cannot_hold_are_refused() {
        for ok in ["a", "a;b $(x) 'q' \"q\" `y`", "ünï", &"x".repeat(NAME_MAX)] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "plain"),
            ("a/b", "plain"),
            ("..", "plain"),
            (".hidden", "plain"),
            ("a\nb", "plain"),
            ("latest", "taken"),
            (&"x".repeat(NAME_MAX + 1), "256 bytes"),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
            assert!(err.len() < 200, "{bad:?}: {err}");
        }
    }
}
