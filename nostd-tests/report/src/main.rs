//! Host side of `make nostd`.
//!
//! Usage: `zaxos-nostd-report RUNS_DIR TARGET=MACHINE...`
//!
//! Runs the shared scenario natively, then for each target reads the image (ELF section sizes),
//! the memory layout it was linked for (`image/memory/MACHINE.x`) and what its QEMU run printed
//! (`RUNS_DIR/TARGET.log`, exit status in `RUNS_DIR/TARGET.status`). A target passes when its run
//! exited 0, printed `result=ok`, committed the same number of entries with the same log hash as
//! the native run, and fits its flash and RAM. Prints a table, the line
//! `nostd: N passed, N failed`, and last a JSON array with one object per target.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::{env, fs};

use zaxos_nostd_scenario::{Cluster, SEED};

mod elf;

struct Row {
    target: String,
    machine: String,
    ok: bool,
    /// Whether `flash` and `ram` were read from a built image.
    measured: bool,
    flash: u64,
    ram: u64,
    stack: Option<u64>,
    committed: Option<u64>,
    hash: Option<u64>,
    flash_limit: u64,
    ram_limit: u64,
    problems: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: zaxos-nostd-report RUNS_DIR TARGET=MACHINE...");
        return ExitCode::from(2);
    }
    let runs = PathBuf::from(&args[0]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");

    // The reference: the same seeded scenario, run natively.
    let mut cluster = Box::new(Cluster::new());
    let mut progress = String::new();
    let native = cluster.run(SEED, &mut progress);
    let (native_committed, native_hash) = match &native {
        Ok(o) => {
            println!(
                "native: committed={} hash={:016x} epoch={}",
                o.committed, o.hash, o.epoch
            );
            (Some(u64::from(o.committed)), Some(o.hash))
        }
        Err(f) => {
            println!("{progress}");
            println!("native: failure: {f}");
            (None, None)
        }
    };

    let mut rows = Vec::new();
    for spec in &args[1..] {
        let Some((target, machine)) = spec.split_once('=') else {
            eprintln!("bad argument {spec:?}: expected TARGET=MACHINE");
            return ExitCode::from(2);
        };
        rows.push(check(
            &root,
            &runs,
            target,
            machine,
            native_committed,
            native_hash,
        ));
    }

    println!();
    println!(
        "{:<28} {:<11} {:<4} {:>12} {:>12} {:>7} {:>9}  hash",
        "target", "machine", "ok", "flash", "ram", "stack", "committed"
    );
    for r in &rows {
        println!(
            "{:<28} {:<11} {:<4} {:>12} {:>12} {:>7} {:>9}  {}",
            r.target,
            r.machine,
            if r.ok { "ok" } else { "FAIL" },
            format!(
                "{}/{}",
                if r.measured {
                    r.flash.to_string()
                } else {
                    "-".into()
                },
                r.flash_limit
            ),
            format!(
                "{}/{}",
                if r.measured {
                    r.ram.to_string()
                } else {
                    "-".into()
                },
                r.ram_limit
            ),
            opt(r.stack),
            opt(r.committed),
            r.hash.map_or("-".into(), |h| format!("{h:016x}")),
        );
    }
    println!("flash = code, constants, vector table and .data initial values; ram = .data + .bss;");
    println!("stack = deepest use found by painting; limits are those the image is linked for.");
    for r in rows.iter().filter(|r| !r.ok) {
        for p in &r.problems {
            println!("{}: {}", r.target, p);
        }
    }
    if let Some(h) = native_hash {
        println!("native hash {h:016x}; every passing image printed the same");
    }

    let passed = rows.iter().filter(|r| r.ok).count();
    let failed = rows.len() - passed;
    println!("nostd: {passed} passed, {failed} failed");

    let mut json = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            r#"{{"target":"{}","machine":"{}","ok":{},"flash_bytes":{},"ram_bytes":{},"stack_bytes":{},"committed":{}}}"#,
            r.target,
            r.machine,
            r.ok,
            if r.measured { r.flash.to_string() } else { "null".into() },
            if r.measured { r.ram.to_string() } else { "null".into() },
            r.stack.map_or("null".into(), |v| v.to_string()),
            r.committed.map_or("null".into(), |v| v.to_string()),
        )
        .unwrap();
    }
    json.push(']');
    println!("{json}");
    if failed == 0 && native.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn check(
    root: &Path,
    runs: &Path,
    target: &str,
    machine: &str,
    native_committed: Option<u64>,
    native_hash: Option<u64>,
) -> Row {
    let mut problems = Vec::new();
    let (flash_limit, ram_limit) =
        match fs::read_to_string(root.join(format!("image/memory/{machine}.x"))) {
            Ok(text) => (
                region_length(&text, "FLASH").unwrap_or(0),
                region_length(&text, "RAM").unwrap_or(0),
            ),
            Err(e) => {
                problems.push(format!("no memory layout for {machine}: {e}"));
                (0, 0)
            }
        };
    let log = fs::read_to_string(runs.join(format!("{target}.log"))).unwrap_or_default();
    let status = fs::read_to_string(runs.join(format!("{target}.status"))).unwrap_or_default();
    let status = status.trim();
    if status == "build" {
        problems.push("the image did not build".into());
        problems.extend(
            log.lines()
                .filter_map(|l| l.strip_prefix("build: "))
                .map(str::to_string),
        );
        return Row {
            target: target.into(),
            machine: machine.into(),
            ok: false,
            measured: false,
            flash: 0,
            ram: 0,
            stack: None,
            committed: None,
            hash: None,
            flash_limit,
            ram_limit,
            problems,
        };
    }
    let image = root.join(format!("target/{target}/release/zaxos-nostd-image"));
    let mut measured = false;
    let (flash, ram) = match fs::read(&image)
        .map_err(|e| e.to_string())
        .and_then(|b| elf::footprint(&b))
    {
        Ok(f) => {
            measured = true;
            (f.flash, f.ram)
        }
        Err(e) => {
            problems.push(format!("cannot read {}: {e}", image.display()));
            (0, 0)
        }
    };
    match status {
        "0" => {}
        "124" | "137" => problems.push("QEMU run timed out".into()),
        "" => problems.push("not run".into()),
        s => problems.push(format!("run exited with status {s}")),
    }
    let mut committed = None;
    let mut hash = None;
    let mut stack = None;
    let mut result_ok = false;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("committed=") {
            let mut fields = rest.split_whitespace();
            committed = fields.next().and_then(|v| v.parse().ok());
            hash = fields
                .next()
                .and_then(|v| v.strip_prefix("hash="))
                .and_then(|v| u64::from_str_radix(v, 16).ok());
        } else if let Some(rest) = line.strip_prefix("stack=") {
            stack = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        } else if line == "result=ok" {
            result_ok = true;
        } else if line.starts_with("failure")
            || line.starts_with("panicked")
            || line.starts_with("stack overflow")
        {
            problems.push(line.to_string());
        }
    }
    if !result_ok {
        problems.push("the image did not print result=ok".into());
    }
    match (committed, native_committed) {
        (Some(c), Some(n)) if c != n => {
            problems.push(format!("committed {c} entries, natively {n}"))
        }
        (Some(c), _) if c < zaxos_nostd_scenario::COMMITTED_MIN as u64 => {
            problems.push(format!("committed only {c} entries"))
        }
        (None, _) => problems.push("no committed=... line".into()),
        _ => {}
    }
    match (hash, native_hash) {
        (Some(h), Some(n)) if h != n => {
            problems.push(format!("log hash {h:016x}, natively {n:016x}"))
        }
        (_, None) => problems.push("no native hash to compare with".into()),
        _ => {}
    }
    if flash > flash_limit {
        problems.push(format!("flash {flash} exceeds {flash_limit}"));
    }
    if ram + stack.unwrap_or(0) > ram_limit {
        problems.push(format!(
            "ram {ram} + stack {} exceeds {ram_limit}",
            stack.unwrap_or(0)
        ));
    }
    Row {
        target: target.into(),
        machine: machine.into(),
        ok: problems.is_empty(),
        measured,
        flash,
        ram,
        stack,
        committed,
        hash,
        flash_limit,
        ram_limit,
        problems,
    }
}

/// `LENGTH = 64K` of the named region in a `MEMORY { ... }` block.
fn region_length(script: &str, region: &str) -> Option<u64> {
    let line = script
        .lines()
        .find(|l| l.trim_start().starts_with(region) && l.contains("LENGTH"))?;
    let value = line
        .split("LENGTH")
        .nth(1)?
        .trim_start_matches([' ', '='])
        .trim();
    let value = value.trim_end_matches([',', ';']).trim();
    let (digits, scale) = match value.chars().last()? {
        'K' => (&value[..value.len() - 1], 1024),
        'M' => (&value[..value.len() - 1], 1024 * 1024),
        _ => (value, 1),
    };
    let n = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    Some(n * scale)
}
