//! Seeds that `make soak` found failing, replayed exactly as `zaxos-sim --seed S --ticks T`
//! runs them. (They belong with core/tests/sim_regressions.rs; they live here because this
//! branch does not touch core/.)

use zaxos::sim::{Options, Simulation};

fn replay(seed: u64, ticks: u64) -> zaxos::sim::Report {
    let report = Simulation::new(Options::for_seed(seed, ticks)).run();
    assert!(report.violations.is_empty(), "seed {seed}: {:?}", report.violations);
    assert!(report.liveness_ok, "seed {seed}: no commit on every node after faults stopped (replay: zaxos-sim --seed {seed} --ticks {ticks} --trace)");
    report
}

/// Found by `make soak SEEDS=1000 SOAK_START=100000`: 8 members with membership changes. After
/// the membership committed at 15:139 (t=4152) leader n5 goes looking (t=4173) and no leader is
/// elected again, through the fault-free phase to the end (t=20,400): the looking nodes stay at
/// rounds 38 to 93, voting for n2 (15:139), n5 (15:145), n7 (11:53), n1 (7:61), n3 (7:215).
#[test]
fn seed_100584_elects_a_leader_after_a_membership_change() {
    replay(100_584, 20_000);
}
