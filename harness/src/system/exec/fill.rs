//! Filling `--node-cmd` placeholders so that each value is exactly one shell word, whatever it holds.
//!
//! The template is shell syntax on purpose (`RUST_LOG=info my-kv ...`, redirections), so it cannot be
//! split into argv without a shell. Values (store paths, test names) are data, never syntax: each is
//! quoted with `shlex` for the quoting context it lands in. No crate reports that context at a position,
//! hence the small scan below: it follows only what changes the context (quotes and backslashes).

use anyhow::{bail, Result};

/// The shell's quoting state at a point of the template.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Bare,
    Single,
    Double,
}

/// `template` with every `(placeholder, value)` substituted as one word. Inside the user's quotes
/// (`'{data_dir}'`, `"--data={data_dir}"`) the quote is closed around the quoted value and reopened,
/// so the word stays one word.
pub fn fill(template: &str, values: &[(&str, String)]) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut ctx = Context::Bare;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '{' {
            if let Some((p, v)) = values.iter().find(|(p, _)| rest.starts_with(p)) {
                let Ok(q) = shlex::try_quote(v) else {
                    bail!("the value of {p} contains a NUL byte: {v:?}");
                };
                match ctx {
                    Context::Bare => out.push_str(&q),
                    Context::Single => out.extend(["'", &q, "'"]),
                    Context::Double => out.extend(["\"", &q, "\""]),
                }
                rest = &rest[p.len()..];
                continue;
            }
        }
        let mut len = c.len_utf8();
        match (ctx, c) {
            // A backslash outside single quotes takes the next character with it, unread.
            (Context::Bare | Context::Double, '\\') => {
                len += rest[len..].chars().next().map_or(0, char::len_utf8);
            }
            (Context::Bare, '\'') => ctx = Context::Single,
            (Context::Bare, '"') => ctx = Context::Double,
            (Context::Single, '\'') | (Context::Double, '"') => ctx = Context::Bare,
            _ => {}
        }
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values a store path or test name may hold that a shell would read as syntax.
    const NASTY: &[&str] = &[
        "plain",
        "",
        "a b",
        "a;b",
        "$(touch /tmp/lh-never-made)",
        "`touch /tmp/lh-never-made`",
        "it's",
        "say \"hi\"",
        "back\\slash",
        "${HOME}*?[x]~#",
        "tab\tnew\nline",
        "'\"'\"",
        "ünï",
    ];

    /// Runs `script` in a real `sh` and returns the words it was given, one per line.
    fn words(script: &str) -> Vec<String> {
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &format!("printf '%s\\0' {script}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(String::from)
            .collect()
    }

    #[test]
    fn each_value_is_one_word_in_every_context() {
        for v in NASTY {
            let values = [("{x}", v.to_string())];
            let cases = [
                ("{x}", v.to_string()),
                ("'{x}'", v.to_string()),
                ("\"{x}\"", v.to_string()),
                ("--d={x}/y", format!("--d={v}/y")),
                ("'--d={x}/y'", format!("--d={v}/y")),
                ("\"--d={x}/y\"", format!("--d={v}/y")),
                ("\"a\\\"{x}\"", format!("a\"{v}")),
                ("\\'{x}", format!("'{v}")),
            ];
            for (template, want) in cases {
                let filled = fill(template, &values).unwrap();
                assert_eq!(
                    words(&filled),
                    vec![want],
                    "{template} with {v:?}: {filled}"
                );
            }
        }
    }

    #[test]
    fn the_template_keeps_its_shell_syntax() {
        let values = [("{id}", "n 1".to_string())];
        let filled = fill("A=1 B='x y' \"$A\" {id} >/dev/null", &values).unwrap();
        assert_eq!(filled, "A=1 B='x y' \"$A\" 'n 1' >/dev/null");
    }

    #[test]
    fn a_nul_byte_is_refused() {
        let err = fill("{x}", &[("{x}", "a\0b".into())]).unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }
}
