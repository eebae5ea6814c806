//! `zaxos-tree replay` answers each line as soon as it has read it, so a caller can drive it in
//! lockstep: write one operation, read its outcome, then decide the next one.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// Long enough for any loaded machine; only a replay that holds its answers back runs into it.
const ANSWER_WAIT: Duration = Duration::from_secs(60);

#[test]
fn replay_answers_each_line_before_the_next_is_written() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zaxos-tree"))
        .args(["replay", "--epoch", "3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn zaxos-tree replay");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut ask = |op: Value| -> Value {
        writeln!(stdin, "{op}").expect("write one line");
        stdin.flush().expect("flush");
        let line = rx.recv_timeout(ANSWER_WAIT).expect("an answer to the line just written").expect("utf-8 line");
        serde_json::from_str(&line).expect("one JSON outcome")
    };
    let epoch = 3u64 << 32;
    let open = ask(json!({"op": "open", "session": "s1", "timeout_ms": 10_000}));
    assert_eq!(open["zxid"], epoch | 1);
    // Each next step depends on the previous answer, as a differential driver's would.
    let mut parent = String::from("/q");
    let created = ask(json!({"op": "create", "session": "s1", "path": parent, "data": "", "mode": "persistent"}));
    assert_eq!(created["result"]["ok"]["path"], "/q");
    for i in 0..5u64 {
        let r = ask(json!({"op": "create", "session": "s1", "path": format!("{parent}/n-"), "mode": "persistent_sequential"}));
        let path = r["result"]["ok"]["path"].as_str().expect("created path").to_string();
        assert_eq!(path, format!("{parent}/n-0000000000"), "a fresh parent's first sequential child");
        assert_eq!(r["zxid"], epoch | (3 + i));
        let read = ask(json!({"op": "get_data", "session": "s1", "path": path, "watch": true}));
        assert_eq!(read["result"]["ok"]["stat"]["czxid"], epoch | (3 + i));
        parent = path;
    }
    let closed = ask(json!({"op": "close", "session": "s1"}));
    assert_eq!(closed["result"], json!({"ok": null}));
    drop(stdin);
    assert!(child.wait().expect("exit").success());
}

#[test]
fn check_stops_without_a_panic_when_its_reader_goes_away() {
    // The smallest trace, often enough that the report outgrows a pipe's buffer (64 KiB):
    // the lines written after the reader left are what used to panic.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/traces");
    let smallest = std::fs::read_dir(dir)
        .expect("the recorded traces")
        .filter_map(|e| e.ok())
        .min_by_key(|e| e.metadata().map_or(u64::MAX, |m| m.len()))
        .expect("a trace")
        .path();
    let traces = vec![smallest.display().to_string(); 2_000];
    let mut child = Command::new(env!("CARGO_BIN_EXE_zaxos-tree"))
        .arg("check")
        .args(&traces)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zaxos-tree check");
    // As `| head -1` does: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a first line");
    assert!(first.starts_with("ok ") || first.starts_with("FAIL "), "{first}");
    let output = child.wait_with_output().expect("exit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "a panic's exit code");
}
