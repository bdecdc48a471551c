//! `--system exec` with shell syntax in every value a placeholder carries (the store path and the test
//! name reach `{data_dir}`): the nodes still start with their values intact, and nothing in them runs.
//! Root only.

mod common;

use common::{cluster_test, describe, harness_bin, leaves_nothing};
use std::path::Path;
use std::process::Command;

/// Everything in `dir`, recursively, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn root_exec_placeholders_with_shell_syntax_stay_data() {
    let test = "root_exec_placeholders_with_shell_syntax_stay_data";
    let Some(_one_at_a_time) = cluster_test(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let marks = tmp.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let m = marks.display();
    // Each of these would create a file in `marks` (or, relative, in the run's cwd) if a shell ran it.
    let store = tmp.path().join(format!(
        "st ore;$(touch {m}/store-dollar)`touch {m}/store-tick`'q\"&x|y"
    ));
    let name = "a;b $(touch name-dollar) `touch name-tick` 'q\" & touch name-amp #";
    let node_cmd = format!(
        "LH_ID={{id}} {} node --id {{id}} --listen \"{{addr}}\" --peers '{{peers}}' \
         --data-dir {{data_dir}} --read-mode {{mode}}",
        harness_bin().display()
    );
    let args = [
        "--system",
        "exec",
        "--node-cmd",
        &node_cmd,
        "--name",
        name,
        "--mode",
        "lease",
        "--nemesis",
        "none",
        "--time-limit",
        "4s",
        "--seed",
        "3",
    ];
    let out = leaves_nothing(|| {
        Command::new(harness_bin())
            .args(args)
            .arg("--store")
            .arg(&store)
            .current_dir(tmp.path())
            .env_remove("CARGO")
            .output()
            .unwrap()
    });
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // The nodes got `{data_dir}` whole: each wrote its state under the run's own directory.
    let run = std::fs::read_dir(store.join(name))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for n in ["n1", "n2", "n3"] {
        let data = run.join("nodes").join(n).join("data");
        assert!(
            std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some()),
            "{n} wrote nothing in {}: {}",
            data.display(),
            describe(&out)
        );
    }
    // Nothing ran: no file appeared but the store.
    assert_eq!(files(&marks), Vec::<String>::new(), "commands ran");
    let store_top = store.strip_prefix(tmp.path()).unwrap().components().next();
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let mut want = vec![
        "marks".to_string(),
        store_top
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned(),
    ];
    want.sort();
    assert_eq!(top, want, "files appeared beside the store");
}
