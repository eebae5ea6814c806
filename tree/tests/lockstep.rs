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
