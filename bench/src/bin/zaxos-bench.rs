//! `zaxos-bench`: throughput, instructions, failover and partial connectivity, for zaxos, raft-rs
//! and OmniPaxos through one harness.
//!
//! ```text
//! zaxos-bench throughput --engine E --nodes N --window W --entries N [--repeat R]
//! zaxos-bench failover [--trials T]
//! zaxos-bench partial
//! zaxos-bench peers     [--entries N] [--repeat R]     W = 64 on 3 nodes; last line JSON
//! zaxos-bench all       [--entries N] [--repeat R] [--no-callgrind] [--no-wasm] [--wasm-kernel F]
//! ```

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
/// The small run whose instruction total is subtracted (start-up, election, settling).
const ENTRIES_SMALL: u64 = 10_000;
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
fn interleaved(nodes: usize, window: usize, entries: u64, repeat: usize) -> BTreeMap<&'static str, (Throughput, u64)> {
    let mut runs: BTreeMap<&'static str, Vec<(Throughput, u64)>> = BTreeMap::new();
    for _ in 0..repeat.max(1) {
        for engine in ENGINES {
            let run = run_in_child(engine, nodes, window, entries).unwrap_or_else(|e| die(&format!("{engine}: {e}")));
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
fn run_in_child(engine: &str, nodes: usize, window: usize, entries: u64) -> Result<(Throughput, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["throughput", "--engine", engine, "--nodes", &nodes.to_string(), "--window", &window.to_string(), "--entries", &entries.to_string()])
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

fn cmd_peers(args: &Args) {
    let entries = args.num("--entries", ENTRIES);
    let repeat = args.num("--repeat", 5);
    let results = interleaved(3, 64, entries, repeat);
    println!("### Throughput, 3 nodes, W = 64, {entries} entries of 16 bytes (median of {repeat})\n");
    let rows: Vec<(Throughput, u64)> = ENGINES.iter().map(|e| results[e].clone()).collect();
    println!("{}", throughput_table(&rows));
    let fields = ENGINES.map(|e| {
        let t = &results[e].0;
        (e, json!({"entries_per_s": round(t.entries_per_s(), 0), "msgs_per_entry": round(t.msgs_per_entry(), 4)}))
    });
    println!("{}", json_line(&fields));
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

/// Instructions per entry by callgrind: (total at `ENTRIES` − total at `ENTRIES_SMALL`) / difference.
fn callgrind_per_entry(engine: &str, nodes: usize, window: usize, entries: u64) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let total = |n: u64| -> Option<u64> {
        let out = std::env::temp_dir().join(format!("zaxos-bench.callgrind.{engine}.{nodes}.{window}.{n}.{}", std::process::id()));
        let status = Command::new("valgrind")
            .args(["--tool=callgrind", "--dump-instr=no", "--compress-strings=no"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .args(["throughput", "--engine", engine, "--nodes", &nodes.to_string(), "--window", &window.to_string(), "--entries", &n.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        let text = std::fs::read_to_string(&out).ok()?;
        let _ = std::fs::remove_file(&out);
        text.lines().find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:"))).and_then(|v| v.trim().parse().ok())
    };
    let small = total(ENTRIES_SMALL)?;
    let big = total(entries)?;
    Some((big.saturating_sub(small)) as f64 / (entries - ENTRIES_SMALL) as f64)
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

/// The same zaxos workload in node: through the npm package (`wasm/pkg`, if built) and as the
/// kernel compiled to plain wasm32 exports (`kernel_wasm`, built by bench.mk), each next to a
/// native run of the same loop measured just before it.
fn wasm_vs_native(entries: u64, repeat: usize, kernel_wasm: Option<&str>) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = |script: &str, target: &std::path::Path| -> Option<Value> {
        let out = Command::new("node").arg(root.join(script)).arg(target).arg(entries.to_string()).arg(repeat.to_string()).output().ok()?;
        if !out.status.success() {
            eprintln!("zaxos-bench: {script}: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
            return None;
        }
        String::from_utf8_lossy(&out.stdout).lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok())
    };
    let native = |_: ()| interleaved_one("zaxos", entries, repeat);
    let mut s = format!("### wasm vs native (zaxos, 3 nodes, W = 64, {entries} entries, median of {repeat})\n\n| build | entries/s | native entries/s (same loop, just before) | ratio to native |\n|---|---:|---:|---:|\n");
    let row = |label: &str, v: Option<Value>, n: f64| match v.and_then(|v| v["entries_per_s"].as_f64()) {
        Some(w) => format!("| {label} | {} | {} | {:.3} |\n", fmt_int(w), fmt_int(n), w / n),
        None => format!("| {label} | failed | {} | – |\n", fmt_int(n)),
    };
    let pkg = root.join("wasm/pkg");
    if pkg.join("index.js").is_file() {
        let n = native(());
        s += &row("npm package `wasm/pkg` in node (JS objects per message, write and commit)", node("bench/wasm/throughput.mjs", &pkg), n);
    } else {
        s += "| npm package `wasm/pkg` | not built (`make wasm`) | | |\n";
    }
    if let Some(path) = kernel_wasm.filter(|p| std::path::Path::new(p).is_file()) {
        let n = native(());
        s += &row("the same Rust loop as plain wasm32 exports, in node", node("bench/wasm/kernel.mjs", std::path::Path::new(path)), n);
    }
    s
}

/// Native zaxos entries/s at W = 64 on 3 nodes, median of `repeat` runs, each in a fresh process.
fn interleaved_one(engine: &str, entries: u64, repeat: usize) -> f64 {
    let mut rates: Vec<f64> = (0..repeat.max(1))
        .map(|_| run_in_child(engine, 3, 64, entries).unwrap_or_else(|e| die(&format!("{engine}: {e}"))).0.entries_per_s())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn cmd_all(args: &Args) {
    let entries = args.num("--entries", ENTRIES);
    let repeat = args.num("--repeat", 3);
    let mut rows = Vec::new();
    let mut peers = BTreeMap::new();
    for nodes in [3, 5] {
        for window in [1, 64, 1024] {
            let results = interleaved(nodes, window, entries, repeat);
            for e in ENGINES {
                rows.push(results[e].clone());
            }
            if nodes == 3 && window == 64 {
                peers = results;
            }
        }
    }
    println!("### Throughput, {entries} entries of 16 bytes (median of {repeat}, each run in a fresh process; peak RSS of the median run's process)\n");
    println!("{}", throughput_table(&rows));

    let mut instr = BTreeMap::new();
    if !args.flag("--no-callgrind") {
        println!("### Instructions per entry (callgrind; (total at {entries} − total at {ENTRIES_SMALL}) / {})\n", entries - ENTRIES_SMALL);
        println!("| engine | 3 nodes, W = 64 | 5 nodes, W = 64 | 3 nodes, W = 1 | 3 nodes, W = 1024 |\n|---|---:|---:|---:|---:|");
        for e in ENGINES {
            let cells: Vec<String> = [(3, 64), (5, 64), (3, 1), (3, 1024)]
                .iter()
                .map(|&(n, w)| {
                    let v = callgrind_per_entry(e, n, w, entries);
                    if (n, w) == (3, 64) {
                        if let Some(v) = v {
                            instr.insert(e, v);
                        }
                    }
                    v.map_or("failed".into(), fmt_int)
                })
                .collect();
            println!("| {e} | {} |", cells.join(" | "));
        }
        println!();
    }

    print!("{}", failover_table(&failover_rows(20)));
    println!();
    print!("{}", partial_table(&partial_rows()));
    println!();
    if !args.flag("--no-wasm") {
        print!("{}", wasm_vs_native(entries, repeat, args.value("--wasm-kernel")));
        println!();
    }

    // The target: at W = 64 on 3 nodes, zaxos ≥ 2× the best peer's entries/s, ≤ ½ its
    // instructions per entry, and no more messages per entry.
    let z = &peers["zaxos"].0;
    let best_rate = ["raft-rs", "omnipaxos"].iter().map(|e| peers[e].0.entries_per_s()).fold(0.0, f64::max);
    let best_instr = ["raft-rs", "omnipaxos"].iter().filter_map(|e| instr.get(e)).copied().fold(f64::INFINITY, f64::min);
    let best_msgs = ["raft-rs", "omnipaxos"].iter().map(|e| peers[e].0.msgs_per_entry()).fold(f64::INFINITY, f64::min);
    println!("### Target (3 nodes, W = 64)\n\n| measure | zaxos | best peer | ratio | target | met |\n|---|---:|---:|---:|---:|---|");
    let rate_ratio = z.entries_per_s() / best_rate;
    println!("| entries/s | {} | {} | {:.2} | ≥ 2 | {} |", fmt_int(z.entries_per_s()), fmt_int(best_rate), rate_ratio, yes(rate_ratio >= 2.0));
    if let Some(zi) = instr.get("zaxos") {
        let r = zi / best_instr;
        println!("| instructions/entry | {} | {} | {:.2} | ≤ 0.5 | {} |", fmt_int(*zi), fmt_int(best_instr), r, yes(r <= 0.5));
    }
    let mr = z.msgs_per_entry() / best_msgs;
    println!("| msgs/entry | {:.5} | {:.5} | {:.4} | ≤ 1 | {} |\n", z.msgs_per_entry(), best_msgs, mr, yes(mr <= 1.0));

    let fields = ENGINES.map(|e| {
        let t = &peers[e].0;
        let mut v = json!({"entries_per_s": round(t.entries_per_s(), 0), "msgs_per_entry": round(t.msgs_per_entry(), 4)});
        if let Some(i) = instr.get(e) {
            v["instructions_per_entry"] = json!(round(*i, 0));
        }
        (e, v)
    });
    println!("{}", json_line(&fields));
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
