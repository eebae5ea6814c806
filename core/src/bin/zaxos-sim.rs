//! Runs the deterministic simulator over many seeds; the last line is one JSON object.
//!
//! ```text
//! zaxos-sim --seeds 300 --ticks 20000          # seeds 0..300
//! zaxos-sim --seed 17 --ticks 20000 --trace    # replay one seed, with a readable trace
//! zaxos-sim --seeds 100 --batch-proposals      # half the proposals in batches
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use zaxos::sim::{FaultCounts, Options, Report, Simulation};

struct Args {
    seeds: u64,
    start: u64,
    ticks: u64,
    one: Option<u64>,
    trace: bool,
    voters: usize,
    observers: usize,
    compact_every: u64,
    jobs: u64,
    batch_proposals: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args { seeds: 100, start: 0, ticks: 20_000, one: None, trace: false, voters: 0, observers: 0, compact_every: 0, jobs: 2, batch_proposals: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number"))
        };
        match flag.as_str() {
            "--seeds" => args.seeds = value("--seeds")?,
            "--start" => args.start = value("--start")?,
            "--ticks" => args.ticks = value("--ticks")?,
            "--seed" => args.one = Some(value("--seed")?),
            "--voters" => args.voters = value("--voters")? as usize,
            "--observers" => args.observers = value("--observers")? as usize,
            "--compact-every" => args.compact_every = value("--compact-every")?,
            "--jobs" => args.jobs = value("--jobs")?.max(1),
            "--trace" => args.trace = true,
            "--batch-proposals" => args.batch_proposals = true,
            "-h" | "--help" => return Err(String::from("usage: zaxos-sim [--seeds N] [--start S] [--ticks T] [--seed S --trace] [--voters V] [--observers O] [--compact-every N] [--jobs J] [--batch-proposals]")),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn options(args: &Args, seed: u64) -> Options {
    let mut options = Options::for_seed(seed, args.ticks);
    if args.compact_every > 0 {
        options.compact_every = args.compact_every;
    }
    Options { voters: args.voters, observers: args.observers, trace: args.trace, batch_proposals: args.batch_proposals, ..options }
}

fn replay(args: &Args, seed: u64) -> String {
    let mut extra = String::new();
    for (flag, value) in [("--voters", args.voters as u64), ("--observers", args.observers as u64), ("--compact-every", args.compact_every)] {
        if value > 0 {
            extra.push_str(&format!(" {flag} {value}"));
        }
    }
    if args.batch_proposals {
        extra.push_str(" --batch-proposals");
    }
    format!("cargo run --release -p zaxos --features sim --bin zaxos-sim -- --seed {seed} --ticks {}{extra} --trace", args.ticks)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seeds: Vec<u64> = match args.one {
        Some(s) => vec![s],
        None => (args.start..args.start + args.seeds).collect(),
    };
    let reports = Mutex::new(Vec::new());
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.min(seeds.len() as u64) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = seeds.get(k) else { break };
                let mut sim = Simulation::new(options(&args, seed));
                let report = sim.run();
                if args.trace {
                    for line in sim.take_trace() {
                        println!("{line}");
                    }
                }
                if let Ok(mut all) = reports.lock() {
                    all.push(report);
                }
            });
        }
    });
    let mut reports = reports.into_inner().unwrap_or_default();
    reports.sort_by_key(|r| r.seed);
    summarize(&args, &reports)
}

fn summarize(args: &Args, reports: &[Report]) -> ExitCode {
    let mut faults = FaultCounts::default();
    let (mut violations, mut liveness, mut elections, mut committed, mut messages, mut worst_recovery) = (0, 0, 0, 0, 0, 0);
    let mut failed_seeds = 0;
    let (mut linearizable_reads, mut sync_reads, mut transfers, mut reconfigs) = (0, 0, 0, 0);
    for r in reports {
        failed_seeds += u64::from(!r.violations.is_empty() || !r.liveness_ok);
        for v in &r.violations {
            violations += 1;
            println!("VIOLATION seed {} tick {}: {}: {}", r.seed, v.tick, v.invariant, v.detail);
            println!("  replay: {}", replay(args, r.seed));
        }
        if r.violations.is_empty() && !r.liveness_ok {
            liveness += 1;
            println!("LIVENESS FAILURE seed {}: no commit on every node within {} ticks after faults stopped", r.seed, r.recovery_ticks);
            println!("  replay: {}", replay(args, r.seed));
        }
        elections += r.elections;
        linearizable_reads += r.reads.linearizable;
        sync_reads += r.reads.sync;
        transfers += r.transfers;
        reconfigs += r.reconfigs;
        committed += r.committed;
        messages += r.messages;
        worst_recovery = worst_recovery.max(if r.liveness_ok { r.recovery_ticks } else { 0 });
        let f = r.faults;
        faults.loss += f.loss;
        faults.duplicate += f.duplicate;
        faults.reorder += f.reorder;
        faults.partition += f.partition;
        faults.partial_connectivity += f.partial_connectivity;
        faults.crash += f.crash;
        faults.torn_write += f.torn_write;
        faults.clock_skew += f.clock_skew;
        faults.replay += f.replay;
        faults.forge += f.forge;
        faults.compact += f.compact;
        if args.one.is_some() {
            println!("seed {} log hash {:016x} committed {} elections {}", r.seed, r.log_hash, r.committed, r.elections);
        }
    }
    println!(
        "{{\"seeds\":{},\"ticks\":{},\"failed_seeds\":{},\"violations\":{},\"liveness_failures\":{},\"elections\":{},\"committed_total\":{},\"messages\":{},\"worst_recovery_ticks\":{},\"linearizable_reads\":{},\"sync_reads\":{},\"transfers\":{},\"reconfigs\":{},\"faults\":{{\"loss\":{},\"duplicate\":{},\"reorder\":{},\"partition\":{},\"partial_connectivity\":{},\"crash\":{},\"torn_write\":{},\"clock_skew\":{},\"replay\":{},\"forge\":{},\"compact\":{}}}}}",
        reports.len(), args.ticks, failed_seeds, violations, liveness, elections, committed, messages, worst_recovery, linearizable_reads, sync_reads, transfers, reconfigs,
        faults.loss, faults.duplicate, faults.reorder, faults.partition, faults.partial_connectivity, faults.crash, faults.torn_write, faults.clock_skew, faults.replay, faults.forge, faults.compact
    );
    if violations + liveness > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
