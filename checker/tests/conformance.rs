//! Every history in `shared/histories/expected.txt` must get its expected verdict.

use checker::{check, load_history, CheckOptions, ModelKind, Validity};
use std::path::PathBuf;
use std::time::Duration;

fn histories_dir() -> PathBuf {
    match std::env::var_os("LH_HISTORIES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories"),
    }
}

fn expected() -> Option<Vec<(String, bool)>> {
    let dir = histories_dir();
    let text = match std::fs::read_to_string(dir.join("expected.txt")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "skipping: no test histories at {} ({e}); set LH_HISTORIES",
                dir.display()
            );
            return None;
        }
    };
    let list: Vec<(String, bool)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut it = l.split_whitespace();
            let file = it.next().expect("file name").to_string();
            let verdict = it.next().expect("verdict") == "true";
            (file, verdict)
        })
        .collect();
    Some(list)
}

fn run(filter: impl Fn(&str) -> bool, threads: usize) {
    let Some(list) = expected() else { return };
    let dir = histories_dir();
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(120)),
        memory_limit_bytes: Some(4 << 30),
        threads,
    };
    let mut failures = Vec::new();
    let mut n = 0;
    for (file, want) in list.iter().filter(|(f, _)| filter(f)) {
        n += 1;
        let h = load_history(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let model = if file.contains("etcd") {
            ModelKind::CasRegister
        } else {
            ModelKind::Kv
        };
        assert_eq!(h.guess_model(), model, "{file}: guessed model");
        let r = check(&h, model, &opts);
        let want_v = if *want {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        if r.valid != want_v {
            failures.push(format!(
                "{file}: expected {want_v}, got {} ({})",
                r.valid, r.explanation
            ));
        }
        if r.valid == Validity::Invalid {
            let c = r
                .counterexample
                .as_ref()
                .expect("invalid verdicts carry a counterexample");
            assert!(!c.explanation.is_empty());
        }
    }
    assert!(n > 0, "no histories matched");
    assert!(
        failures.is_empty(),
        "{} of {n} histories got the wrong verdict:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn etcd_histories_get_their_verdicts() {
    run(|f| f.contains("etcd"), 1);
}

#[test]
fn kv_histories_get_their_verdicts() {
    run(|f| f.contains("-kv/"), 2);
}

#[test]
fn kv_histories_single_threaded() {
    run(|f| f.contains("-kv/"), 1);
}

#[path = "../benches/synth.rs"]
mod synth;

#[test]
fn generated_linearizable_histories_are_valid() {
    for seed in 0..20 {
        let events = synth::register_history(3000, 10, 0.2, seed);
        let h = checker::parse_events(&events).unwrap();
        let r = check(
            &h,
            ModelKind::CasRegister,
            &CheckOptions {
                threads: 1,
                ..CheckOptions::default()
            },
        );
        assert_eq!(r.valid, Validity::Valid, "seed {seed}: {}", r.explanation);
    }
}

#[test]
fn every_key_of_c50_bad_gets_a_verdict() {
    // Porcupine answers c50-bad only by stopping at the first invalid key; key "0" alone exhausts it.
    // Inference decides every key, so none is left unknown.
    if expected().is_none() {
        return;
    }
    let h = load_history(&histories_dir().join("porcupine-kv/c50-bad.edn")).unwrap();
    let opts = CheckOptions {
        threads: 1,
        ..CheckOptions::default()
    };
    let r = check(&h, ModelKind::Kv, &opts);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.explanation);
    assert_eq!(r.per_key.len(), 10);
    for k in &r.per_key {
        assert_ne!(k.valid, Validity::Unknown, "key {:?} left undecided", k.key);
        assert_eq!(k.method, checker::Method::Inference, "key {:?}", k.key);
    }
    let c = r.counterexample.unwrap();
    assert!(c.explanation.starts_with("key "), "{}", c.explanation);
}
