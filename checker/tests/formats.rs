//! Every history format Jepsen and Knossos users have, and the shape of parse errors.

use checker::{
    check, load_history, parse_str, CheckOptions, Format, Location, ModelKind, ParseError, Validity,
};
use std::io::Write;

fn verdict(text: &str, model: ModelKind) -> Validity {
    let h = parse_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    check(&h, model, &CheckOptions::default()).valid
}

/// A write of 1, then a read of 1 (valid) or of 2 (invalid: nothing wrote 2).
fn edn_ops(read: &str) -> [String; 4] {
    [
        "{:process 0, :type :invoke, :f :write, :value 1}".into(),
        "{:process 0, :type :ok, :f :write, :value 1}".into(),
        "{:process 1, :type :invoke, :f :read, :value nil}".into(),
        format!("{{:process 1, :type :ok, :f :read, :value {read}}}"),
    ]
}

#[test]
fn edn_list_and_vector_of_maps_spread_over_lines() {
    for (open, close) in [("(", ")"), ("[", "]")] {
        for (read, want) in [("1", Validity::Valid), ("2", Validity::Invalid)] {
            // Each map spread over lines, with commas and comments between.
            let body: Vec<String> = edn_ops(read)
                .iter()
                .map(|m| m.replace(", ", ",\n   "))
                .collect();
            let text = format!("{open}{}\n{close}\n", body.join("\n ; next\n"));
            assert_eq!(verdict(&text, ModelKind::Register), want, "{text}");
            let h = parse_str(&text).unwrap();
            assert_eq!(h.format, Format::Edn);
            assert_eq!(h.op_count(), 2);
            // Lines name where each map starts.
            assert_eq!(h.ops[1].invoke_line, 11, "{text}");
        }
    }
    let e = parse_str("(\n{:process 0, :type :invoke, :f :read}\n").unwrap_err();
    assert!(e.to_string().contains("never closed"), "{e}");
}

#[test]
fn edn_discards_tags_big_integers_and_times() {
    let text = "\
#_{:process 9, :type :invoke, :f :write, :value 5}
#jepsen.history.Op{:index 0, :time 1000000000, :process 0, :type :invoke, :f :write, :value 123456789012345678901234567890N}
{:index 1, :time 1100000000, :process 0, :type :ok, :f :write, :value 123456789012345678901234567890N, :at #inst \"2024-01-01T00:00:00Z\"}
{:index 2, :time 2000000000, :process 1, :type :invoke, :f :write, :value 12N}
{:index 3, :time 3200000000, :process 1, :type :ok, :f :write, :value 12}
{:index 4, :time 3410000000, :process 2, :type :invoke, :f :read, :value nil}
{:index 5, :time 3450000000, :process 2, :type :ok, :f :read, :value 123456789012345678901234567890N}
";
    let h = parse_str(text).unwrap();
    assert_eq!(h.op_count(), 3, "the discarded map is gone");
    assert!(h.has_time);
    assert_eq!(h.ops[0].invoke_time_ns, Some(1_000_000_000));
    let r = check(&h, ModelKind::Register, &CheckOptions::default());
    assert_eq!(
        r.valid,
        Validity::Invalid,
        "a stale read of the big integer"
    );
    let why = r.counterexample.unwrap().explanation;
    assert!(
        why.contains("at 3.41 s"),
        "times in seconds from :time: {why}"
    );
    // The same big integer read while current is fine.
    let ok: String = text
        .lines()
        .filter(|l| !l.contains(":value 12"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(verdict(&ok, ModelKind::Register), Validity::Valid);
}

#[test]
fn integer_valued_floats_equal_integers() {
    // EDN and JSON, in values and inside cas pairs.
    let edn = "\
{:process 0, :type :invoke, :f :write, :value 1.0}
{:process 0, :type :ok, :f :write, :value 1.0}
{:process 1, :type :invoke, :f :cas, :value [1 2.0]}
{:process 1, :type :ok, :f :cas, :value [1 2.0]}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 2, :type :ok, :f :read, :value 2}
";
    assert_eq!(verdict(edn, ModelKind::CasRegister), Validity::Valid);
    let jsonl = concat!(
        r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"write","value":3}"#,
        "\n",
        r#"{"index":1,"time":2,"process":0,"type":"ok","f":"write","value":3}"#,
        "\n",
        r#"{"index":2,"time":3,"process":1,"type":"invoke","f":"read","value":null}"#,
        "\n",
        r#"{"index":3,"time":4,"process":1,"type":"ok","f":"read","value":3.0}"#,
        "\n",
    );
    assert_eq!(verdict(jsonl, ModelKind::Register), Validity::Valid);
    // Times written as floats.
    let timed = "{:process 0, :type :invoke, :f :read, :time 1.5E9}\n{:process 0, :type :ok, :f :read, :value nil, :time 2000000000.0}\n";
    let h = parse_str(timed).unwrap();
    assert!(h.has_time);
    assert_eq!(h.ops[0].invoke_time_ns, Some(1_500_000_000));
    assert_eq!(h.ops[0].complete_time_ns, Some(2_000_000_000));
    // A float that is not an integer stays itself.
    let half = edn.replace(":value 2}", ":value 2.5}");
    assert_eq!(verdict(&half, ModelKind::CasRegister), Validity::Invalid);
}

#[test]
fn json_arrays_and_jepsen_json_lines() {
    let objs = [
        r#"{"process": 0, "type": "invoke", "f": "write", "value": 1}"#,
        r#"{"process": 0, "type": "ok", "f": "write", "value": 1}"#,
        r#"{"process": "nemesis", "type": "info", "f": "start", "value": null}"#,
        r#"{"process": 1, "type": ":invoke", "f": ":read", "value": null}"#,
        r#"{"process": 1, "type": ":ok", "f": ":read", "value": 1}"#,
    ];
    let array = format!("[\n{}\n]\n", objs.join(",\n"));
    let h = parse_str(&array).unwrap();
    assert_eq!(h.format, Format::Json);
    assert_eq!((h.op_count(), h.named_events), (2, 1));
    assert_eq!(h.ops[1].invoke_line, 5, "one object per line: its line");
    assert_eq!(verdict(&array, ModelKind::Register), Validity::Valid);
    // Objects spread over lines, in a file.
    let spread = array.replace(", ", ",\n    ");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    std::fs::write(&path, &spread).unwrap();
    let h = load_history(&path).unwrap();
    assert_eq!(h.op_count(), 2);
    let bad = array
        .replace(r#"":read", "value": 1}"#, r#"":read", "value": 2}"#)
        .replace(", ", ",\n    ");
    assert_eq!(verdict(&bad, ModelKind::Register), Validity::Invalid);
    // JSON Lines without our index and time.
    let lines = format!("{}\n", objs.join("\n"));
    let h = parse_str(&lines).unwrap();
    assert_eq!(h.format, Format::Json);
    assert_eq!(h.op_count(), 2);
    assert!(!h.has_time);
    assert_eq!(verdict(&lines, ModelKind::Register), Validity::Valid);
    // An empty array is an empty history; a broken one names the line.
    assert!(matches!(parse_str("[]\n"), Err(ParseError::Empty)));
    let e = parse_str(&array.replace("\"ok\", \"f\": \"write\"", "\"ok\" \"f\": \"write\""))
        .unwrap_err();
    assert_eq!(e.location(), Some(Location::Line(3)), "{e}");
    let e = parse_str(&array.replace("\"type\": \":ok\"", "\"type\": \"done\"")).unwrap_err();
    assert!(
        e.to_string().starts_with("line 6:") && e.to_string().contains("done"),
        "{e}"
    );
}

#[test]
fn errors_name_the_line_and_quote_at_most_200_characters() {
    let long = "x".repeat(100_000);
    let cases = [
        // A huge keyword where a map should be.
        (format!("{{:process 0, :type :invoke, :f :read}}\n:{long}\n"), 2),
        // A huge unknown :type.
        (format!("{{:process 0, :type :{long}, :f :read}}\n"), 1),
        // A JSONL line that is not an event, with a long string.
        (
            format!("{{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}}\n{{\"index\":1,\"time\":2,\"process\":0,\"type\":\"{long}\",\"f\":\"read\"}}\n"),
            2,
        ),
        // A huge op name that completes nothing.
        (format!("{{:process 0, :type :ok, :f :{long}}}\n"), 1),
    ];
    for (text, line) in cases {
        let e = parse_str(&text).unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            e.location(),
            Some(Location::Line(line)),
            "{}",
            &msg[..msg.len().min(300)]
        );
        assert!(msg.len() < 600, "{} chars: {}", msg.len(), &msg[..300]);
    }
    // A huge value the model cannot use: the check's error is bounded too.
    let text = format!("{{:process 0, :type :invoke, :f :cas, :value \"{long}\"}}\n");
    let h = parse_str(&text).unwrap();
    let e = checker::try_check(&h, ModelKind::CasRegister, &CheckOptions::default()).unwrap_err();
    assert!(
        e.to_string().len() < 600 && e.to_string().contains("line 1"),
        "{}",
        e.to_string().len()
    );
}

#[test]
fn non_utf8_input_names_the_byte_offset() {
    let mut bytes = b"{:process 0, :type :invoke, :f :write, :value \"ok\"}\n{:process 0, :type :ok, :f :write, :value \"".to_vec();
    let at = bytes.len();
    bytes.extend_from_slice(b"\xff\xfe\"}\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.edn");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let e = load_history(&path).unwrap_err();
    assert_eq!(e.location(), Some(Location::Byte(at)), "{e}");
    assert!(
        e.to_string().contains("UTF-8") && e.to_string().contains("line 2"),
        "{e}"
    );
    let mut jsonl = br#"{"index":0,"time":1,"process":0,"type":"invoke","f":"read"}"#.to_vec();
    jsonl.push(b'\n');
    let at = jsonl.len() + 4;
    jsonl.extend_from_slice(b"{\"in\xc3(\n");
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, &jsonl).unwrap();
    let e = load_history(&path).unwrap_err();
    assert_eq!(e.location(), Some(Location::Byte(at)), "{e}");
}
