//! `zaxos-model`: searches every interleaving of a small cluster of real nodes within bounds,
//! prints the states explored and every violation with its trace; the last line is JSON.
//!
//! ```text
//! zaxos-model [--scenario fresh|established] [--depth N] [--states-max N] [--ticks N]
//!             [--crashes N] [--redeliveries N] [--proposals N] [--commits N] [--async]
//!             [--seed N] [--bug quorum-of-one|ack-before-durable|skip-trunc|election-ignores-zxid]
//!             [--isolate ID] [--all]
//! ```
//! `fresh`: three voters from empty storage. `established`: n1 and n3 first elect a leader and
//! commit `--commits` proposals with n2 cut off (every message of that run stays in the network,
//! for late delivery); the search starts there. `--isolate ID` cuts node ID off during the search.
//! `--all` keeps searching after a violation.

use std::process::ExitCode;

use zaxos::Bugs;
use zaxos_model::{explore_with_progress, Budget, Options, Setup};

fn usage() -> ExitCode {
    eprintln!("usage: zaxos-model [--scenario fresh|established] [--depth N] [--states-max N] [--ticks N] [--crashes N] [--redeliveries N] [--proposals N] [--commits N] [--async] [--seed N] [--bug NAME] [--isolate ID] [--all]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut options = Options::default();
    let mut scenario = "established".to_string();
    let mut commits = 1;
    let mut budget: Option<Budget> = None;
    let mut set_budget = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        let number = |v: String| v.parse::<u64>().ok();
        match arg.as_str() {
            "--scenario" => scenario = value(),
            "--async" => options.async_durability = true,
            "--all" => options.stop_at_first = false,
            "--isolate" => match value().parse::<usize>() {
                Ok(id) if id >= 1 => options.isolated.push(id - 1),
                _ => return usage(),
            },
            "--bug" => match value().as_str() {
                "quorum-of-one" => options.bugs = Bugs { quorum_of_one: true, ..Bugs::default() },
                "ack-before-durable" => options.bugs = Bugs { ack_before_durable: true, ..Bugs::default() },
                "skip-trunc" => options.bugs = Bugs { skip_trunc: true, ..Bugs::default() },
                "election-ignores-zxid" => options.bugs = Bugs { election_ignores_zxid: true, ..Bugs::default() },
                _ => return usage(),
            },
            "--depth" | "--states-max" | "--ticks" | "--crashes" | "--redeliveries" | "--proposals" | "--commits" | "--seed" => {
                let Some(n) = number(value()) else { return usage() };
                match arg.as_str() {
                    "--depth" => options.depth = n as usize,
                    "--states-max" => options.states_max = n as usize,
                    "--commits" => commits = n as u32,
                    "--seed" => options.seed = n,
                    other => set_budget.push((other.to_string(), n as u32)),
                }
            }
            _ => return usage(),
        }
    }
    options.setup = match scenario.as_str() {
        "fresh" => {
            budget = Some(Budget { ticks: 6, crashes: 1, redeliveries: 1, proposals: 1 });
            Setup::Fresh
        }
        "established" => Setup::Established { members: vec![0, 2], commits },
        _ => return usage(),
    };
    let mut budget = budget.unwrap_or(options.budget);
    for (name, n) in set_budget {
        match name.as_str() {
            "--ticks" => budget.ticks = n,
            "--crashes" => budget.crashes = n,
            "--redeliveries" => budget.redeliveries = n,
            _ => budget.proposals = n,
        }
    }
    options.budget = budget;
    println!("model: scenario {scenario}, {} voters, depth {}, budget {:?}, async durability {}, bugs {:?}", options.voters, options.depth, options.budget, options.async_durability, options.bugs);
    let report = explore_with_progress(&options, |r| {
        eprintln!("depth {:>3}: {} states, {} transitions, {} violations", r.depth, r.states, r.transitions, r.violations.len());
    });
    for found in &report.violations {
        println!("VIOLATION {}: {} (after {} actions past the setup)", found.violation.invariant, found.violation.detail, found.path.len());
        for line in &found.trace {
            println!("  {line}");
        }
    }
    println!("model: {} states explored, {} transitions, {} violations{}", report.states, report.transitions, report.violations.len(), if report.truncated { " (stopped at --states-max)" } else { "" });
    println!("{}", report.json());
    if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
