//! `zaxos-bench`: throughput, instructions, failover and partial connectivity, for zaxos, raft-rs
//! and OmniPaxos through one harness.
//!
//! ```text
//! zaxos-bench throughput --engine E --nodes N --window W --entries N [--repeat R] [--singly]
//! zaxos-bench failover [--trials T]
//! zaxos-bench partial
//! zaxos-bench peers     [--entries N] [--repeat R] [--no-callgrind] [--jobs J]
//!                       3 nodes, W = 64, batched and singly; last line JSON
//! zaxos-bench all       [--entries N] [--repeat R] [--no-callgrind] [--jobs J] [--no-wasm]
//!                       [--wasm-kernel F] [--wasm-pkg DIR] [--svg F]
//! ```
//!
//! Every engine runs in each of two modes, its best equivalent in each: *batched* (each refill
//! of the window is one batch proposal) and *singly* (one proposal per call). `--jobs` runs that
//! many callgrind processes at a time (instruction counts do not depend on the load).

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{json, Value};
use zaxos_bench::engines::{Omni, RaftRs, Zaxos, ZaxosBytes};
use zaxos_bench::scenario::{self, Partial, Throughput};
use zaxos_bench::{Cluster, Params};

/// `zaxos` passes messages as values (as the peers do); `zaxos-bytes` encodes every message
/// to bytes and decodes it, as on a network, and counts the bytes.
const ENGINES: [&str; 4] = ["zaxos", "zaxos-bytes", "raft-rs", "omnipaxos"];
const ENTRIES: u64 = 100_000;
const ELECTION_TICKS: u32 = 10;
const HEARTBEAT_TICKS: u32 = 2;

struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.iter().position(|a| a == name).and_then(|i| self.0.get(i + 1)).map(String::as_str)
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.value(name) {
            Some(v) => v.parse().unwrap_or_else(|_| die(&format!("bad value for {name}: {v}"))),
            None => default,
        }
    }
    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

fn die(msg: &str) -> ! {
    eprintln!("zaxos-bench: {msg}");
    std::process::exit(2)
}

fn main() {
    let args = Args(std::env::args().skip(1).collect());
    match args.0.first().map(String::as_str) {
        Some("throughput") => cmd_throughput(&args),
        Some("failover") => {
            let rows = failover_rows(args.num("--trials", 20));
            print!("{}", failover_table(&rows));
        }
        Some("partial") => {
            let rows = partial_rows();
            print!("{}", partial_table(&rows));
        }
        Some("peers") => cmd_peers(&args),
        Some("all") => cmd_all(&args),
        _ => die("usage: zaxos-bench throughput|failover|partial|peers|all [options]"),
    }
}

fn run(engine: &str, params: &Params) -> Throughput {
    let result = match engine {
        "zaxos" => scenario::throughput::<Zaxos>(params),
        "zaxos-bytes" => scenario::throughput::<ZaxosBytes>(params),
        "raft-rs" => scenario::throughput::<RaftRs>(params),
        "omnipaxos" => scenario::throughput::<Omni>(params),
        other => die(&format!("unknown engine {other}")),
    };
    result.unwrap_or_else(|e| {
        eprintln!("zaxos-bench: FAILED: {}", e.0);
        std::process::exit(1)
    })
}

/// Peak resident set of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `repeat` times and keeps the median time; prints one JSON line.
fn cmd_throughput(args: &Args) {
    let engine = args.value("--engine").unwrap_or_else(|| die("--engine E"));
    let nodes = args.num("--nodes", 3);
    let window = args.num("--window", 64);
    let entries = args.num("--entries", ENTRIES);
    let repeat = args.num("--repeat", 1usize).max(1);
    let params = Params { singly: args.flag("--singly"), ..Params::throughput(nodes, entries, window) };
    let mut runs: Vec<Throughput> = (0..repeat).map(|_| run(engine, &params)).collect();
    runs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let t = &runs[runs.len() / 2];
    println!("{}", throughput_json(t, peak_rss_kib()));
}

fn throughput_json(t: &Throughput, rss: u64) -> Value {
    json!({
        "engine": t.engine, "nodes": t.nodes, "window": t.window, "entries": t.entries,
        "secs": t.secs, "entries_per_s": t.entries_per_s(), "messages": t.messages,
        "msgs_per_entry": t.msgs_per_entry(), "bytes": t.bytes,
        "bytes_per_entry": if t.bytes > 0 { json!(t.bytes as f64 / t.entries as f64) } else { Value::Null },
        "rounds": t.rounds, "peak_rss_kib": rss, "agreed": true,
    })
}

/// Runs the engines in turn, `repeat` rounds interleaved, each run in a fresh process; the
/// median per engine, with the peak RSS of the process that ran it.
///
/// A fresh process per run puts every engine on the same footing: in one process, a run would
/// inherit the heap an earlier run (of any engine) grew and freed, and the allocator decides,
/// by sizes, whether that memory is handed out again (no page faults) or back to the system
/// (a page fault per page on first touch), which moves a run's time by a third.
fn interleaved(mode: Mode, nodes: usize, window: usize, entries: u64, repeat: usize) -> BTreeMap<&'static str, (Throughput, u64)> {
    let mut runs: BTreeMap<&'static str, Vec<(Throughput, u64)>> = BTreeMap::new();
    for _ in 0..repeat.max(1) {
        for engine in ENGINES {
            let run = run_in_child(engine, mode, nodes, window, entries).unwrap_or_else(|e| die(&format!("{engine}: {e}")));
            runs.entry(engine).or_default().push(run);
        }
    }
    runs.into_iter()
        .map(|(k, mut v)| {
            v.sort_by(|a, b| a.0.secs.total_cmp(&b.0.secs));
            let mid = v.len() / 2;
            (k, v.swap_remove(mid))
        })
        .collect()
}

/// One throughput run in a fresh process of this binary: the run and that process's peak RSS.
fn run_in_child(engine: &str, mode: Mode, nodes: usize, window: usize, entries: u64) -> Result<(Throughput, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["throughput", "--engine", engine, "--nodes", &nodes.to_string(), "--window", &window.to_string(), "--entries", &entries.to_string()])
        .args(mode.args())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let v: Value = serde_json::from_slice(out.stdout.trim_ascii()).map_err(|e| format!("unreadable result: {e}"))?;
    let name = ENGINES.into_iter().find(|e| v["engine"] == *e).ok_or("unknown engine in result")?;
    let num = |k: &str| v[k].as_u64().ok_or(format!("no {k} in result"));
    let t = Throughput {
        engine: name,
        nodes,
        window,
        entries: num("entries")?,
        secs: v["secs"].as_f64().ok_or("no secs in result")?,
        messages: num("messages")?,
        bytes: num("bytes")?,
        rounds: num("rounds")?,
    };
    Ok((t, num("peak_rss_kib")?))
}

/// How proposals reach each engine's leader. Each engine runs in its best equivalent mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Mode {
    /// Each refill of the window is one batch proposal: zaxos `propose_batch`, raft-rs one
    /// `MsgPropose` carrying every entry, OmniPaxos one `ProposalForward` through `handle_incoming`.
    Batched,
    /// One proposal per call: zaxos `propose`, raft-rs `RawNode::propose`, OmniPaxos `append`.
    Singly,
}

impl Mode {
    const ALL: [Mode; 2] = [Mode::Batched, Mode::Singly];

    fn name(self) -> &'static str {
        match self {
            Mode::Batched => "batched",
            Mode::Singly => "singly",
        }
    }

    fn how(self) -> &'static str {
        match self {
            Mode::Batched => "each refill of the window is one batch proposal: zaxos `propose_batch`, raft-rs one `MsgPropose` with every entry, OmniPaxos one `ProposalForward` through `handle_incoming`",
            Mode::Singly => "one proposal per call: zaxos `propose`, raft-rs `RawNode::propose`, OmniPaxos `append`",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Batched => &[],
            Mode::Singly => &["--singly"],
        }
    }
}

/// The cluster shapes every mode is measured at: (nodes, W).
const SHAPES: [(usize, usize); 6] = [(3, 1), (3, 64), (3, 1024), (5, 1), (5, 64), (5, 1024)];
/// The shape of `bench-peers` and of most targets.
const MAIN: (usize, usize) = (3, 64);

/// Instructions per entry by (mode, nodes, W, engine).
type Instr = BTreeMap<(Mode, usize, usize, &'static str), f64>;
/// Throughput runs (median, with its peak RSS in KiB) by (mode, nodes, W), then engine.
type Runs = BTreeMap<(Mode, usize, usize), BTreeMap<&'static str, (Throughput, u64)>>;

fn cmd_peers(args: &Args) {
    let entries = args.num("--entries", ENTRIES);
    let repeat = args.num("--repeat", 5);
    let (nodes, window) = MAIN;
    let mut results = BTreeMap::new();
    for mode in Mode::ALL {
        let r = interleaved(mode, nodes, window, entries, repeat);
        println!("### Throughput, {}, {nodes} nodes, W = {window}, {entries} entries of 16 bytes (median of {repeat})\n", mode.name());
        println!("Mode: {}.\n", mode.how());
        let rows: Vec<(Throughput, u64)> = ENGINES.iter().map(|e| r[e].clone()).collect();
        println!("{}", throughput_table(&rows));
        results.insert(mode, r);
    }
    let instr = if args.flag("--no-callgrind") {
        Instr::new()
    } else {
        let jobs: Vec<_> = Mode::ALL.iter().flat_map(|&m| ENGINES.map(|e| (m, nodes, window, e))).collect();
        let instr = callgrind_many(&jobs, entries, args.num("--jobs", 2));
        println!("### Instructions per entry, {nodes} nodes, W = {window} (callgrind)\n");
        println!("| engine | batched | singly |\n|---|---:|---:|");
        for e in ENGINES {
            let cell = |m: Mode| instr.get(&(m, nodes, window, e)).map_or("failed".into(), |v| fmt_int(*v));
            println!("| {e} | {} | {} |", cell(Mode::Batched), cell(Mode::Singly));
        }
        println!();
        instr
    };
    println!("{}", json_line(&engines_json(&results, &instr)));
}

/// Each engine's entries/s, messages/entry and instructions/entry per mode at 3 nodes, W = 64.
fn engines_json(results: &BTreeMap<Mode, BTreeMap<&'static str, (Throughput, u64)>>, instr: &Instr) -> Vec<(&'static str, Value)> {
    let (nodes, window) = MAIN;
    ENGINES
        .iter()
        .map(|&e| {
            let mut per_mode = serde_json::Map::new();
            for (mode, r) in results {
                let t = &r[e].0;
                let mut v = json!({"entries_per_s": round(t.entries_per_s(), 0), "msgs_per_entry": round(t.msgs_per_entry(), 4)});
                v["instructions_per_entry"] = instr.get(&(*mode, nodes, window, e)).map_or(Value::Null, |i| json!(round(*i, 0)));
                per_mode.insert(mode.name().into(), v);
            }
            (e, Value::Object(per_mode))
        })
        .collect()
}

/// One JSON object with the engines in the order given (serde_json's map would sort them).
fn json_line(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{}", Value::from(*k), v)).collect();
    format!("{{{}}}", body.join(","))
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn fmt_int(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn throughput_table(rows: &[(Throughput, u64)]) -> String {
    let mut s = String::from("| engine | nodes | W | entries/s | msgs/entry | bytes/entry | peak RSS (MiB) |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (t, rss_kib) in rows {
        let bytes = if t.bytes > 0 { format!("{:.1}", t.bytes as f64 / t.entries as f64) } else { "n/a".into() };
        let mem = format!("{:.1}", *rss_kib as f64 / 1024.0);
        s += &format!("| {} | {} | {} | {} | {:.4} | {} | {} |\n", t.engine, t.nodes, t.window, fmt_int(t.entries_per_s()), t.msgs_per_entry(), bytes, mem);
    }
    s
}

/// The two run lengths whose instruction totals are subtracted: (N, N / 10). At W = 1 a fifth
/// of N: each entry there costs a whole round trip, so the difference is as steady with fewer
/// entries, and raft-rs at W = 1 would otherwise take minutes under callgrind.
fn callgrind_lengths(window: usize, entries: u64) -> (u64, u64) {
    let big = if window == 1 { (entries / 5).max(2_000) } else { entries };
    (big, big / 10)
}

/// The instruction total of one throughput run under callgrind.
fn callgrind_total(engine: &str, mode: Mode, nodes: usize, window: usize, entries: u64) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("zaxos-bench.callgrind.{engine}.{}.{nodes}.{window}.{entries}.{}", mode.name(), std::process::id()));
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--dump-instr=no", "--compress-strings=no"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["throughput", "--engine", engine, "--nodes", &nodes.to_string(), "--window", &window.to_string(), "--entries", &entries.to_string()])
        .args(mode.args())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    text?.lines().find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:"))).and_then(|v| v.trim().parse().ok())
}

/// Instructions per entry for each job, by callgrind: (total at N − total at N / 10) / (N − N / 10),
/// with `callgrind_lengths`. Runs `threads` valgrind processes at a time (counts do not depend on
/// what else runs).
fn callgrind_many(jobs: &[(Mode, usize, usize, &'static str)], entries: u64, threads: usize) -> Instr {
    let runs: Vec<(usize, u64)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, &(_, _, w, _))| {
            let (big, small) = callgrind_lengths(w, entries);
            [(j, big), (j, small)]
        })
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let totals = std::sync::Mutex::new(BTreeMap::<(usize, u64), u64>::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(j, n)) = runs.get(k) else { break };
                let (mode, nodes, window, engine) = jobs[j];
                if let Some(t) = callgrind_total(engine, mode, nodes, window, n) {
                    totals.lock().expect("no panics while held").insert((j, n), t);
                }
            });
        }
    });
    let totals = totals.into_inner().expect("no panics while held");
    jobs.iter()
        .enumerate()
        .filter_map(|(j, &(mode, nodes, window, engine))| {
            let (big, small) = callgrind_lengths(window, entries);
            let (b, s) = (totals.get(&(j, big))?, totals.get(&(j, small))?);
            Some(((mode, nodes, window, engine), b.saturating_sub(*s) as f64 / (big - small) as f64))
        })
        .collect()
}

struct FailoverRow {
    engine: &'static str,
    ticks: Vec<u64>,
    failed: usize,
    disagreed: usize,
}

fn failover_for<C: Cluster>(trials: u64) -> FailoverRow {
    let mut row = FailoverRow { engine: C::NAME, ticks: Vec::new(), failed: 0, disagreed: 0 };
    for seed in 1..=trials {
        let params = Params { nodes: 3, entries: 1000, window: 1, seed, election_ticks: ELECTION_TICKS, heartbeat_ticks: HEARTBEAT_TICKS, keep_logs: true, singly: false };
        match scenario::failover::<C>(&params, 500) {
            Ok(f) => {
                match f.ticks {
                    Some(t) => row.ticks.push(t),
                    None => row.failed += 1,
                }
                row.disagreed += usize::from(!f.agree);
            }
            Err(_) => row.failed += 1,
        }
    }
    row.ticks.sort_unstable();
    row
}

fn failover_rows(trials: u64) -> Vec<FailoverRow> {
    vec![failover_for::<Zaxos>(trials), failover_for::<RaftRs>(trials), failover_for::<Omni>(trials)]
}

fn failover_table(rows: &[FailoverRow]) -> String {
    let mut s = format!(
        "### Failover, 3 nodes: ticks from leader crash to the first commit in the new epoch/term (election timeout {ELECTION_TICKS} ticks, heartbeat {HEARTBEAT_TICKS})\n\n| engine | trials | min | median | max | no recovery in 500 ticks | logs disagree |\n|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let q = |f: f64| r.ticks.get(((r.ticks.len() as f64 - 1.0) * f).round() as usize).map_or("–".into(), |t| t.to_string());
        s += &format!("| {} | {} | {} | {} | {} | {} | {} |\n", r.engine, r.ticks.len() + r.failed, q(0.0), q(0.5), q(1.0), r.failed, r.disagreed);
    }
    s
}

struct PartialRow {
    engine: &'static str,
    scenario: Partial,
    outcome: Result<scenario::PartialOutcome, String>,
}

const PARTIAL_TICKS: u64 = 1000;

fn partial_for<C: Cluster>(rows: &mut Vec<PartialRow>) {
    for s in Partial::ALL {
        let params = Params { nodes: s.nodes(), entries: 10_000, window: 1, seed: 3, election_ticks: ELECTION_TICKS, heartbeat_ticks: HEARTBEAT_TICKS, keep_logs: true, singly: false };
        let outcome = scenario::partial::<C>(s, &params, PARTIAL_TICKS).map_err(|e| e.0);
        rows.push(PartialRow { engine: C::NAME, scenario: s, outcome });
    }
}

fn partial_rows() -> Vec<PartialRow> {
    let mut rows = Vec::new();
    partial_for::<Zaxos>(&mut rows);
    partial_for::<RaftRs>(&mut rows);
    partial_for::<Omni>(&mut rows);
    rows
}

fn partial_table(rows: &[PartialRow]) -> String {
    let mut s = format!(
        "### Partial connectivity ({PARTIAL_TICKS} ticks after the partition, one proposal per tick at whoever leads)\n\n| scenario | engine | recovered | ticks to first commit | entries committed | leader changes | logs agree |\n|---|---|---|---:|---:|---:|---|\n"
    );
    for r in rows {
        match &r.outcome {
            Ok(o) => {
                let recovered = if o.first_commit_ticks.is_some() { "yes" } else { "no" };
                let first = o.first_commit_ticks.map_or("–".into(), |t| t.to_string());
                s += &format!("| {} | {} | {} | {} | {} | {} | {} |\n", r.scenario.name(), r.engine, recovered, first, o.committed, o.leader_changes, if o.agree { "yes" } else { "NO" });
            }
            Err(e) => s += &format!("| {} | {} | error: {} | | | | |\n", r.scenario.name(), r.engine, e),
        }
    }
    s
}

/// The same zaxos workload in node: through the npm package (`wasm/pkg`, if built), with its
/// object methods and with its packed methods, and as the kernel compiled to plain wasm32
/// exports (`kernel_wasm`, built by bench.mk), each next to a native run of the same loop
/// (same messages, same proposal mode) measured just before it.
/// Returns the table and the packed package's (entries/s, native bytes entries/s, native values entries/s).
fn wasm_vs_native(entries: u64, repeat: usize, kernel_wasm: Option<&str>, pkg: Option<&str>) -> (String, Option<(f64, f64, f64)>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = |script: &str, target: &std::path::Path| -> Option<f64> {
        let out = Command::new("node").arg(root.join(script)).arg(target).arg(entries.to_string()).arg(repeat.to_string()).output().ok()?;
        if !out.status.success() {
            eprintln!("zaxos-bench: {script}: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
            return None;
        }
        let line = String::from_utf8_lossy(&out.stdout).lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok())?;
        line["entries_per_s"].as_f64()
    };
    let mut s = format!("### wasm vs native (zaxos, 3 nodes, W = 64, {entries} entries, median of {repeat})\n\n| build | entries/s | native counterpart (same loop, just before) | native entries/s | ratio to native |\n|---|---:|---|---:|---:|\n");
    let row = |label: &str, v: Option<f64>, native: &str, n: f64| match v {
        Some(w) => format!("| {label} | {} | {native} | {} | {:.3} |\n", fmt_int(w), fmt_int(n), w / n),
        None => format!("| {label} | failed | {native} | {} | – |\n", fmt_int(n)),
    };
    let mut packed = None;
    let pkg = pkg.map_or_else(|| root.join("wasm/pkg"), std::path::PathBuf::from);
    if pkg.join("index.js").is_file() {
        let n = interleaved_one("zaxos-bytes", Mode::Singly, entries, repeat);
        s += &row("npm package in node, object methods (`propose`, `takeMessages`, …: JS objects per message, write and entry)", node("bench/wasm/throughput.mjs", &pkg), "zaxos-bytes, singly", n);
        let n = interleaved_one("zaxos-bytes", Mode::Batched, entries, repeat);
        let v = interleaved_one("zaxos", Mode::Batched, entries, repeat);
        let js = node("bench/wasm/packed.mjs", &pkg);
        s += &row("npm package in node, packed methods (`proposePacked`, `takeMessagesPacked`, …: one `Uint8Array` per drain)", js, "zaxos-bytes, batched", n);
        packed = js.map(|js| (js, n, v));
    } else {
        s += &format!("| npm package `{}` | not built | | | |\n", pkg.display());
    }
    if let Some(path) = kernel_wasm.filter(|p| std::path::Path::new(p).is_file()) {
        let n = interleaved_one("zaxos", Mode::Batched, entries, repeat);
        s += &row("the harness's Rust loop as plain wasm32 exports, in node (no bindings)", node("bench/wasm/kernel.mjs", std::path::Path::new(path)), "zaxos, batched", n);
    }
    (s, packed)
}

/// Native entries/s at W = 64 on 3 nodes, median of `repeat` runs, each in a fresh process.
fn interleaved_one(engine: &str, mode: Mode, entries: u64, repeat: usize) -> f64 {
    let mut rates: Vec<f64> = (0..repeat.max(1))
        .map(|_| run_in_child(engine, mode, 3, 64, entries).unwrap_or_else(|e| die(&format!("{engine}: {e}"))).0.entries_per_s())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// One row of the target table.
struct Target {
    measure: &'static str,
    mode: String,
    zaxos: String,
    peer: String,
    ratio: Option<f64>,
    goal: &'static str,
    met: Option<bool>,
}

impl Target {
    fn json(&self) -> Value {
        json!({"measure": self.measure, "mode": self.mode, "ratio": self.ratio.map(|r| round(r, 3)), "goal": self.goal, "met": self.met})
    }
}

/// The goals of DESIGN §8: at most half the best peer's instructions per entry in every mode,
/// the bytes path within 1.5× of the values path, the JS API at a quarter of native or better.
/// Entries/s ratios come from the same run and carry no goal.
fn targets(instr: &Instr, tput: &Runs, js: Option<(f64, f64, f64)>) -> Vec<Target> {
    let mut rows = Vec::new();
    let best_peer = |key: (Mode, usize, usize)| -> Option<(f64, &'static str)> {
        ["raft-rs", "omnipaxos"].iter().filter_map(|&e| instr.get(&(key.0, key.1, key.2, e)).map(|v| (*v, e))).min_by(|a, b| a.0.total_cmp(&b.0))
    };
    let instr_rows = [
        ((Mode::Batched, 3, 64), "batched, 3 nodes, W = 64"),
        ((Mode::Singly, 3, 64), "singly, 3 nodes, W = 64"),
        ((Mode::Batched, 3, 1), "one in flight: batched, 3 nodes, W = 1"),
        ((Mode::Singly, 3, 1), "one in flight: singly, 3 nodes, W = 1"),
        ((Mode::Batched, 5, 64), "5 nodes: batched, W = 64"),
        ((Mode::Singly, 5, 64), "5 nodes: singly, W = 64"),
        ((Mode::Batched, 3, 1024), "batched, 3 nodes, W = 1024"),
    ];
    for (key, label) in instr_rows {
        let (Some(z), Some((p, name))) = (instr.get(&(key.0, key.1, key.2, "zaxos")), best_peer(key)) else { continue };
        let r = z / p;
        rows.push(Target { measure: "instructions/entry", mode: label.into(), zaxos: fmt_int(*z), peer: format!("{} ({name})", fmt_int(p)), ratio: Some(r), goal: "≤ 0.5", met: Some(r <= 0.5) });
    }
    if let (Some(b), Some(v)) = (instr.get(&(Mode::Batched, 3, 64, "zaxos-bytes")), instr.get(&(Mode::Batched, 3, 64, "zaxos"))) {
        let r = b / v;
        rows.push(Target { measure: "bytes path / values path, instructions/entry", mode: "batched, 3 nodes, W = 64".into(), zaxos: fmt_int(*b), peer: format!("{} (zaxos values)", fmt_int(*v)), ratio: Some(r), goal: "≤ 1.5", met: Some(r <= 1.5) });
    }
    if let Some((js, bytes, values)) = js {
        for (native, name) in [(bytes, "native zaxos-bytes"), (values, "native zaxos")] {
            let r = js / native;
            rows.push(Target { measure: "JS API / native, entries/s", mode: "packed methods in node, batched, 3 nodes, W = 64".into(), zaxos: fmt_int(js), peer: format!("{} ({name})", fmt_int(native)), ratio: Some(r), goal: "≥ 0.25", met: Some(r >= 0.25) });
        }
    }
    for mode in Mode::ALL {
        let Some(r) = tput.get(&(mode, MAIN.0, MAIN.1)) else { continue };
        let z = r["zaxos"].0.entries_per_s();
        let (p, name) = ["raft-rs", "omnipaxos"].iter().map(|&e| (r[e].0.entries_per_s(), e)).max_by(|a, b| a.0.total_cmp(&b.0)).expect("two peers");
        rows.push(Target { measure: "entries/s (same run)", mode: format!("{}, 3 nodes, W = 64", mode.name()), zaxos: fmt_int(z), peer: format!("{} ({name})", fmt_int(p)), ratio: Some(z / p), goal: "–", met: None });
    }
    rows
}

fn target_table(rows: &[Target]) -> String {
    let mut s = String::from("| measure | mode | zaxos | best peer | ratio | goal | met |\n|---|---|---:|---:|---:|---|---|\n");
    for t in rows {
        let ratio = t.ratio.map_or("–".into(), |r| format!("{r:.2}"));
        let met = t.met.map_or("–", yes);
        s += &format!("| {} | {} | {} | {} | {} | {} | {} |\n", t.measure, t.mode, t.zaxos, t.peer, ratio, t.goal, met);
    }
    s
}

/// Instructions per entry as grouped bars, one group per (mode, nodes, W), one bar per engine;
/// a logarithmic axis, since the engines span two orders of magnitude.
fn instructions_svg(instr: &Instr) -> String {
    const COLORS: [&str; 4] = ["#1f77b4", "#9ecae1", "#d62728", "#2ca02c"];
    let (bar, gap, left, top, height) = (14.0, 18.0, 64.0, 60.0, 300.0);
    let groups: Vec<(Mode, usize, usize)> = Mode::ALL.iter().flat_map(|&m| SHAPES.map(|(n, w)| (m, n, w))).collect();
    let group_w = bar * ENGINES.len() as f64 + gap;
    let width = left + group_w * groups.len() as f64 + 20.0;
    let total_h = top + height + 90.0;
    let (lo, hi) = (100f64.log10(), 100_000f64.log10());
    let y = |v: f64| top + height * (1.0 - ((v.max(100.0).log10() - lo) / (hi - lo)));
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{total_h:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"18\" font-size=\"14\">Instructions per committed entry (callgrind, whole cluster; log scale; lower is better)</text>\n"
    );
    for decade in [100.0, 1_000.0, 10_000.0, 100_000.0] {
        let yy = y(decade);
        s += &format!(
            "<line x1=\"{left}\" x2=\"{:.0}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            width - 20.0,
            left - 6.0,
            yy + 4.0,
            fmt_int(decade)
        );
    }
    for (g, &(mode, nodes, window)) in groups.iter().enumerate() {
        let x0 = left + gap / 2.0 + group_w * g as f64;
        for (k, e) in ENGINES.iter().enumerate() {
            let Some(&v) = instr.get(&(mode, nodes, window, *e)) else { continue };
            let (x, yy) = (x0 + bar * k as f64, y(v));
            s += &format!(
                "<rect x=\"{x:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{e}, {}, {nodes} nodes, W = {window}: {}</title></rect>\n",
                bar - 1.0,
                top + height - yy,
                COLORS[k],
                mode.name(),
                fmt_int(v)
            );
            s += &format!(
                "<text transform=\"translate({:.1},{:.1}) rotate(-90)\" font-size=\"9\">{}</text>\n",
                x + bar / 2.0 + 3.0,
                yy - 3.0,
                fmt_int(v)
            );
        }
        let cx = x0 + bar * ENGINES.len() as f64 / 2.0;
        s += &format!("<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{nodes} n, W {window}</text>\n", top + height + 16.0);
        if g % SHAPES.len() == 0 {
            let mid = x0 + group_w * SHAPES.len() as f64 / 2.0 - gap / 2.0;
            s += &format!("<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n", top + height + 36.0, mode.name());
        }
    }
    let mut lx = left;
    for (k, e) in ENGINES.iter().enumerate() {
        s += &format!("<rect x=\"{lx:.0}\" y=\"{:.0}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.0}\" y=\"{:.0}\">{e}</text>\n", total_h - 30.0, COLORS[k], lx + 16.0, total_h - 20.0);
        lx += 120.0;
    }
    s += "</svg>\n";
    s
}

fn cmd_all(args: &Args) {
    let entries = args.num("--entries", ENTRIES);
    let repeat = args.num("--repeat", 3);
    let mut tput = BTreeMap::new();
    for mode in Mode::ALL {
        let mut rows = Vec::new();
        for (nodes, window) in SHAPES {
            let results = interleaved(mode, nodes, window, entries, repeat);
            rows.extend(ENGINES.iter().map(|e| results[e].clone()));
            tput.insert((mode, nodes, window), results);
        }
        println!("### Throughput, {}, {entries} entries of 16 bytes (median of {repeat}, each run in a fresh process; peak RSS of the median run's process)\n", mode.name());
        println!("Mode: {}.\n", mode.how());
        println!("{}", throughput_table(&rows));
    }

    let mut instr = Instr::new();
    if !args.flag("--no-callgrind") {
        let jobs: Vec<_> = Mode::ALL.iter().flat_map(|&m| SHAPES.iter().flat_map(move |&(n, w)| ENGINES.map(|e| (m, n, w, e)))).collect();
        instr = callgrind_many(&jobs, entries, args.num("--jobs", 2));
        let (b1, _) = callgrind_lengths(1, entries);
        let (b, _) = callgrind_lengths(64, entries);
        for mode in Mode::ALL {
            println!("### Instructions per entry, {} (callgrind; (total at N − total at N/10) / (0.9 N), N = {b}, {b1} at W = 1)\n", mode.name());
            let head: Vec<String> = SHAPES.iter().map(|(n, w)| format!("{n} nodes, W = {w}")).collect();
            println!("| engine | {} |\n|---|{}", head.join(" | "), "---:|".repeat(SHAPES.len()));
            for e in ENGINES {
                let cells: Vec<String> = SHAPES.iter().map(|&(n, w)| instr.get(&(mode, n, w, e)).map_or("failed".into(), |v| fmt_int(*v))).collect();
                println!("| {e} | {} |", cells.join(" | "));
            }
            println!();
        }
        if let Some(path) = args.value("--svg") {
            match std::fs::write(path, instructions_svg(&instr)) {
                Ok(()) => println!("Chart of these figures: `{path}`.\n"),
                Err(e) => eprintln!("zaxos-bench: cannot write {path}: {e}"),
            }
        }
    }

    print!("{}", failover_table(&failover_rows(20)));
    println!();
    print!("{}", partial_table(&partial_rows()));
    println!();
    let mut js = None;
    if !args.flag("--no-wasm") {
        let (table, npm) = wasm_vs_native(entries, repeat, args.value("--wasm-kernel"), args.value("--wasm-pkg"));
        print!("{table}");
        println!();
        js = npm;
    }

    let rows = targets(&instr, &tput, js);
    println!("### Target (DESIGN §8)\n\n{}", target_table(&rows));

    let results: BTreeMap<Mode, _> = Mode::ALL.iter().filter_map(|&m| tput.get(&(m, MAIN.0, MAIN.1)).map(|r| (m, r.clone()))).collect();
    let mut fields = engines_json(&results, &instr);
    fields.push(("target", Value::Array(rows.iter().map(Target::json).collect())));
    println!("{}", json_line(&fields));
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
