//! A five-node cluster in the terminal: elections, epochs, commits and recoveries,
//! on the deterministic simulator (no faults but the ones narrated).

use zaxos::sim::{FaultRates, Options, Simulation};
use zaxos::{Event, Role};

fn leader(sim: &Simulation) -> Option<usize> {
    (0..sim.len()).find(|&i| sim.node(i).is_some_and(|n| n.is_established_leader()))
}

fn run(sim: &mut Simulation, ticks: u64, proposals: u64) {
    for t in 0..ticks {
        sim.step();
        if t < proposals {
            let at = (t as usize) % sim.len();
            sim.propose_at(at);
        }
        for (tick, id, event) in sim.take_events() {
            match event {
                Event::Role { role: Role::Looking } => println!("  t={tick:>5}  n{id} is looking for a leader"),
                Event::Role { role: Role::Leading } => println!("  t={tick:>5}  n{id} won the election and starts discovery"),
                Event::Leader { leader, epoch } if leader == id => println!("  t={tick:>5}  n{id} LEADS epoch {epoch} (a majority synced its history)"),
                Event::Leader { leader, epoch } => println!("  t={tick:>5}  n{id} follows n{leader} in epoch {epoch}"),
                _ => {}
            }
        }
    }
}

fn status(sim: &Simulation) {
    println!("  {:<4} {:<10} {:>5} {:>10} {:>10} {:>8}", "node", "role", "epoch", "last zxid", "committed", "applied");
    for i in 0..sim.len() {
        match sim.node(i) {
            Some(n) => println!("  n{:<3} {:<10} {:>5} {:>10} {:>10} {:>8}", i + 1, format!("{:?}", n.role()), n.epoch(), n.last_zxid().to_string(), n.commit_zxid().to_string(), sim.applied(i).len()),
            None => println!("  n{:<3} {:<10}", i + 1, "crashed"),
        }
    }
}

fn main() {
    let mut rates = FaultRates::none();
    rates.propose = 0.0;
    let mut sim = Simulation::new(Options { seed: 2026, voters: 5, observers: 0, faults: Some(rates), ..Options::default() });
    sim.set_faulty(false);

    println!("Five nodes start, all looking. Fast leader election picks the node with the newest history (ties: highest id).");
    run(&mut sim, 60, 0);
    println!("\nClients propose 40 entries at random nodes; followers forward them to the leader.");
    run(&mut sim, 60, 40);
    status(&sim);

    let Some(old) = leader(&sim) else { return println!("no leader: this should not happen") };
    println!("\nThe leader n{} crashes. The others notice its silence, elect again, and a new epoch begins.", old + 1);
    sim.set_faulty(true);
    sim.crash(old, 1_000_000);
    run(&mut sim, 120, 0);
    println!("\nMore entries in the new epoch:");
    run(&mut sim, 60, 30);
    status(&sim);

    println!("\nn{} restarts from its disk, syncs (DIFF/TRUNC) with the new leader and catches up.", old + 1);
    sim.restart(old);
    run(&mut sim, 80, 10);
    status(&sim);

    let Some(now) = leader(&sim) else { return };
    let cut: Vec<usize> = (0..sim.len()).filter(|&i| i != now).take(2).collect();
    println!("\nA partition cuts n{} and n{} off; the majority side keeps committing.", cut[0] + 1, cut[1] + 1);
    for &a in &cut {
        for b in 0..sim.len() {
            if a != b {
                sim.set_link(a, b, false);
                sim.set_link(b, a, false);
            }
        }
    }
    run(&mut sim, 60, 20);
    println!("\nThe partition heals: the cut-off nodes rejoin the leader without disturbing it.");
    sim.heal();
    run(&mut sim, 80, 0);
    status(&sim);
    let v = sim.violations();
    println!("\nInvariants checked after every step: {}.", if v.is_empty() { String::from("all held") } else { format!("{} violated: {:?}", v.len(), v[0]) });
}
