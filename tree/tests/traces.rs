//! Replays every trace recorded from a real ZooKeeper 3.8 server and demands exactly the
//! recorded outcomes: zxids, error codes, Stats, child lists and watch events.

use std::path::Path;

use zaxos_tree::replay::check_trace;

#[test]
fn every_recorded_trace_replays_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/traces exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "expected at least 20 traces, found {}", files.len());
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable trace");
        let (n, mismatches) = check_trace(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(n >= 300, "{}: only {n} operations", f.display());
        total += n;
        if let Some(m) = mismatches.first() {
            failures.push(format!(
                "{}:{}: {}\n  expected {}\n  actual   {}\n  ({} mismatches in this trace)",
                f.display(), m.line, m.op, m.expected, m.actual, mismatches.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} traces differ:\n{}", failures.len(), files.len(), failures.join("\n"));
    println!("{} traces, {total} operations checked", files.len());
}
