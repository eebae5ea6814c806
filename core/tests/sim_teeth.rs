//! The checker has teeth: each deliberately broken kernel is caught within a
//! bounded number of seeds. A checker that never fails proves nothing.
#![cfg(feature = "sim")]

use zaxos::sim::{Options, Simulation};
use zaxos::Bugs;

/// Runs seeds until one reports a violation; returns (seed, invariant).
fn first_violation(bugs: Bugs, seeds: u64, ticks: u64) -> Option<(u64, &'static str)> {
    (0..seeds).find_map(|seed| {
        let report = Simulation::new(Options { bugs, ..Options::for_seed(seed, ticks) }).run();
        report.violations.first().map(|v| (seed, v.invariant))
    })
}

#[test]
fn the_correct_kernel_passes_the_same_seeds() {
    assert_eq!(first_violation(Bugs::default(), 40, 3_000), None);
}

#[test]
fn a_quorum_of_one_is_caught() {
    let found = first_violation(Bugs { quorum_of_one: true, ..Bugs::default() }, 40, 3_000);
    assert!(found.is_some(), "a leader committing alone went unnoticed");
}

#[test]
fn acknowledging_before_durable_is_caught() {
    let found = first_violation(Bugs { ack_before_durable: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "ACK before durability went unnoticed");
}

#[test]
fn skipping_trunc_is_caught() {
    let found = first_violation(Bugs { skip_trunc: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "a learner keeping skipped proposals went unnoticed");
}

#[test]
fn an_election_ignoring_last_zxid_is_caught() {
    let found = first_violation(Bugs { election_ignores_zxid: true, ..Bugs::default() }, 200, 3_000);
    assert!(found.is_some(), "electing a leader without the newest history went unnoticed");
}
