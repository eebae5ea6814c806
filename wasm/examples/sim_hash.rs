//! The native side of the cross-target determinism check: runs the simulator
//! for each case given as `seed:ticks:voters:observers:compact_every` and prints
//! one JSON object per line with the committed-log hash and the run's counts.
//! `wasm/tests/simulation.test.mjs` runs the same cases through the wasm
//! `Simulation` class and requires identical lines.
//!
//!     cargo run -q -p zaxos-wasm --example sim-hash -- 3:3000:0:0:0 7:2000:5:1:40

use std::process::ExitCode;

use zaxos::sim::{Options, Simulation};

fn parse(case: &str) -> Option<Options> {
    let parts: Vec<u64> = case.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [seed, ticks, voters, observers, compact_every] = parts[..] else { return None };
    Some(Options { seed, ticks, voters: voters as usize, observers: observers as usize, compact_every, ..Options::default() })
}

fn main() -> ExitCode {
    for case in std::env::args().skip(1) {
        let Some(options) = parse(&case) else {
            eprintln!("bad case '{case}': want seed:ticks:voters:observers:compact_every");
            return ExitCode::FAILURE;
        };
        let r = Simulation::new(options).run();
        println!(
            "{{\"case\":\"{case}\",\"logHash\":\"{:016x}\",\"ticks\":{},\"committed\":{},\"elections\":{},\"messages\":{},\"violations\":{},\"livenessOk\":{}}}",
            r.log_hash,
            r.ticks,
            r.committed,
            r.elections,
            r.messages,
            r.violations.len(),
            r.liveness_ok
        );
    }
    ExitCode::SUCCESS
}
