//! Scenario tests: readable text files under `tests/testdata/`, each a story of
//! commands and the cluster's expected answers (the format of etcd raft's
//! interaction tests, via the `datadriven` crate). `REWRITE=1 cargo test
//! --features sim --test scenarios` rewrites the expectations.
//!
//! Commands:
//! - `cluster voters=V [observers=O] [spares=P] [seed=S] [compact=N]` — a fault-free cluster
//!   (spares are nodes outside the membership, to be added)
//! - `run [ticks=N]` — advance; prints epochs established meanwhile
//! - `propose at=nX [count=N]` — client proposals at node X
//! - `crash nX`, `restart nX`, `isolate nX`, `cut from=nX to=nY`, `heal`
//! - `only nX-nY …` — every link closed but those named, both ways
//! - `transfer to=nX` — the leader hands leadership over to node X
//! - `change add-observer=nX | promote=nX | demote=nX | remove=nX` — a membership change at the leader
//! - `members` — each live node's voters, observers and pending membership
//! - `status` — role, epoch, last zxid, commit zxid and applied position per node
//! - `sent kind=K` — messages of kind K sent since the last `sent`, by receiver
//! - `replay kind=K from=nX to=nY [skip=M] [oldest=N]` — the network delivers again the messages
//!   of kind K sent from X to Y (past the M oldest, the N oldest, or all)
//! - `cluster … bugs=(a, b)` — with planted bugs (see `zaxos::Bugs`), to show what a defence stops
//! - `rounds` — each live node's election round
//! - `dump` — the trace so far (every message sent and received), while writing a scenario
//! - `check` — invariants, and whether every live member applied the same log
#![cfg(feature = "sim")]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use zaxos::sim::{FaultRates, Options, Simulation};
use zaxos::{Bugs, Event, MembershipChange, Role};

/// The planted bugs named (see `zaxos::Bugs`), or the first unknown name.
fn planted(names: &[String]) -> Result<Bugs, String> {
    let mut bugs = Bugs::NONE;
    for name in names {
        match name.as_str() {
            "learner_ignores_exchange" => bugs.learner_ignores_exchange = true,
            "leader_ignores_exchange" => bugs.leader_ignores_exchange = true,
            "commit_floor_ignored" => bugs.commit_floor_ignored = true,
            "round_ignores_unknown_candidate" => bugs.round_ignores_unknown_candidate = true,
            "leader_ignores_newer_history" => bugs.leader_ignores_newer_history = true,
            other => return Err(other.to_string()),
        }
    }
    Ok(bugs)
}

struct World {
    sim: Simulation,
    trace_seen: usize,
    trace: Vec<String>,
}

fn node_index(name: &str) -> usize {
    name.trim_start_matches('n').parse::<usize>().map_or(usize::MAX, |n| n - 1)
}

fn first_arg(tc: &datadriven::TestCase) -> usize {
    tc.args.keys().next().map_or(usize::MAX, |k| node_index(k))
}

impl World {
    fn new(voters: usize, observers: usize, spares: usize, seed: u64, compact: u64, bugs: Bugs) -> World {
        let mut rates = FaultRates::none();
        rates.propose = 0.0;
        let options = Options { seed, voters, observers, spares: Some(spares), faults: Some(rates), compact_every: compact, trace: true, bugs, ..Options::default() };
        let mut sim = Simulation::new(options);
        sim.set_faulty(false);
        World { sim, trace_seen: 0, trace: Vec::new() }
    }

    fn run(&mut self, ticks: u64) -> String {
        let mut out = String::new();
        for _ in 0..ticks {
            self.sim.step();
        }
        for (_, id, event) in self.sim.take_events() {
            if let Event::Leader { leader, epoch } = event {
                if leader == id {
                    let _ = writeln!(out, "n{leader} leads epoch {epoch}");
                }
            }
        }
        self.trace.extend(self.sim.take_trace());
        if out.is_empty() { String::from("no new epoch\n") } else { out }
    }

    fn status(&self) -> String {
        let mut out = String::new();
        for i in 0..self.sim.len() {
            match self.sim.node(i) {
                Some(n) => {
                    let role = match n.role() {
                        Role::Looking => "looking",
                        Role::Following => "following",
                        Role::Leading => "leading",
                        Role::Observing => "observing",
                    };
                    let _ = writeln!(out, "n{}: {role} epoch={} last={} commit={} applied={}", i + 1, n.epoch(), n.last_zxid(), n.commit_zxid(), n.applied_index());
                }
                None => {
                    let _ = writeln!(out, "n{}: down", i + 1);
                }
            }
        }
        out
    }

    fn sent(&mut self, kind: &str) -> String {
        let mut by_receiver: BTreeMap<String, usize> = BTreeMap::new();
        for line in &self.trace[self.trace_seen..] {
            let words: Vec<&str> = line.split_whitespace().collect();
            // "t=12 send n1 -> n2 KIND ..."
            if words.get(1) == Some(&"send") && words.get(5).is_some_and(|w| w.trim_end_matches(['{', ' ']) == kind) {
                *by_receiver.entry(words[4].to_string()).or_default() += 1;
            }
        }
        self.trace_seen = self.trace.len();
        if by_receiver.is_empty() {
            return format!("no {kind}\n");
        }
        let list: Vec<String> = by_receiver.iter().map(|(to, n)| format!("{to}×{n}")).collect();
        format!("{kind} to {}\n", list.join(" "))
    }

    fn members(&self) -> String {
        let mut out = String::new();
        for i in 0..self.sim.len() {
            let Some(n) = self.sim.node(i) else { continue };
            let c = n.config();
            let _ = write!(out, "n{}: voters={:?} observers={:?}", i + 1, c.voters.as_slice(), c.observers.as_slice());
            if let Some(p) = n.pending_membership() {
                let _ = write!(out, " pending voters={:?} observers={:?}", p.voters.as_slice(), p.observers.as_slice());
            }
            out.push('\n');
        }
        out
    }

    fn change(&mut self, tc: &mut datadriven::TestCase) -> String {
        let Some((key, value)) = tc.args.iter().next().map(|(k, v)| (k.clone(), v.first().cloned().unwrap_or_default())) else { return String::from("no change\n") };
        let id = node_index(&value) as u16 + 1;
        let change = match key.as_str() {
            "add-observer" => MembershipChange::AddObserver(id),
            "promote" => MembershipChange::PromoteToVoter(id),
            "demote" => MembershipChange::DemoteToObserver(id),
            "remove" => MembershipChange::Remove(id),
            other => return format!("unknown change {other}\n"),
        };
        tc.args.clear();
        match self.sim.change_membership(change) {
            None => String::from("no leader\n"),
            Some(Ok(zxid)) => format!("proposed at {zxid}\n"),
            Some(Err(e)) => format!("refused: {e:?}\n"),
        }
    }

    fn check(&self) -> String {
        let mut out = String::new();
        // Each broken invariant once (some are found again at every step).
        let mut seen = std::collections::BTreeSet::new();
        for v in self.sim.violations() {
            if seen.insert((v.invariant, v.detail.clone())) {
                let _ = writeln!(out, "VIOLATION {}: {}", v.invariant, v.detail);
            }
        }
        // Members as the leader knows them (every live node without a leader).
        let leader = (0..self.sim.len()).find_map(|i| self.sim.node(i).filter(|n| n.is_established_leader()));
        let member = |i: usize| leader.map_or(true, |l| l.config().is_member(i as u16 + 1));
        let logs: Vec<&[(u64, zaxos::Zxid)]> = (0..self.sim.len()).filter(|&i| self.sim.node(i).is_some() && member(i)).map(|i| self.sim.applied(i)).collect();
        let same = logs.windows(2).all(|w| w[0].last() == w[1].last());
        let _ = writeln!(out, "invariants hold: {}", self.sim.violations().is_empty());
        let _ = writeln!(out, "live members applied the same log: {same}");
        out
    }
}

#[test]
fn scenarios() {
    datadriven::walk("tests/testdata", |file| {
        let mut world: Option<World> = None;
        file.run(|tc| -> String {
            if tc.directive == "cluster" {
                let voters = tc.try_take_arg::<usize>("voters").ok().flatten().unwrap_or(3);
                let observers = tc.try_take_arg::<usize>("observers").ok().flatten().unwrap_or(0);
                let seed = tc.try_take_arg::<u64>("seed").ok().flatten().unwrap_or(1);
                let compact = tc.try_take_arg::<u64>("compact").ok().flatten().unwrap_or(0);
                let spares = tc.try_take_arg::<usize>("spares").ok().flatten().unwrap_or(0);
                let bugs = match planted(&tc.args.get("bugs").cloned().unwrap_or_default()) {
                    Ok(bugs) => bugs,
                    Err(unknown) => return format!("unknown bug {unknown}\n"),
                };
                world = Some(World::new(voters, observers, spares, seed, compact, bugs));
                return String::from("ok\n");
            }
            let Some(w) = world.as_mut() else { return String::from("no cluster\n") };
            match tc.directive.as_str() {
                "run" => w.run(tc.try_take_arg::<u64>("ticks").ok().flatten().unwrap_or(50)),
                "propose" => {
                    let at = tc.try_take_arg::<String>("at").ok().flatten().map_or(0, |s| node_index(&s));
                    let count = tc.try_take_arg::<u64>("count").ok().flatten().unwrap_or(1);
                    let taken = (0..count).filter(|_| {
                        let ok = w.sim.propose_at(at);
                        w.sim.step();
                        ok
                    }).count();
                    format!("{taken} of {count} taken at n{}\n", at + 1)
                }
                "crash" => {
                    let i = first_arg(tc);
                    w.sim.crash(i, u64::MAX / 4);
                    format!("n{} down\n", i + 1)
                }
                "restart" => {
                    let i = first_arg(tc);
                    w.sim.restart(i);
                    format!("n{} up\n", i + 1)
                }
                "isolate" => {
                    let i = first_arg(tc);
                    for j in 0..w.sim.len() {
                        if j != i {
                            w.sim.set_link(i, j, false);
                            w.sim.set_link(j, i, false);
                        }
                    }
                    format!("n{} isolated\n", i + 1)
                }
                "cut" => {
                    let from = tc.try_take_arg::<String>("from").ok().flatten().map_or(usize::MAX, |s| node_index(&s));
                    let to = tc.try_take_arg::<String>("to").ok().flatten().map_or(usize::MAX, |s| node_index(&s));
                    w.sim.set_link(from, to, false);
                    format!("n{} no longer reaches n{}\n", from + 1, to + 1)
                }
                "only" => {
                    // Every link closed but those named (`nX-nY`, both ways).
                    let mut pairs: Vec<(usize, usize)> = tc.args.keys().filter_map(|k| k.split_once('-')).map(|(a, b)| (node_index(a), node_index(b))).collect();
                    pairs.sort_unstable();
                    for i in 0..w.sim.len() {
                        for j in 0..w.sim.len() {
                            let open = pairs.iter().any(|&(a, b)| (a, b) == (i, j) || (b, a) == (i, j));
                            w.sim.set_link(i, j, open);
                        }
                    }
                    let named: Vec<String> = pairs.iter().map(|(a, b)| format!("n{}-n{}", a + 1, b + 1)).collect();
                    format!("only {} open\n", named.join(" "))
                }
                "transfer" => {
                    let to = tc.try_take_arg::<String>("to").ok().flatten().map_or(usize::MAX, |s| node_index(&s));
                    let asked = w.sim.transfer_to(to);
                    format!("{}\n", if asked { "handing over" } else { "refused" })
                }
                "heal" => {
                    w.sim.heal();
                    String::from("healed\n")
                }
                "status" => w.status(),
                "replay" => {
                    let kind = tc.try_take_arg::<String>("kind").ok().flatten().unwrap_or_default();
                    let from = tc.try_take_arg::<String>("from").ok().flatten().map_or(usize::MAX, |s| node_index(&s));
                    let to = tc.try_take_arg::<String>("to").ok().flatten().map_or(usize::MAX, |s| node_index(&s));
                    let skip = tc.try_take_arg::<usize>("skip").ok().flatten().unwrap_or(0);
                    let oldest = tc.try_take_arg::<usize>("oldest").ok().flatten().unwrap_or(0);
                    let n = w.sim.replay_matching(&kind, from, to, skip, oldest);
                    format!("{n} {kind} from n{} to n{} again\n", from.wrapping_add(1), to.wrapping_add(1))
                }
                "members" => w.members(),
                "change" => w.change(tc),
                "sent" => {
                    let kind = tc.try_take_arg::<String>("kind").ok().flatten().unwrap_or_default();
                    w.sent(&kind)
                }
                "check" => w.check(),
                "dump" => w.trace.join("\n") + "\n",
                "rounds" => (0..w.sim.len()).map(|i| w.sim.node(i).map_or(format!("n{}: down\n", i + 1), |n| format!("n{}: round {}\n", i + 1, n.round()))).collect(),
                other => format!("unknown command {other}\n"),
            }
        })
    });
}
