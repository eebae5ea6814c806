//! Membership change through the simulator's cluster (faults off): typed refusals that
//! change nothing, the catch-up rule, the events and applied entries a host sees, and
//! a membership that survives restarts.
#![cfg(feature = "sim")]

use zaxos::sim::{FaultRates, Options, Simulation};
use zaxos::{Event, MembershipChange, MembershipError, TransferError};

fn cluster(voters: usize, spares: usize, seed: u64) -> Simulation {
    let mut rates = FaultRates::none();
    rates.propose = 0.0;
    let mut sim = Simulation::new(Options { seed, voters, spares: Some(spares), faults: Some(rates), ..Options::default() });
    sim.set_faulty(false);
    run(&mut sim, 60);
    sim
}

fn run(sim: &mut Simulation, ticks: u64) {
    for _ in 0..ticks {
        sim.step();
    }
}

fn leader(sim: &Simulation) -> usize {
    (0..sim.len()).find(|&i| sim.node(i).is_some_and(|n| n.is_established_leader())).expect("a leader")
}

/// What every node holds: (voters, observers, pending?, last zxid).
fn views(sim: &Simulation) -> Vec<(Vec<u16>, Vec<u16>, bool, zaxos::Zxid)> {
    (0..sim.len()).filter_map(|i| sim.node(i)).map(|n| (n.config().voters.to_vec(), n.config().observers.to_vec(), n.pending_membership().is_some(), n.last_zxid())).collect()
}

#[test]
fn bad_requests_get_typed_errors_and_change_nothing() {
    let mut sim = cluster(3, 1, 4);
    let before = views(&sim);
    let refused = [
        (MembershipChange::AddObserver(1), MembershipError::AlreadyMember(1)),
        (MembershipChange::Remove(9), MembershipError::NotAMember(9)),
        (MembershipChange::PromoteToVoter(9), MembershipError::NotAMember(9)),
        (MembershipChange::PromoteToVoter(2), MembershipError::NoChange(2)),
        (MembershipChange::AddObserver(0), MembershipError::ReservedId),
    ];
    for (change, error) in refused {
        assert_eq!(sim.change_membership(change), Some(Err(error)), "{change:?}");
    }
    assert_eq!(sim.transfer_leadership(9), Some(Err(TransferError::NotAVoter(9))), "a transfer to an unknown node");
    assert_eq!(views(&sim), before, "nothing changed");

    // One change in flight: a second change, and a transfer, wait for it.
    assert!(matches!(sim.change_membership(MembershipChange::AddObserver(4)), Some(Ok(_))));
    assert_eq!(sim.change_membership(MembershipChange::Remove(1)), Some(Err(MembershipError::InProgress)));
    assert_eq!(sim.transfer_leadership(1), Some(Err(TransferError::InProgress)));
    run(&mut sim, 20);
    assert!(views(&sim).iter().all(|(_, observers, pending, _)| observers == &[4] && !pending), "{:?}", views(&sim));
    assert!(sim.violations().is_empty());
}

#[test]
fn the_last_voter_cannot_leave() {
    let mut sim = cluster(1, 0, 2);
    assert_eq!(sim.change_membership(MembershipChange::Remove(1)), Some(Err(MembershipError::LastVoter)));
    assert_eq!(sim.change_membership(MembershipChange::DemoteToObserver(1)), Some(Err(MembershipError::LastVoter)));
    assert!(sim.node(0).is_some_and(|n| n.is_established_leader() && n.pending_membership().is_none()));
}

#[test]
fn an_observer_that_has_not_caught_up_is_not_promoted() {
    let mut sim = cluster(3, 1, 6);
    // n4 joins while it cannot hear anyone: the change commits (an observer never counts)...
    for j in 0..3 {
        sim.set_link(j, 3, false);
    }
    assert!(matches!(sim.change_membership(MembershipChange::AddObserver(4)), Some(Ok(_))));
    run(&mut sim, 20);
    let l = leader(&sim);
    assert!(sim.node(l).is_some_and(|n| n.config().observers.contains(&4)));
    // ...but it holds nothing, so it may not count in a quorum yet.
    assert_eq!(sim.change_membership(MembershipChange::PromoteToVoter(4)), Some(Err(MembershipError::NotCaughtUp(4))));
    sim.heal();
    run(&mut sim, 40);
    assert!(matches!(sim.change_membership(MembershipChange::PromoteToVoter(4)), Some(Ok(_))));
    run(&mut sim, 20);
    assert!(views(&sim).iter().all(|(voters, _, _, _)| voters == &[1, 2, 3, 4]), "{:?}", views(&sim));
    assert!(sim.violations().is_empty());
}

#[test]
fn a_committed_change_is_an_applied_entry_and_an_event_everywhere() {
    let mut sim = cluster(3, 1, 8);
    sim.take_events();
    let zxid = sim.change_membership(MembershipChange::AddObserver(4)).and_then(Result::ok).expect("proposed");
    run(&mut sim, 20);
    let events = sim.take_events();
    for id in 1..=4u16 {
        assert!(events.iter().any(|(_, at, e)| *at == id && *e == Event::Membership { zxid }), "n{id}: {events:?}");
    }
    // Every node applied the entry at the same position (the checker compares them).
    let position = sim.applied(0).iter().find(|(_, z)| *z == zxid).map(|(i, _)| *i).expect("applied");
    for i in 1..4 {
        assert!(sim.applied(i).contains(&(position, zxid)), "n{}", i + 1);
    }
    assert!(sim.violations().is_empty());
}

#[test]
fn a_membership_survives_restarts_of_every_node() {
    let mut sim = cluster(3, 1, 12);
    assert!(matches!(sim.change_membership(MembershipChange::AddObserver(4)), Some(Ok(_))));
    run(&mut sim, 20);
    assert!(matches!(sim.change_membership(MembershipChange::PromoteToVoter(4)), Some(Ok(_))));
    run(&mut sim, 20);
    assert!(matches!(sim.change_membership(MembershipChange::Remove(1)), Some(Ok(_))));
    run(&mut sim, 40);
    for i in 0..4 {
        sim.crash(i, 1_000_000);
    }
    for i in 0..4 {
        sim.restart(i);
    }
    run(&mut sim, 100);
    let l = leader(&sim);
    assert_ne!(l, 0, "n1 was removed");
    assert_eq!(sim.node(l).map(|n| n.config().voters.to_vec()), Some(vec![2, 3, 4]));
    // n1 knows it was removed (a member's answer told it) and takes no part.
    assert!(sim.node(0).is_some_and(|n| !n.config().is_member(1) && n.pending_membership().is_none() && !n.is_established_leader()));
    assert!(sim.violations().is_empty());
}
