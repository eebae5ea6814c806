//! Replays the committed corpus of every fuzz target, and every crash found (regressions),
//! through the targets' own code, on the stable toolchain: what `make test` runs.

use std::fs;
use std::path::{Path, PathBuf};

fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    if let Ok(entries) = fs::read_dir(root.join(dir).join(target)) {
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

/// Every input of `dir/target` (`corpus` or `regressions`) through the target's code.
fn replay(dir: &str, target: &str, run: fn(&[u8])) {
    let files = inputs(dir, target);
    assert!(!files.is_empty(), "no {dir} inputs for {target}");
    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).expect("corpus file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    println!("{target}: {} inputs replayed", files.len());
    assert!(failed.is_empty(), "{target} fails on {} of {} inputs:\n{}", failed.len(), files.len(), failed.join("\n"));
}

#[test]
fn decode_corpus() {
    replay("corpus", "decode", zaxos_fuzz_harness::decode);
}

#[test]
fn step_corpus() {
    replay("corpus", "step", zaxos_fuzz_harness::step);
}

#[test]
fn step_message_corpus() {
    replay("corpus", "step_message", zaxos_fuzz_harness::step_message);
}

/// The crashes the step target found (see tests/regressions.rs).
#[test]
fn step_regressions() {
    replay("regressions", "step", zaxos_fuzz_harness::step);
}

/// The crashes the step_message target found, each named after the bug (see tests/regressions.rs).
#[test]
fn step_message_regressions() {
    replay("regressions", "step_message", zaxos_fuzz_harness::step_message);
}
