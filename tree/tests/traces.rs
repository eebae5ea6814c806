//! Replays every trace recorded from a real ZooKeeper 3.8 server and demands exactly the
//! recorded outcomes: zxids, error codes, Stats, child lists and watch events; and checks that
//! the traces hold what they are meant to cover.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use zaxos_tree::replay::{check_trace, Replayer};
use zaxos_tree::Config;

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

fn traces() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/traces exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files.iter().map(|f| (f.display().to_string(), std::fs::read_to_string(f).expect("readable trace"))).collect()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

/// The recorder covers what a real server shows: these fail if a re-recording loses it.
#[test]
fn the_traces_hold_what_a_real_server_shows() {
    let traces: Vec<(String, Vec<Value>)> = traces().into_iter().map(|(f, t)| (f, lines(&t))).collect();
    let all = || traces.iter().flat_map(|(_, l)| l.iter());
    // A 3-server ensemble: its zxids are in epoch 1, not a standalone server's 0.
    let ensemble = traces.iter().find(|(_, l)| l[0]["header"]["servers"] == 3).expect("an ensemble trace");
    assert!(ensemble.1[0]["header"]["epoch"].as_u64() > Some(0), "{}", ensemble.0);
    assert!(ensemble.1[1]["expect"]["zxid"].as_u64() > Some(1 << 32), "{}", ensemble.0);
    // Binary data, written and read back.
    assert!(all().any(|l| l.get("data_hex").is_some()), "no non-UTF-8 data written");
    assert!(all().any(|l| l["expect"]["result"]["ok"].get("data_hex").is_some()), "no non-UTF-8 data read");
    // A closing session receives the events of its own ephemerals.
    let own_close_events = all()
        .filter(|l| l["op"] == "close")
        .filter(|l| l["expect"]["events"].as_array().is_some_and(|e| e.iter().any(|e| e[0] == l["session"])))
        .count();
    assert!(own_close_events >= 3, "only {own_close_events} closes deliver the closing session's events");
    // Two sessions expired one after the other, each by its own tick and zxid; in one of them
    // the later-opened session (shorter timeout) goes first: deadline order, not id order.
    let number = |t: &Value| t["expect"]["result"]["ok"]["expired"][0].as_str().and_then(|n| n[1..].parse::<u32>().ok());
    let double_expiries: Vec<(Option<u32>, Option<u32>)> = all()
        .zip(all().skip(1))
        .filter(|(a, b)| a["op"] == "tick" && b["op"] == "tick")
        .inspect(|(a, b)| assert_eq!(b["expect"]["zxid"].as_u64(), a["expect"]["zxid"].as_u64().map(|z| z + 1)))
        .map(|(a, b)| (number(a), number(b)))
        .collect();
    assert!(double_expiries.len() >= 3, "{double_expiries:?}");
    assert!(double_expiries.iter().any(|(a, b)| a > b), "no later-opened session expired first: {double_expiries:?}");
    // Expiring sessions lost their connection first: the server dropped their watches then.
    assert!(all().any(|l| l["op"] == "disconnect"));
}

/// Every trace ends by reading back the whole final tree: each node that exists once the trace
/// is replayed is read (data and children) by the trailing sweep.
#[test]
fn every_trace_ends_with_a_sweep_of_the_whole_tree() {
    for (file, text) in traces() {
        let lines = lines(&text);
        let mut r = Replayer::new(Config::default(), 0);
        for l in &lines {
            r.step(l);
        }
        // The sweep reads `/` first and never again: it starts at the last get_data of `/`
        // followed by a get_children of `/`.
        let start = (0..lines.len().saturating_sub(1))
            .rev()
            .find(|&i| lines[i]["op"] == "get_data" && lines[i]["path"] == "/" && lines[i + 1]["op"] == "get_children" && lines[i + 1]["path"] == "/")
            .unwrap_or_else(|| panic!("{file}: no sweep"));
        let sweep: Vec<&Value> = lines[start..].iter().collect();
        assert!(sweep.iter().all(|l| l["op"] == "get_data" || l["op"] == "get_children"), "{file}: the sweep is not last");
        let swept: BTreeSet<&str> = sweep.iter().filter(|l| l["op"] == "get_children").filter_map(|l| l["path"].as_str()).collect();
        let nodes: BTreeSet<&str> = r.tree().nodes().map(|(p, _)| p).collect();
        assert_eq!(swept, nodes, "{file}: the sweep misses nodes or reads missing ones");
        assert!(sweep.iter().all(|l| l["expect"]["result"].get("ok").is_some()), "{file}");
    }
}

/// Children lists are compared exactly, in ZooKeeper's order: the same names in another order
/// is a difference.
#[test]
fn children_in_another_order_are_a_difference() {
    let mut permuted = 0;
    for (file, text) in traces() {
        let mut lines = lines(&text);
        let Some(i) = lines.iter().position(|l| {
            l["op"] == "get_children" && l["expect"]["result"]["ok"]["children"].as_array().is_some_and(|c| c.len() >= 2)
        }) else {
            continue;
        };
        if let Some(children) = lines[i]["expect"]["result"]["ok"]["children"].as_array_mut() {
            children.swap(0, 1);
        }
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (_, mismatches) = check_trace(&text).expect("parses");
        assert_eq!(mismatches.iter().map(|m| m.line).collect::<Vec<_>>(), [i + 1], "{file}");
        permuted += 1;
    }
    assert!(permuted >= 10, "only {permuted} traces list two or more children");
}
