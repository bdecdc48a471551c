//! Elle-format histories from the shared test vectors ($LH_HISTORIES, else ../shared/histories beside the
//! repository): lines of `expected.txt` whose file is under `elle/` give the strict-serializable verdict
//! (`true` / `false`); a file name containing `rw-register` is read as rw-register, others as
//! list-append. Skips with a message where there are none (they are never copied into the repository).

use checker::txn::{check_txn, load_txn_history, TxnModel, TxnOptions};
use std::path::PathBuf;

#[test]
fn shared_elle_histories_get_their_expected_verdicts() {
    let dir = std::env::var_os("LH_HISTORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories")
        });
    let Ok(expected) = std::fs::read_to_string(dir.join("expected.txt")) else {
        eprintln!(
            "skipped: no {}/expected.txt (set LH_HISTORIES)",
            dir.display()
        );
        return;
    };
    let mut checked = 0;
    for line in expected.lines().filter(|l| l.starts_with("elle/")) {
        let mut parts = line.split_whitespace();
        let (Some(file), Some(want)) = (parts.next(), parts.next()) else {
            continue;
        };
        let model = if file.contains("rw-register") {
            TxnModel::RwRegister
        } else {
            TxnModel::ListAppend
        };
        let h = load_txn_history(&dir.join(file), model).unwrap_or_else(|e| panic!("{file}: {e}"));
        let r =
            check_txn(&h, model, &TxnOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(r.valid.to_string(), want, "{file}: {:?}", r.anomaly_counts);
        checked += 1;
    }
    if checked == 0 {
        eprintln!(
            "skipped: {} lists no elle/ histories",
            dir.join("expected.txt").display()
        );
    }
}
