//! `zaxos-tree replay`: JSON-lines operations on stdin, outcomes on stdout.
//! `zaxos-tree check FILE...`: replay recorded traces and compare with their `"expect"`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use zaxos_tree::replay::{check_trace, Replayer};
use zaxos_tree::Config;

const USAGE: &str = "usage: zaxos-tree replay [--epoch N]   (JSON lines on stdin, outcomes on stdout)\n       zaxos-tree check TRACE.jsonl...";

/// Answers every line as soon as it is read (flushed), so a caller can drive it in lockstep:
/// write one operation, read one outcome.
fn replay(epoch: u32) -> ExitCode {
    let mut r = Replayer::new(Config::default(), epoch);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return ExitCode::FAILURE };
        if line.trim().is_empty() {
            continue;
        }
        let value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                r.malformed_lines += 1;
                serde_json::json!({ "zxid": r.tree().last_zxid(), "result": { "err": "Malformed", "detail": e.to_string() }, "events": [] })
            }
        };
        let output = if value.get("result").is_some() && value.get("op").is_none() { Some(value) } else { r.step(&value) };
        if let Some(o) = output {
            if writeln!(out, "{o}").and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn check(files: &[String]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match check_into(files, &mut out) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // The reader went away (`| head`): nobody is left to tell.
        Err(_) => ExitCode::FAILURE,
    }
}

/// Checks every trace, reporting to `out`; whether all passed, or why `out` could not be written.
fn check_into(files: &[String], out: &mut impl Write) -> std::io::Result<bool> {
    let (mut passed, mut failed, mut ops) = (0, 0, 0);
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{f}: {e}");
                failed += 1;
                continue;
            }
        };
        match check_trace(&text) {
            Ok((n, mismatches)) if mismatches.is_empty() => {
                passed += 1;
                ops += n;
                writeln!(out, "ok   {f}: {n} operations")?;
            }
            Ok((n, mismatches)) => {
                failed += 1;
                ops += n;
                writeln!(out, "FAIL {f}: {} of {n} operations differ", mismatches.len())?;
                if let Some(m) = mismatches.first() {
                    writeln!(out, "  line {}: {}\n  expected {}\n  actual   {}", m.line, m.op, m.expected, m.actual)?;
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(out, "FAIL {f}: {e}")?;
            }
        }
    }
    writeln!(out, "traces: {passed} passed, {failed} failed, {ops} operations checked")?;
    Ok(failed == 0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("replay") => {
            let epoch = match args.get(1).map(String::as_str) {
                None => 0,
                Some("--epoch") => match args.get(2).and_then(|e| e.parse().ok()) {
                    Some(e) => e,
                    None => {
                        eprintln!("{USAGE}");
                        return ExitCode::from(2);
                    }
                },
                Some(_) => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            };
            replay(epoch)
        }
        Some("check") if args.len() > 1 => check(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
